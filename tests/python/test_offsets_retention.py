"""Committed offsets expire (Kafka's offsets.retention.minutes) against the real binary: a
consumer group's a minute after its last member left, a standalone consumer's a minute after its
commit; both groups then leave ListGroups, and a restart agrees. One minute is the shortest
retention Kafka (and the broker) accepts, so the test waits it out once, bounded."""

import time

import pytest

from conftest import Broker, require

kafka = require("kafka")
ck = require("confluent_kafka")
from kafka import KafkaAdminClient  # noqa: E402
from test_groups import TIMEOUT_MS, kp_consumer, kp_produce, kp_take  # noqa: E402

RETENTION_S = 60
# Looked for every second: an expired offset goes within about a second of its time.
CHECK_INTERVAL_MS = 1000


def listed_groups(admin):
    return {g["group_id"] for g in admin.list_groups()}


def committed_offsets(admin, group):
    offsets = admin.list_group_offsets({group: None})[group]
    return {(tp.topic, tp.partition): om.offset for tp, om in offsets.items()}


@pytest.mark.blazemq_only("starts its own broker with a one-minute offsets retention")
@pytest.mark.long_wait
@pytest.mark.timeout(RETENTION_S + 90)
def test_offsets_of_an_empty_group_and_a_standalone_consumer_expire_and_stay_expired(tmp_path, topic_name):
    broker = Broker(tmp_path, args=[
        "--offsets-retention-minutes", "1",
        "--offsets-retention-check-interval-ms", str(CHECK_INTERVAL_MS),
    ]).start()
    admin = None
    try:
        kp_produce(broker.bootstrap, topic_name, [b"a", b"b", b"c"])
        started = time.monotonic()
        # A group whose member commits and leaves: Empty from the close on.
        consumer = kp_consumer(broker.bootstrap, topic_name, "members")
        assert kp_take(consumer, 3) == [b"a", b"b", b"c"]
        consumer.commit()
        consumer.close()
        # A consumer that never joins and only commits.
        solo = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "solo"})
        solo.commit(offsets=[ck.TopicPartition(topic_name, 0, 2)], asynchronous=False)
        solo.close()

        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=TIMEOUT_MS)
        assert {"members", "solo"} <= listed_groups(admin)
        assert committed_offsets(admin, "members") == {(topic_name, 0): 3}
        assert committed_offsets(admin, "solo") == {(topic_name, 0): 2}

        deadline = started + RETENTION_S + 30
        while listed_groups(admin) & {"members", "solo"}:
            assert time.monotonic() < deadline, f"not expired: {listed_groups(admin)}"
            time.sleep(1.0)
        waited = time.monotonic() - started
        # Both were committed (and the group emptied) after `started`: not before the retention.
        assert waited >= RETENTION_S - 1, f"expired after {waited:.1f} s"
        assert committed_offsets(admin, "members") == {}
        assert committed_offsets(admin, "solo") == {}
        admin.close()
        admin = None

        # The tombstones are in the offsets log: a restart brings nothing back.
        assert broker.stop() == 0
        broker.restart()
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=TIMEOUT_MS)
        assert not listed_groups(admin) & {"members", "solo"}
        assert committed_offsets(admin, "members") == {}
        consumer = kp_consumer(broker.bootstrap, topic_name, "members")
        assert kp_take(consumer, 3) == [b"a", b"b", b"c"], "the group starts over from earliest"
        consumer.close()
    finally:
        if admin is not None:
            admin.close()
        broker._reap()
