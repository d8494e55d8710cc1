"""Consumer groups with real clients: kafka-python, confluent-kafka (librdkafka) and aiokafka.

Each test starts its own broker (the `broker` fixture). Groups use short heartbeat intervals so a
rebalance is noticed in well under a second, and every wait is bounded.
"""

import asyncio
import time

import pytest

from conftest import require

kafka = require("kafka")
ck = require("confluent_kafka")
aiokafka = require("aiokafka")
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from kafka.admin import NewTopic  # noqa: E402
from confluent_kafka import Consumer, KafkaError, Producer  # noqa: E402
from confluent_kafka import ConsumerGroupTopicPartitions  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402

TIMEOUT_S = 15.0
TIMEOUT_MS = int(TIMEOUT_S * 1000)
# Kafka's default group.min.session.timeout.ms is 6 s: clients may not ask for less.
SESSION_MS = 6000
HEARTBEAT_MS = 300


# --- kafka-python -------------------------------------------------------------------------------

def kp_produce(bootstrap, topic, values, partition=None):
    producer = KafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=TIMEOUT_MS,
                             max_block_ms=TIMEOUT_MS)
    try:
        for v in values:
            producer.send(topic, v, partition=partition).get(timeout=TIMEOUT_S)
    finally:
        producer.close()


def kp_consumer(bootstrap, topic, group):
    return KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                         auto_offset_reset="earliest", enable_auto_commit=False,
                         session_timeout_ms=SESSION_MS, heartbeat_interval_ms=HEARTBEAT_MS,
                         request_timeout_ms=TIMEOUT_MS + 1000, consumer_timeout_ms=TIMEOUT_MS)


def kp_take(consumer, count):
    """Exactly `count` records, then proof that no more are waiting."""
    values = []
    for message in consumer:
        values.append(message.value)
        if len(values) == count:
            break
    extra = consumer.poll(timeout_ms=500)
    values += [m.value for batch in extra.values() for m in batch]
    return values


def test_kafka_python_group_resumes_after_commit(broker, topic_name):
    kp_produce(broker.bootstrap, topic_name, [b"a", b"b", b"c"])
    consumer = kp_consumer(broker.bootstrap, topic_name, "my-group")
    assert kp_take(consumer, 3) == [b"a", b"b", b"c"]
    consumer.commit()
    tp = TopicPartition(topic_name, 0)
    assert consumer.committed(tp) == 3
    consumer.close()

    kp_produce(broker.bootstrap, topic_name, [b"d", b"e"])
    consumer = kp_consumer(broker.bootstrap, topic_name, "my-group")
    assert kp_take(consumer, 2) == [b"d", b"e"], "only the records after the commit"
    consumer.commit()
    consumer.close()


@pytest.mark.blazemq_only("stops, kills and restarts the broker")
def test_kafka_python_commits_survive_restart_and_kill9(broker, topic_name):
    tp = TopicPartition(topic_name, 0)
    kp_produce(broker.bootstrap, topic_name, [b"1", b"2", b"3", b"4"])
    consumer = kp_consumer(broker.bootstrap, topic_name, "durable")
    assert kp_take(consumer, 4) == [b"1", b"2", b"3", b"4"]
    consumer.commit()
    consumer.close()

    assert broker.stop() == 0
    broker.restart()
    kp_produce(broker.bootstrap, topic_name, [b"5"])
    consumer = kp_consumer(broker.bootstrap, topic_name, "durable")
    assert kp_take(consumer, 1) == [b"5"], "the commit survived a clean restart"
    # commit() returns once the broker acknowledged the OffsetCommit.
    consumer.commit()
    assert consumer.committed(tp) == 5
    consumer.close()

    broker.kill9()
    broker.restart()
    kp_produce(broker.bootstrap, topic_name, [b"6"])
    consumer = kp_consumer(broker.bootstrap, topic_name, "durable")
    assert consumer.committed(tp) == 5, "an acknowledged commit survives kill -9"
    assert kp_take(consumer, 1) == [b"6"]
    consumer.close()


