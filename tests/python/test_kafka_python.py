"""kafka-python against the broker: the README quick start, admin, keys/headers/large values, and
the old protocol versions (legacy message sets) that `api_version=(0, 9)` and `(0, 10, 0)` use."""

import pytest

from conftest import require

kafka = require("kafka")
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from kafka.admin import NewTopic  # noqa: E402
from kafka.errors import TopicAlreadyExistsError  # noqa: E402

TIMEOUT_MS = 10_000


def producer_for(bootstrap, **config):
    """A producer whose every wait is bounded, so a broker that does not answer fails fast."""
    bounded = dict(request_timeout_ms=TIMEOUT_MS, max_block_ms=TIMEOUT_MS,
                   delivery_timeout_ms=2 * TIMEOUT_MS)
    bounded.update(config)
    return KafkaProducer(bootstrap_servers=bootstrap, **bounded)


def consume_all(consumer, expected_count):
    """Polls until `expected_count` records arrived or the timeout passed."""
    records = []
    for message in consumer:
        records.append(message)
        if len(records) >= expected_count:
            break
    return records


def create_topic(bootstrap, name, partitions=1):
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=TIMEOUT_MS)
    try:
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    finally:
        admin.close()


def test_quick_start(broker):
    # Exactly the README: localhost, a topic that does not exist yet (auto-created), earliest.
    producer = KafkaProducer(bootstrap_servers=f"localhost:{broker.port}")
    future = producer.send("my-topic", b"hello")
    producer.flush()
    metadata = future.get(timeout=10)
    assert (metadata.topic, metadata.partition, metadata.offset) == ("my-topic", 0, 0)
    producer.close()

    consumer = KafkaConsumer("my-topic", bootstrap_servers=f"localhost:{broker.port}",
                             auto_offset_reset="earliest", consumer_timeout_ms=TIMEOUT_MS)
    records = consume_all(consumer, 1)
    consumer.close()
    assert [r.value for r in records] == [b"hello"]
    assert records[0].offset == 0


def test_many_records_in_order(broker, topic_name):
    producer = producer_for(broker.bootstrap, linger_ms=5)
    futures = [producer.send(topic_name, f"m{i}".encode()) for i in range(500)]
    producer.flush()
    offsets = [f.get(timeout=10).offset for f in futures]
    assert offsets == list(range(500))
    producer.close()

    consumer = KafkaConsumer(topic_name, bootstrap_servers=broker.bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=TIMEOUT_MS)
    records = consume_all(consumer, 500)
    consumer.close()
    assert [r.value for r in records] == [f"m{i}".encode() for i in range(500)]
    assert [r.offset for r in records] == list(range(500))


def test_admin_create_topics(broker, topic_name):
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=TIMEOUT_MS)
    try:
        admin.create_topics([NewTopic(topic_name, num_partitions=3, replication_factor=1)])
        assert topic_name in admin.list_topics()
        with pytest.raises(TopicAlreadyExistsError):
            admin.create_topics([NewTopic(topic_name, num_partitions=3, replication_factor=1)])
    finally:
        admin.close()

    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap)
    assert consumer.partitions_for_topic(topic_name) == {0, 1, 2}
    consumer.close()

    producer = producer_for(broker.bootstrap)
    metadata = producer.send(topic_name, b"last", partition=2).get(timeout=10)
    assert (metadata.partition, metadata.offset) == (2, 0)
    producer.close()


def test_keys_headers_and_a_1mb_value(broker, topic_name):
    big = bytes(range(256)) * (1_000_000 // 256) + b"x" * (1_000_000 % 256)
    assert len(big) == 1_000_000
    producer = producer_for(broker.bootstrap, max_request_size=2_000_000)
    producer.send(topic_name, key=b"k1", value=b"v1", headers=[("h1", b"a"), ("h2", b"")])
    producer.send(topic_name, key=b"gone", value=None)  # a tombstone: null value
    producer.send(topic_name, key=b"big", value=big)
    producer.flush()
    producer.close()

    consumer = KafkaConsumer(topic_name, bootstrap_servers=broker.bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=TIMEOUT_MS)
    records = consume_all(consumer, 3)
    consumer.close()
    assert [(r.key, r.offset) for r in records] == [(b"k1", 0), (b"gone", 1), (b"big", 2)]
    assert records[0].value == b"v1"
    assert list(records[0].headers) == [("h1", b"a"), ("h2", b"")]
    assert records[1].value is None
    assert records[2].value == big


@pytest.mark.blazemq_only("stops the broker and restarts it")
def test_records_survive_restart(broker, topic_name):
    producer = producer_for(broker.bootstrap, acks="all")
    for i in range(10):
        producer.send(topic_name, f"r{i}".encode())
    producer.flush()
    producer.close()
    assert broker.stop() == 0, "SIGTERM exits 0"
    broker.restart()
    consumer = KafkaConsumer(topic_name, bootstrap_servers=broker.bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=TIMEOUT_MS)
    records = consume_all(consumer, 10)
    consumer.close()
    assert [r.value for r in records] == [f"r{i}".encode() for i in range(10)]


# Kafka 4 no longer serves these versions (KIP-896); BlazeMQ still does, for older clients.
@pytest.mark.blazemq_only("protocol versions Kafka 4 removed (KIP-896)")
@pytest.mark.parametrize("api_version", [(0, 10, 0), (0, 9)])
def test_old_api_versions(broker, topic_name, api_version):
    # (0, 9) speaks Produce v1 / Fetch v1 with magic-0 message sets; (0, 10, 0) Produce v2 /
    # Fetch v2 with magic-1 messages (timestamps). Neither sends ApiVersions.
    create_topic(broker.bootstrap, topic_name)
    producer = producer_for(broker.bootstrap, api_version=api_version)
    futures = [producer.send(topic_name, key=f"k{i}".encode(), value=f"old-{i}".encode())
               for i in range(5)]
    producer.flush()
    assert [f.get(timeout=10).offset for f in futures] == list(range(5))
    producer.close()

    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, api_version=api_version,
                             consumer_timeout_ms=TIMEOUT_MS)
    partition = TopicPartition(topic_name, 0)
    consumer.assign([partition])
    consumer.seek_to_beginning(partition)
    records = consume_all(consumer, 5)
    consumer.close()
    assert [(r.offset, r.key, r.value) for r in records] == [
        (i, f"k{i}".encode(), f"old-{i}".encode()) for i in range(5)]

    # What old clients wrote, a modern client reads as well.
    modern = KafkaConsumer(bootstrap_servers=broker.bootstrap, consumer_timeout_ms=TIMEOUT_MS)
    modern.assign([partition])
    modern.seek_to_beginning(partition)
    assert [r.value for r in consume_all(modern, 5)] == [f"old-{i}".encode() for i in range(5)]
    modern.close()
