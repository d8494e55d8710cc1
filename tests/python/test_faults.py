"""Fault injection (README: Fault injection) against the real binary, with confluent-kafka: what
librdkafka does when the broker misbehaves on purpose.

- NOT_LEADER_OR_FOLLOWER is retriable: librdkafka refreshes the leader and sends the batch again,
  so an idempotent producer's records arrive once each, in order.
- COORDINATOR_NOT_AVAILABLE on JoinGroup makes the consumer look for its coordinator again and
  rejoin: the join is late, then the consumer reads.
- A delayed Produce answer shows in the delivery report's latency.

Each injected fault is a `fault injected` line of the broker's log (info, with the rule's text),
counted here so a test knows the fault happened and was not just absent.
"""

import json
import re
import time
import urllib.error
import urllib.request

import pytest

from conftest import Broker, require

ck = require("confluent_kafka")
from confluent_kafka import Consumer  # noqa: E402
from test_confluent_kafka import TIMEOUT_S, admin_for, create, producer_for  # noqa: E402

pytestmark = pytest.mark.blazemq_only("fault rules are BlazeMQ's own")


def start(tmp_path, *args):
    return Broker(tmp_path, args=["--log-level", "debug", *args]).start()


def injected(broker, rule_text):
    """How many requests the rule with this text has failed, delayed or closed so far."""
    return sum(1 for line in list(broker.output)
               if "fault injected" in line and rule_text in line)


def wait_for(condition, what, timeout_s=TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_an_idempotent_producer_rides_out_not_leader_errors(tmp_path, topic_name):
    rule = "api=Produce,error=NOT_LEADER_OR_FOLLOWER,count=3"
    broker = start(tmp_path, "--faults", rule)
    try:
        create(admin_for(broker), topic_name, 1)
        errors = []
        producer = producer_for(broker, **{"enable.idempotence": True, "linger.ms": 5,
                                           "retry.backoff.ms": 20})

        def delivered(err, _msg):
            if err is not None:
                errors.append(err)

        for i in range(200):
            producer.produce(topic_name, str(i).encode(), partition=0, on_delivery=delivered)
            producer.poll(0)
        assert producer.flush(TIMEOUT_S) == 0
        assert errors == []
        wait_for(lambda: injected(broker, rule) == 3, "three Produce requests failed")
        values = consume(broker, topic_name, 200, group="check")
        assert values == [str(i).encode() for i in range(200)], "once each, in order"
    finally:
        broker._reap()


def consume(broker, topic, count, group, **config):
    """`count` values of `topic` read by a member of `group` from the earliest offset."""
    consumer = Consumer({
        "bootstrap.servers": broker.bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        **config,
    })
    consumer.subscribe([topic])
    values = []
    deadline = time.monotonic() + 3 * TIMEOUT_S
    try:
        while len(values) < count and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None:
                continue
            assert message.error() is None, message.error()
            values.append(message.value())
    finally:
        consumer.close()
    return values


def test_a_consumer_joins_after_coordinator_not_available(tmp_path, topic_name):
    rule = "api=JoinGroup,error=COORDINATOR_NOT_AVAILABLE,count=4"
    broker = start(tmp_path, "--faults", rule)
    try:
        create(admin_for(broker), topic_name, 1)
        producer = producer_for(broker)
        for i in range(10):
            producer.produce(topic_name, str(i).encode())
        assert producer.flush(TIMEOUT_S) == 0
        values = consume(broker, topic_name, 10, group="late-joiner")
        assert values == [str(i).encode() for i in range(10)]
        assert injected(broker, rule) == 4, "the joins failed before the one that succeeded"
    finally:
        broker._reap()


def test_delayed_produce_answers_show_in_the_delivery_latency(tmp_path, topic_name):
    delay_s = 0.4
    rule = f"api=Produce,delay_ms={int(delay_s * 1000)}"
    broker = start(tmp_path, "--faults", rule)
    try:
        create(admin_for(broker), topic_name, 1)
        latencies = []
        producer = producer_for(broker, **{"linger.ms": 0})
        for i in range(3):
            producer.produce(topic_name, str(i).encode(),
                             on_delivery=lambda err, msg: latencies.append((err, msg.latency())))
            assert producer.flush(TIMEOUT_S) == 0
        assert [err for err, _ in latencies] == [None] * 3
        for _, latency in latencies:
            assert delay_s <= latency < delay_s + 5, latencies
        assert injected(broker, rule) == 3
    finally:
        broker._reap()


def listener_port(broker):
    """The port of the HTTP listener, from the `metrics listener` line the broker logs."""
    def found():
        for line in list(broker.output):
            if "metrics listener" in line:
                m = re.search(r"address=\"?127\.0\.0\.1:(\d+)", line)
                if m:
                    return int(m.group(1))
        return None
    wait_for(lambda: found() is not None, "the broker logs its metrics listener")
    return found()


def http(port, method, path, body=None):
    """(status, decoded JSON) of one request to the listener."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=None if body is None else body.encode())
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_a_rule_added_and_removed_over_http_holds_a_producer_back_meanwhile(tmp_path, topic_name):
    broker = start(tmp_path, "--metrics-listener", "127.0.0.1:0")
    try:
        port = listener_port(broker)
        create(admin_for(broker), topic_name, 1)
        status, body = http(port, "POST", "/faults", "api=Produce,error=NOPE")
        assert status == 400 and "NOPE" in body["error"], body
        rule = f"api=Produce,error=NOT_LEADER_OR_FOLLOWER,topic={topic_name}"
        status, body = http(port, "POST", "/faults", rule)
        assert status in (200, 201), body
        fault = body["id"]
        assert http(port, "GET", "/faults") == (200, [{"id": fault, "rule": rule,
                                                        "remaining": None}])
        delivered = []
        producer = producer_for(broker, **{"enable.idempotence": True, "linger.ms": 0,
                                           "retry.backoff.ms": 50})
        producer.produce(topic_name, b"held", on_delivery=lambda err, _m: delivered.append(err))
        # Retried while the rule holds: no delivery, failures in the log.
        wait_for(lambda: injected(broker, rule) >= 2, "the producer's requests fail")
        producer.poll(0.5)
        assert delivered == []
        assert http(port, "DELETE", f"/faults/{fault}") == (200, {"removed": 1})
        assert producer.flush(TIMEOUT_S) == 0
        assert delivered == [None]
        assert http(port, "DELETE", f"/faults/{fault}")[0] == 404
        assert http(port, "GET", "/faults") == (200, [])
        assert consume(broker, topic_name, 1, group="after-http") == [b"held"]
    finally:
        broker._reap()