def test_kafka_python_admin_lists_describes_and_deletes_groups(broker, topic_name):
    kp_produce(broker.bootstrap, topic_name, [b"x", b"y"])
    consumer = kp_consumer(broker.bootstrap, topic_name, "admin-seen")
    assert kp_take(consumer, 2) == [b"x", b"y"]
    consumer.commit()

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=TIMEOUT_MS)
    try:
        groups = {g["group_id"]: g for g in admin.list_groups()}
        assert groups["admin-seen"]["protocol_type"] == "consumer"
        assert groups["admin-seen"]["group_state"] == "Stable"

        described = admin.describe_groups(["admin-seen"])["admin-seen"]
        assert described["error"] is None
        assert described["group_state"] == "Stable"
        assert described["protocol_type"] == "consumer"
        assert described["protocol_data"] in ("range", "roundrobin", "sticky")
        assert len(described["members"]) == 1

        offsets = admin.list_group_offsets({"admin-seen": None})["admin-seen"]
        assert {tp: om.offset for tp, om in offsets.items()} == {TopicPartition(topic_name, 0): 2}

        consumer.close()
        groups = {g["group_id"]: g for g in admin.list_groups()}
        assert groups["admin-seen"]["group_state"] == "Empty"
        assert admin.delete_groups(["admin-seen"]) == {"admin-seen": "OK"}
        assert "admin-seen" not in {g["group_id"] for g in admin.list_groups()}
    finally:
        consumer.close()
        admin.close()


# --- confluent-kafka ----------------------------------------------------------------------------

def ck_admin(broker):
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def ck_topic(broker, name, partitions):
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=TIMEOUT_MS)
    try:
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def ck_consumer(broker, group, topic, **config):
    base = {
        "bootstrap.servers": broker.bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": SESSION_MS,
        "heartbeat.interval.ms": HEARTBEAT_MS,
        "enable.partition.eof": False,
    }
    base.update(config)
    consumer = Consumer(base)
    consumer.subscribe([topic])
    return consumer


def assigned(consumer):
    return {tp.partition for tp in consumer.assignment()}


