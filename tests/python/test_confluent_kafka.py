"""confluent-kafka (librdkafka) against the broker: admin, delivery reports over several
partitions, an assigned consumer, keys/headers/large values, and admin errors."""

import time

import pytest

from conftest import require

ck = require("confluent_kafka")
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TIMEOUT_S = 10.0


def admin_for(broker):
    return AdminClient({"bootstrap.servers": broker.bootstrap})


def create(admin, name, partitions, config=None):
    """Creates a topic and waits until the broker's metadata lists it with all its partitions
    (Kafka answers CreateTopics before its brokers know the topic; BlazeMQ after)."""
    topic = NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})
    futures = admin.create_topics([topic], request_timeout=TIMEOUT_S)
    futures[name].result(timeout=TIMEOUT_S)
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        listed = admin.list_topics(name, timeout=TIMEOUT_S).topics.get(name)
        if listed is not None and listed.error is None and len(listed.partitions) == partitions:
            return
        assert time.monotonic() < deadline, f"{name} is not in the metadata"
        time.sleep(0.05)


def producer_for(broker, **config):
    base = {"bootstrap.servers": broker.bootstrap, "message.timeout.ms": 15_000}
    base.update(config)
    return Producer(base)


def consume_assigned(broker, partitions, expected_count, **config):
    """Reads every partition in `partitions` from the beginning until `expected_count` records."""
    base = {
        "bootstrap.servers": broker.bootstrap,
        "group.id": "assign-only",
        "enable.auto.commit": False,
        "enable.partition.eof": False,
    }
    base.update(config)
    consumer = Consumer(base)
    consumer.assign([TopicPartition(t, p, ck.OFFSET_BEGINNING) for t, p in partitions])
    records = []
    deadline = time.monotonic() + 2 * TIMEOUT_S
    while len(records) < expected_count and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is None:
            continue
        assert message.error() is None, message.error()
        records.append(message)
    consumer.close()
    return records


def test_admin_create_and_list_topics(broker, topic_name):
    admin = admin_for(broker)
    create(admin, topic_name, 4)
    metadata = admin.list_topics(timeout=TIMEOUT_S)
    assert topic_name in metadata.topics
    assert sorted(metadata.topics[topic_name].partitions) == [0, 1, 2, 3]
    assert len(metadata.brokers) == 1
    (only,) = metadata.brokers.values()
    assert only.port == broker.port


def test_admin_errors_for_existing_and_invalid_topics(broker, topic_name):
    admin = admin_for(broker)
    create(admin, topic_name, 1)
    with pytest.raises(ck.KafkaException) as existing:
        create(admin, topic_name, 1)
    assert existing.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS

    with pytest.raises(ck.KafkaException) as invalid:
        create(admin, "bad name!", 1)
    assert invalid.value.args[0].code() == KafkaError.TOPIC_EXCEPTION  # INVALID_TOPIC_EXCEPTION (17)
    assert "bad name!" not in admin.list_topics(timeout=TIMEOUT_S).topics


def test_delivery_callbacks_over_partitions_and_assigned_consumer(broker, topic_name):
    create(admin_for(broker), topic_name, 3)
    reports = []

    def on_delivery(err, message):
        reports.append((err, message.partition(), message.offset(), message.value()))

    producer = producer_for(broker, **{"linger.ms": 5})
    for i in range(90):
        producer.produce(topic_name, value=f"v{i}".encode(), key=f"k{i}".encode(),
                         partition=i % 3, on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(TIMEOUT_S) == 0, "everything was delivered"
    assert len(reports) == 90
    assert all(err is None for err, *_ in reports), reports[:3]
    for p in range(3):
        mine = sorted((offset, value) for _, part, offset, value in reports if part == p)
        assert [o for o, _ in mine] == list(range(30)), f"dense offsets in partition {p}"

    records = consume_assigned(broker, [(topic_name, p) for p in range(3)], 90)
    assert len(records) == 90
    by_partition = {}
    for r in records:
        by_partition.setdefault(r.partition(), []).append((r.offset(), r.key(), r.value()))
    for p in range(3):
        expected = [(n, f"k{i}".encode(), f"v{i}".encode())
                    for n, i in enumerate(range(p, 90, 3))]
        assert by_partition[p] == expected


def test_keys_headers_and_a_1mb_value(broker, topic_name):
    create(admin_for(broker), topic_name, 1)
    big = bytes(range(256)) * (1_000_000 // 256) + b"y" * (1_000_000 % 256)
    producer = producer_for(broker, **{"message.max.bytes": 2_000_000})
    producer.produce(topic_name, key=b"key", value=b"value", headers=[("h", b"1"), ("h", b"2")])
    producer.produce(topic_name, key=b"null-value", value=None)
    producer.produce(topic_name, key=b"big", value=big)
    assert producer.flush(TIMEOUT_S) == 0

    records = consume_assigned(broker, [(topic_name, 0)], 3,
                               **{"fetch.message.max.bytes": 2_000_000})
    assert [(r.offset(), r.key()) for r in records] == [(0, b"key"), (1, b"null-value"), (2, b"big")]
    assert records[0].value() == b"value"
    assert records[0].headers() == [("h", b"1"), ("h", b"2")]
    assert records[1].value() is None
    assert records[2].value() == big


def test_compressed_batches_round_trip(broker, topic_name):
    create(admin_for(broker), topic_name, 1)
    producer = producer_for(broker, **{"compression.type": "gzip", "linger.ms": 20})
    for i in range(200):
        producer.produce(topic_name, value=f"compressible-{i:05d}".encode() * 4)
    assert producer.flush(TIMEOUT_S) == 0
    records = consume_assigned(broker, [(topic_name, 0)], 200)
    assert [r.offset() for r in records] == list(range(200))
    assert records[199].value() == b"compressible-00199" * 4


@pytest.mark.blazemq_only("kills the broker with SIGKILL and restarts it")
def test_records_survive_kill_9(broker, topic_name):
    create(admin_for(broker), topic_name, 1)
    acknowledged = []
    producer = producer_for(broker, **{"acks": "all"})
    for i in range(50):
        producer.produce(topic_name, value=f"a{i}".encode(),
                         on_delivery=lambda err, m: err is None and acknowledged.append(m.value()))
    assert producer.flush(TIMEOUT_S) == 0
    assert len(acknowledged) == 50
    broker.kill9()
    broker.restart()
    records = consume_assigned(broker, [(topic_name, 0)], 50)
    assert [r.value() for r in records] == acknowledged
