"""Log compaction against the real binary, with confluent-kafka: N keys x M versions and
tombstones on a `cleanup.policy=compact` topic are read back compacted (the newest value of each
key at its original offset, older versions gone, offsets never renumbered), and the result
survives a kill -9 and a restart."""

import time

import pytest

from conftest import Broker, require

ck = require("confluent_kafka")
from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from test_confluent_kafka import TIMEOUT_S, admin_for, create, producer_for  # noqa: E402

KEYS = 50
VERSIONS = 20


def read_all(broker, topic, end):
    """{offset: (key, value)} of every record from the start up to `end` (exclusive)."""
    consumer = Consumer({
        "bootstrap.servers": broker.bootstrap,
        "group.id": "compaction-reader",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
    })
    consumer.assign([TopicPartition(topic, 0, ck.OFFSET_BEGINNING)])
    records = {}
    deadline = time.monotonic() + 2 * TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error() is not None:
                if message.error().code() == ck.KafkaError._PARTITION_EOF:
                    break
                raise AssertionError(message.error())
            records[message.offset()] = (message.key(), message.value())
    finally:
        consumer.close()
    return records


def produce_versions(broker, topic):
    """KEYS x VERSIONS values, then a tombstone for every tenth key; {offset: (key, value)}."""
    producer = producer_for(broker, **{"linger.ms": 5, "batch.size": 8192})
    written = {}

    def remember(err, msg):
        assert err is None, err
        written[msg.offset()] = (msg.key(), msg.value())

    for version in range(VERSIONS):
        for k in range(KEYS):
            producer.produce(topic, key=b"k%03d" % k, value=b"v%03d-%03d" % (k, version),
                             on_delivery=remember)
        producer.flush(TIMEOUT_S)
    for k in range(0, KEYS, 10):
        producer.produce(topic, key=b"k%03d" % k, value=None, on_delivery=remember)
    # Filler on other keys so the tombstones and newest values are in sealed segments.
    for i in range(800):
        producer.produce(topic, key=b"filler%d" % (i % 5), value=b"x" * 100, on_delivery=remember)
    assert producer.flush(TIMEOUT_S) == 0
    return written


def newest(records):
    """{key: (offset, value)} of the newest record of each key."""
    out = {}
    for offset in sorted(records):
        key, value = records[offset]
        out[key] = (offset, value)
    return out


def wait_compacted(broker, topic, end, written):
    """The records once the cleaner has removed most old versions."""
    deadline = time.monotonic() + 4 * TIMEOUT_S
    while True:
        records = read_all(broker, topic, end)
        if len(records) < len(written) // 4 or time.monotonic() > deadline:
            return records
        time.sleep(0.3)


@pytest.mark.blazemq_only("starts its own broker with a small --segment-size and a short cleaner backoff")
def test_a_compacted_topic_keeps_the_newest_value_of_each_key_across_kill_9(tmp_path, topic_name):
    broker = Broker(tmp_path, args=["--segment-size", "32768",
                                    "--log-cleaner-backoff-ms", "100"]).start()
    try:
        create(admin_for(broker), topic_name, 1, {"cleanup.policy": "compact"})
        written = produce_versions(broker, topic_name)
        end = max(written) + 1
        records = wait_compacted(broker, topic_name, end, written)
        assert len(records) < len(written) // 4, f"{len(records)} of {len(written)} left"
        # Every record left is one written, at the offset it was written at.
        assert all(written[offset] == kv for offset, kv in records.items())
        # Each key's newest record is there; a tombstone (value None) is kept for
        # delete.retention.ms (a day by default).
        assert newest(records) == newest(written)
        assert sum(1 for _, v in records.values() if v is None) == KEYS // 10
        broker.kill9()
        broker.restart()
        after = read_all(broker, topic_name, end)
        assert newest(after) == newest(written)
        assert all(written[offset] == kv for offset, kv in after.items())
        assert len(after) == len(records), "kill -9 neither brings back nor loses records"
    finally:
        broker._reap()