def poll_until(consumers, done, what):
    """Polls every consumer in turn (their callbacks run in poll) until `done()` holds."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        for c in consumers:
            message = c.poll(0.05)
            assert message is None or message.error() is None, message.error()
        if done():
            return
    raise AssertionError(f"{what} within {TIMEOUT_S} s; assignments: "
                         f"{[sorted(assigned(c)) for c in consumers]}")


def split_then_single_owner(broker, topic_name, **config):
    ck_topic(broker, topic_name, 4)
    group = "shared-" + config.get("partition.assignment.strategy", "default")
    first = ck_consumer(broker, group, topic_name, **config)
    poll_until([first], lambda: assigned(first) == {0, 1, 2, 3}, "a lone member owns everything")

    second = ck_consumer(broker, group, topic_name, **config)

    def split():
        a, b = assigned(first), assigned(second)
        return a and b and not (a & b) and (a | b) == {0, 1, 2, 3}

    poll_until([first, second], split, "two members split the partitions")
    assert len(assigned(first)) == 2 and len(assigned(second)) == 2, "the split is even"

    # close() sends LeaveGroup: the survivor is given everything without a session timeout.
    started = time.monotonic()
    second.close()
    poll_until([first], lambda: assigned(first) == {0, 1, 2, 3}, "the survivor owns everything")
    assert time.monotonic() - started < SESSION_MS / 1000, "a leave, not a session expiry"
    first.close()


def test_confluent_two_members_share_four_partitions(broker, topic_name):
    split_then_single_owner(broker, topic_name)


def test_confluent_cooperative_sticky(broker, topic_name):
    split_then_single_owner(broker, topic_name,
                            **{"partition.assignment.strategy": "cooperative-sticky"})


def test_confluent_static_member_gets_its_partitions_back(broker, topic_name):
    ck_topic(broker, topic_name, 4)
    static = {"group.instance.id": "member-a"}
    a = ck_consumer(broker, "static", topic_name, **static)
    b = ck_consumer(broker, "static", topic_name, **{"group.instance.id": "member-b"})

    def split():
        x, y = assigned(a), assigned(b)
        return x and y and not (x & y) and (x | y) == {0, 1, 2, 3}

    poll_until([a, b], split, "two static members split the partitions")
    before_a, before_b = assigned(a), assigned(b)

    # A static member leaves no LeaveGroup on close; its replacement takes its place directly.
    a.close()
    a = ck_consumer(broker, "static", topic_name, **static)
    poll_until([a, b], lambda: assigned(a) == before_a, "the restarted static member is reassigned")
    assert assigned(b) == before_b, "the other member kept its partitions"
    a.close()
    b.close()


def test_confluent_admin_group_operations(broker, topic_name):
    ck_topic(broker, topic_name, 2)
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(6):
        producer.produce(topic_name, value=b"v%d" % i, partition=i % 2)
    assert producer.flush(TIMEOUT_S) == 0

    consumer = ck_consumer(broker, "admin-group", topic_name, **{"enable.auto.commit": False})
    got = []
    deadline = time.monotonic() + TIMEOUT_S
    while len(got) < 6 and time.monotonic() < deadline:
        message = consumer.poll(0.2)
        if message is not None:
            assert message.error() is None, message.error()
            got.append(message)
    assert len(got) == 6
    consumer.commit(asynchronous=False)

    admin = ck_admin(broker)
    listed = admin.list_consumer_groups(request_timeout=TIMEOUT_S).result(timeout=TIMEOUT_S)
    assert not listed.errors
    (listing,) = [g for g in listed.valid if g.group_id == "admin-group"]
    assert listing.state == ck.ConsumerGroupState.STABLE
    assert not listing.is_simple_consumer_group

    futures = admin.describe_consumer_groups(["admin-group"], request_timeout=TIMEOUT_S)
    description = futures["admin-group"].result(timeout=TIMEOUT_S)
    assert description.state == ck.ConsumerGroupState.STABLE
    assert description.partition_assignor == "range"
    (member,) = description.members
    assert {(tp.topic, tp.partition) for tp in member.assignment.topic_partitions} == {
        (topic_name, 0), (topic_name, 1)}
    assert description.coordinator.port == broker.port

    request = [ConsumerGroupTopicPartitions("admin-group")]
    futures = admin.list_consumer_group_offsets(request, request_timeout=TIMEOUT_S)
    offsets = futures["admin-group"].result(timeout=TIMEOUT_S)
    assert {(tp.topic, tp.partition, tp.offset) for tp in offsets.topic_partitions} == {
        (topic_name, 0, 3), (topic_name, 1, 3)}

    # A group with members cannot be deleted (GROUP_NOT_EMPTY); an empty one can.
    futures = admin.delete_consumer_groups(["admin-group"], request_timeout=TIMEOUT_S)
    try:
        futures["admin-group"].result(timeout=TIMEOUT_S)
        raise AssertionError("a group with a member was deleted")
    except ck.KafkaException as error:
        assert error.args[0].code() == KafkaError.NON_EMPTY_GROUP
    consumer.close()
    futures = admin.delete_consumer_groups(["admin-group"], request_timeout=TIMEOUT_S)
    futures["admin-group"].result(timeout=TIMEOUT_S)
    listed = admin.list_consumer_groups(request_timeout=TIMEOUT_S).result(timeout=TIMEOUT_S)
    assert "admin-group" not in {g.group_id for g in listed.valid}

    # Deleting a group that does not exist is GROUP_ID_NOT_FOUND.
    futures = admin.delete_consumer_groups(["admin-group"], request_timeout=TIMEOUT_S)
    try:
        futures["admin-group"].result(timeout=TIMEOUT_S)
        raise AssertionError("a missing group was deleted")
    except ck.KafkaException as error:
        assert error.args[0].code() == KafkaError.GROUP_ID_NOT_FOUND


# --- aiokafka -----------------------------------------------------------------------------------

async def aio_round_trip(bootstrap, topic):
    producer = aiokafka.AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=TIMEOUT_MS)
    await producer.start()
    try:
        for i in range(5):
            await producer.send_and_wait(topic, b"m%d" % i)
    finally:
        await producer.stop()

    async def member():
        return aiokafka.AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, group_id="aio-group",
            auto_offset_reset="earliest", enable_auto_commit=False,
            session_timeout_ms=SESSION_MS, heartbeat_interval_ms=HEARTBEAT_MS,
            request_timeout_ms=TIMEOUT_MS + 1000)

    consumer = await member()
    await consumer.start()
    try:
        values = []
        while len(values) < 5:
            message = await asyncio.wait_for(consumer.getone(), TIMEOUT_S)
            values.append(message.value)
        assert values == [b"m0", b"m1", b"m2", b"m3", b"m4"]
        await consumer.commit()
        tp = aiokafka.TopicPartition(topic, 0)
        assert await consumer.committed(tp) == 5
    finally:
        await consumer.stop()

    producer = aiokafka.AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=TIMEOUT_MS)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"m5")
    finally:
        await producer.stop()

    consumer = await member()
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), TIMEOUT_S)
        assert (message.offset, message.value) == (5, b"m5"), "resumed after the commit"
        extra = await consumer.getmany(timeout_ms=500)
        assert not any(extra.values())
    finally:
        await consumer.stop()


def test_aiokafka_group_consumes_and_commits(broker, topic_name):
    asyncio.run(asyncio.wait_for(aio_round_trip(broker.bootstrap, topic_name), 4 * TIMEOUT_S))
