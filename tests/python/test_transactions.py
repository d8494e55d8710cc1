"""Kafka transactions with unchanged clients: confluent-kafka (librdkafka), kafka-python, aiokafka.

What a transactional producer's user relies on: a read_committed consumer reads the records of a
committed transaction once each, in order, and never those of an aborted one, which only a
read_uncommitted consumer sees; no consumer is handed the control records (the commit and abort
markers), though each takes an offset; the last stable offset (LSO) holds read_committed
consumers at the first offset of a transaction still open; offsets sent to a transaction become
the group's only when it commits; a second producer with the same transactional.id fences the
first; the broker aborts a transaction left open for longer than transaction.timeout.ms; and all
of this holds across a kill -9 of the broker (BlazeMQ only: it restarts the binary).

All pass against BlazeMQ and against Apache Kafka:
    scripts/kafka-reference.sh run .venv/bin/python -m pytest tests/python/test_transactions.py
"""

import asyncio
import time

import pytest

from conftest import external_bootstrap, require

ck = require("confluent_kafka")
from confluent_kafka import (  # noqa: E402
    Consumer,
    IsolationLevel,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec  # noqa: E402

kafka = require("kafka")
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, OffsetAndMetadata  # noqa: E402
from kafka import TopicPartition as KafkaTopicPartition  # noqa: E402

aiokafka = require("aiokafka")

TIMEOUT_S = 10.0
# How long a transactional producer may take to get its producer id: BlazeMQ answers at once; a
# Kafka creates its transaction log on first use (a second on the reference Kafka, more with the
# default 50 partitions).
INIT_TIMEOUT_S = 10.0 if external_bootstrap() else 5.0
TXN_TIMEOUT_MS = 10_000
# Kafka looks for transactions past their timeout every 10 s
# (transaction.abort.timed.out.transaction.cleanup.interval.ms): an abandoned transaction with a
# 2 s timeout is aborted within 12 s.
ABANDONED_TXN_TIMEOUT_MS = 2_000
ABORTED_WITHIN_S = 30.0


def create_topic(broker, name, partitions):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    topic = NewTopic(name, num_partitions=partitions, replication_factor=1)
    admin.create_topics([topic], request_timeout=TIMEOUT_S)[name].result(timeout=TIMEOUT_S)


def transactional(broker, transactional_id, **config):
    """A confluent-kafka producer with `transactional_id`, its transactions initialised."""
    base = {
        "bootstrap.servers": broker.bootstrap,
        "transactional.id": transactional_id,
        # Also bounds each message's delivery (librdkafka lowers message.timeout.ms to it).
        "transaction.timeout.ms": TXN_TIMEOUT_MS,
    }
    base.update(config)
    producer = Producer(base)
    producer.init_transactions(INIT_TIMEOUT_S)
    return producer


def plain_producer(broker):
    return Producer({"bootstrap.servers": broker.bootstrap, "message.timeout.ms": 15_000})


def produce(producer, topic, values, partition=0):
    """Produces `values` to one partition and waits until each is acknowledged (so each has its
    offset before the next call), failing on any delivery error."""
    errors = []
    for value in values:
        producer.produce(topic, value, partition=partition,
                         on_delivery=lambda err, _msg: err is not None and errors.append(err))
    assert producer.flush(TIMEOUT_S) == 0
    assert errors == []


def read(broker, topic, partitions, isolation, expect, within_s=2 * TIMEOUT_S):
    """Reads every partition of `topic` from its beginning with a consumer of `isolation`
    ("read_committed" or "read_uncommitted") until it has `expect` records and stands at the end
    of each partition (the high watermark; the LSO for read_committed): the records as
    (partition, offset, value) in the order received, and each partition's position."""
    consumer = Consumer({
        "bootstrap.servers": broker.bootstrap,
        "group.id": "txn-reader",
        "isolation.level": isolation,
        "enable.auto.commit": False,
        "enable.partition.eof": True,
    })
    assigned = [TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in range(partitions)]
    consumer.assign(assigned)
    records, at_end = [], set()
    deadline = time.monotonic() + within_s
    try:
        while len(records) < expect or len(at_end) < partitions:
            assert time.monotonic() < deadline, (
                f"{isolation}: {records} and the end of {sorted(at_end)} within {within_s} s, "
                f"not {expect} records")
            message = consumer.poll(0.2)
            if message is None:
                continue
            if message.error() is not None:
                assert message.error().code() == KafkaError._PARTITION_EOF, message.error()
                at_end.add(message.partition())
                continue
            at_end.discard(message.partition())
            records.append((message.partition(), message.offset(), message.value()))
        positions = [tp.offset for tp in consumer.position(
            [TopicPartition(topic, p) for p in range(partitions)])]
    finally:
        consumer.close()
    return records, positions


def high_watermark(broker, topic, isolation, partition=0):
    """The end offset that a consumer of `isolation` is told: for read_committed, the LSO."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "txn-watermarks",
                         "isolation.level": isolation})
    try:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), TIMEOUT_S,
                                                 cached=False)
    finally:
        consumer.close()
    return high


def list_latest_offset(broker, topic, isolation_level, partition=0):
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    tp = TopicPartition(topic, partition)
    futures = admin.list_offsets({tp: OffsetSpec.latest()}, isolation_level=isolation_level,
                                 request_timeout=TIMEOUT_S)
    return futures[tp].result(timeout=TIMEOUT_S).offset


def committed_offset(broker, group, topic, isolation="read_uncommitted", partition=0):
    """The group's committed offset (OFFSET_INVALID if none). A read_uncommitted consumer asks
    without require_stable, so it is answered at once even while offsets are pending in a
    transaction; a read_committed one waits until they are settled."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": group,
                         "isolation.level": isolation, "enable.auto.commit": False})
    try:
        (tp,) = consumer.committed([TopicPartition(topic, partition)], TIMEOUT_S)
    finally:
        consumer.close()
    assert tp.error is None, tp.error
    return tp.offset


# --- confluent-kafka ---------------------------------------------------------------------------

def test_committed_transaction_is_read_once_in_order(broker, topic_name):
    create_topic(broker, topic_name, 2)
    producer = transactional(broker, topic_name)
    producer.begin_transaction()
    for i in range(6):
        producer.produce(topic_name, b"v%d" % i, partition=i % 2)
    producer.commit_transaction(TIMEOUT_S)

    for isolation in ("read_committed", "read_uncommitted"):
        records, positions = read(broker, topic_name, 2, isolation, expect=6)
        assert sorted(records) == [(0, 0, b"v0"), (0, 1, b"v2"), (0, 2, b"v4"),
                                   (1, 0, b"v1"), (1, 1, b"v3"), (1, 2, b"v5")], isolation
        # Per partition in offset order (received interleaved across partitions).
        for p in (0, 1):
            assert [r for r in records if r[0] == p] == [r for r in sorted(records) if r[0] == p]
        # The commit marker takes offset 3 in each partition; no consumer is handed it.
        assert positions == [4, 4], isolation
    assert high_watermark(broker, topic_name, "read_uncommitted") == 4
    assert high_watermark(broker, topic_name, "read_committed") == 4


def test_aborted_transaction_is_seen_only_by_read_uncommitted(broker, topic_name):
    create_topic(broker, topic_name, 1)
    producer = transactional(broker, topic_name)
    producer.begin_transaction()
    produce(producer, topic_name, [b"a0", b"a1"])
    producer.abort_transaction(TIMEOUT_S)
    producer.begin_transaction()
    produce(producer, topic_name, [b"c0", b"c1"])
    producer.commit_transaction(TIMEOUT_S)

    # a0 a1 at 0 and 1, the abort marker at 2, c0 c1 at 3 and 4, the commit marker at 5.
    records, positions = read(broker, topic_name, 1, "read_committed", expect=2)
    assert records == [(0, 3, b"c0"), (0, 4, b"c1")]
    assert positions == [6]
    records, positions = read(broker, topic_name, 1, "read_uncommitted", expect=4)
    assert records == [(0, 0, b"a0"), (0, 1, b"a1"), (0, 3, b"c0"), (0, 4, b"c1")]
    assert positions == [6]


def test_interleaved_transactions_one_aborted(broker, topic_name):
    # Two producers' transactions interleave in one partition: read_committed must drop the
    # aborted one's records between the committed one's, not everything after its start.
    create_topic(broker, topic_name, 1)
    aborting = transactional(broker, topic_name + "-a")
    committing = transactional(broker, topic_name + "-b")
    aborting.begin_transaction()
    committing.begin_transaction()
    produce(aborting, topic_name, [b"a0"])
    produce(committing, topic_name, [b"b0"])
    produce(aborting, topic_name, [b"a1"])
    produce(committing, topic_name, [b"b1"])
    aborting.abort_transaction(TIMEOUT_S)
    committing.commit_transaction(TIMEOUT_S)

    records, positions = read(broker, topic_name, 1, "read_committed", expect=2)
    assert records == [(0, 1, b"b0"), (0, 3, b"b1")]
    assert positions == [6]  # the two markers at 4 and 5
    records, positions = read(broker, topic_name, 1, "read_uncommitted", expect=4)
    assert records == [(0, 0, b"a0"), (0, 1, b"b0"), (0, 2, b"a1"), (0, 3, b"b1")]
    assert positions == [6]


def test_open_transaction_holds_the_last_stable_offset(broker, topic_name):
    create_topic(broker, topic_name, 1)
    plain = plain_producer(broker)
    txn = transactional(broker, topic_name)
    produce(plain, topic_name, [b"p0"])
    txn.begin_transaction()
    produce(txn, topic_name, [b"t0"])
    produce(plain, topic_name, [b"p1"])

    # p0 at 0, the open transaction's t0 at 1, p1 at 2: the LSO is 1.
    records, positions = read(broker, topic_name, 1, "read_uncommitted", expect=3)
    assert records == [(0, 0, b"p0"), (0, 1, b"t0"), (0, 2, b"p1")]
    assert positions == [3]
    records, positions = read(broker, topic_name, 1, "read_committed", expect=1)
    assert records == [(0, 0, b"p0")]
    assert positions == [1]
    assert high_watermark(broker, topic_name, "read_committed") == 1
    assert high_watermark(broker, topic_name, "read_uncommitted") == 3
    assert list_latest_offset(broker, topic_name, IsolationLevel.READ_COMMITTED) == 1
    assert list_latest_offset(broker, topic_name, IsolationLevel.READ_UNCOMMITTED) == 3

    txn.commit_transaction(TIMEOUT_S)
    # The commit marker at 3; the LSO moves to the end.
    records, positions = read(broker, topic_name, 1, "read_committed", expect=3)
    assert records == [(0, 0, b"p0"), (0, 1, b"t0"), (0, 2, b"p1")]
    assert positions == [4]
    assert high_watermark(broker, topic_name, "read_committed") == 4
    assert list_latest_offset(broker, topic_name, IsolationLevel.READ_COMMITTED) == 4
    assert list_latest_offset(broker, topic_name, IsolationLevel.READ_UNCOMMITTED) == 4


def poll_values(consumer, count):
    """`count` records from a subscribed consumer (it joins its group on the first polls)."""
    values = []
    deadline = time.monotonic() + 2 * TIMEOUT_S
    while len(values) < count:
        assert time.monotonic() < deadline, f"only {values} within {2 * TIMEOUT_S} s"
        message = consumer.poll(0.2)
        if message is None:
            continue
        assert message.error() is None, message.error()
        values.append((message.offset(), message.value()))
    return values


def group_member(broker, group, topic):
    consumer = Consumer({
        "bootstrap.servers": broker.bootstrap,
        "group.id": group,
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6_000,
        "heartbeat.interval.ms": 500,
    })
    consumer.subscribe([topic])
    return consumer


def test_send_offsets_in_consume_transform_produce(broker, topic_name):
    source, sink, group = topic_name + "-in", topic_name + "-out", topic_name + "-group"
    create_topic(broker, source, 1)
    create_topic(broker, sink, 1)
    plain = plain_producer(broker)
    produce(plain, source, [b"i0", b"i1", b"i2", b"i3"])
    producer = transactional(broker, topic_name)

    consumer = group_member(broker, group, source)
    try:
        consumed = poll_values(consumer, 4)
        assert consumed == [(0, b"i0"), (1, b"i1"), (2, b"i2"), (3, b"i3")]
        producer.begin_transaction()
        produce(producer, sink, [value.upper() for _, value in consumed])
        producer.send_offsets_to_transaction([TopicPartition(source, 0, 4)],
                                             consumer.consumer_group_metadata(), TIMEOUT_S)
        # Pending in the transaction: not the group's yet.
        assert committed_offset(broker, group, source) == ck.OFFSET_INVALID
        producer.commit_transaction(TIMEOUT_S)
        assert committed_offset(broker, group, source, "read_committed") == 4
        assert committed_offset(broker, group, source) == 4

        # The next round is aborted: its offsets never become the group's, nor its output visible.
        produce(plain, source, [b"i4", b"i5"])
        consumed = poll_values(consumer, 2)
        assert consumed == [(4, b"i4"), (5, b"i5")]
        producer.begin_transaction()
        produce(producer, sink, [value.upper() for _, value in consumed])
        producer.send_offsets_to_transaction([TopicPartition(source, 0, 6)],
                                             consumer.consumer_group_metadata(), TIMEOUT_S)
        producer.abort_transaction(TIMEOUT_S)
    finally:
        consumer.close()
    assert committed_offset(broker, group, source, "read_committed") == 4

    # I0..I3 at 0..3, the commit marker at 4, the aborted I4 I5 at 5 and 6, the abort marker at 7.
    records, positions = read(broker, sink, 1, "read_committed", expect=4)
    assert records == [(0, 0, b"I0"), (0, 1, b"I1"), (0, 2, b"I2"), (0, 3, b"I3")]
    assert positions == [8]
    # The group's next member starts over where the last commit left it.
    successor = group_member(broker, group, source)
    try:
        assert poll_values(successor, 2) == [(4, b"i4"), (5, b"i5")]
    finally:
        successor.close()


def test_second_producer_with_the_same_id_fences_the_first(broker, topic_name):
    create_topic(broker, topic_name, 1)
    first = transactional(broker, topic_name)
    first.begin_transaction()
    produce(first, topic_name, [b"f0"])

    # Taking the transactional id over aborts the first one's open transaction.
    second = transactional(broker, topic_name)
    # The first one's next write is refused (its epoch is old): a fatal error, raised by flush.
    first.produce(topic_name, b"f1", partition=0)
    with pytest.raises(KafkaException) as fenced:
        first.flush(TIMEOUT_S)
    error = fenced.value.args[0]
    assert (error.code(), error.fatal()) == (KafkaError._FENCED, True), error
    with pytest.raises(KafkaException) as fenced:
        first.commit_transaction(TIMEOUT_S)
    error = fenced.value.args[0]
    assert (error.code(), error.fatal()) == (KafkaError._FENCED, True), error

    second.begin_transaction()
    produce(second, topic_name, [b"s0"])
    second.commit_transaction(TIMEOUT_S)

    # f0 at 0, the abort marker at 1, s0 at 2 (f1 never appended), the commit marker at 3.
    records, positions = read(broker, topic_name, 1, "read_committed", expect=1)
    assert records == [(0, 2, b"s0")]
    assert positions == [4]
    records, _ = read(broker, topic_name, 1, "read_uncommitted", expect=2)
    assert records == [(0, 0, b"f0"), (0, 2, b"s0")]


def test_abandoned_transaction_is_aborted_after_its_timeout(broker, topic_name):
    create_topic(broker, topic_name, 1)
    abandoned = transactional(broker, topic_name,
                              **{"transaction.timeout.ms": ABANDONED_TXN_TIMEOUT_MS})
    abandoned.begin_transaction()
    produce(abandoned, topic_name, [b"t0"])
    produce(plain_producer(broker), topic_name, [b"p0"])

    # Until the broker aborts t0's transaction, the LSO stays at 0 and p0 is out of reach.
    records, positions = read(broker, topic_name, 1, "read_committed", expect=1,
                              within_s=ABORTED_WITHIN_S)
    assert records == [(0, 1, b"p0")]
    assert positions == [3]  # the abort marker at 2
    records, _ = read(broker, topic_name, 1, "read_uncommitted", expect=2)
    assert records == [(0, 0, b"t0"), (0, 1, b"p0")]

    # The producer learns that its transaction is gone when it tries to commit: aborting it,
    # the broker bumped the producer's epoch, which fences it.
    with pytest.raises(KafkaException) as gone:
        abandoned.commit_transaction(TIMEOUT_S)
    error = gone.value.args[0]
    assert (error.code(), error.fatal()) == (KafkaError._FENCED, True), error
    records, _ = read(broker, topic_name, 1, "read_committed", expect=1)
    assert records == [(0, 1, b"p0")]


@pytest.mark.blazemq_only("kills the broker with SIGKILL and restarts it")
def test_transactions_across_kill_9(broker, topic_name):
    create_topic(broker, topic_name, 1)
    committed = transactional(broker, topic_name + "-committed")
    committed.begin_transaction()
    produce(committed, topic_name, [b"c0", b"c1"])
    committed.commit_transaction(TIMEOUT_S)
    aborted = transactional(broker, topic_name + "-aborted")
    aborted.begin_transaction()
    produce(aborted, topic_name, [b"b0"])
    aborted.abort_transaction(TIMEOUT_S)
    # Two transactions open at the kill: one to be aborted by its timeout, one (whose timeout is
    # out of the test's reach) by a new producer with its transactional id.
    timed_out = transactional(broker, topic_name + "-timed-out",
                              **{"transaction.timeout.ms": ABANDONED_TXN_TIMEOUT_MS})
    timed_out.begin_transaction()
    produce(timed_out, topic_name, [b"o0"])
    replaced = transactional(broker, topic_name + "-replaced",
                             **{"transaction.timeout.ms": 600_000})
    replaced.begin_transaction()
    produce(replaced, topic_name, [b"d0"])

    broker.kill9()
    broker.restart()

    # c0 c1 at 0 and 1, the commit marker at 2, b0 at 3, the abort marker at 4, o0 at 5, d0 at 6.
    records, _ = read(broker, topic_name, 1, "read_committed", expect=2)
    assert records == [(0, 0, b"c0"), (0, 1, b"c1")]
    successor = transactional(broker, topic_name + "-replaced")
    successor.begin_transaction()
    produce(successor, topic_name, [b"d1"])
    successor.commit_transaction(TIMEOUT_S)

    records, _ = read(broker, topic_name, 1, "read_committed", expect=3, within_s=ABORTED_WITHIN_S)
    assert [value for _, _, value in records] == [b"c0", b"c1", b"d1"]
    records, _ = read(broker, topic_name, 1, "read_uncommitted", expect=6)
    assert [value for _, _, value in records] == [b"c0", b"c1", b"b0", b"o0", b"d0", b"d1"]
    assert [offset for _, offset, _ in records[:5]] == [0, 1, 3, 5, 6]
    # The producer from before the kill is fenced.
    with pytest.raises(KafkaException) as fenced:
        replaced.commit_transaction(TIMEOUT_S)
    assert fenced.value.args[0].fatal(), fenced.value.args[0]


# --- kafka-python ------------------------------------------------------------------------------
# kafka-python's own test_transactional_producer_messages and _offsets (test/integration/
# test_producer_integration.py), with a topic and transactional id of their own.

def kafka_python_producer(broker, transactional_id):
    return KafkaProducer(bootstrap_servers=broker.bootstrap, transactional_id=transactional_id,
                         request_timeout_ms=int(TIMEOUT_S * 1000),
                         max_block_ms=int(INIT_TIMEOUT_S * 1000))


def test_kafka_python_transactional_producer_messages(broker, topic_name):
    create_topic(broker, topic_name, 1)
    producer = kafka_python_producer(broker, topic_name)
    try:
        producer.init_transactions()
        producer.begin_transaction()
        producer.send(topic_name, partition=0, value=b"msg1").get(TIMEOUT_S)
        producer.send(topic_name, partition=0, value=b"msg2").get(TIMEOUT_S)
        producer.abort_transaction()
        producer.begin_transaction()
        producer.send(topic_name, partition=0, value=b"msg3").get(TIMEOUT_S)
        producer.send(topic_name, partition=0, value=b"msg4").get(TIMEOUT_S)
        producer.commit_transaction()
    finally:
        producer.close(timeout=TIMEOUT_S)

    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=None,
                             consumer_timeout_ms=int(TIMEOUT_S * 1000),
                             auto_offset_reset="earliest", isolation_level="read_committed")
    try:
        consumer.assign([KafkaTopicPartition(topic_name, 0)])
        messages = []
        for message in consumer:
            messages.append((message.offset, message.value))
            if len(messages) == 2:
                break
        # Nothing after them.
        assert consumer.poll(timeout_ms=500) == {}
    finally:
        consumer.close()
    assert messages == [(3, b"msg3"), (4, b"msg4")]


def test_kafka_python_transactional_producer_offsets(broker, topic_name):
    create_topic(broker, topic_name, 2)
    group = topic_name + "-group"
    offsets = {KafkaTopicPartition(topic_name, 0): OffsetAndMetadata(0, "metadata", 0)}
    producer = kafka_python_producer(broker, topic_name)
    try:
        producer.init_transactions()
        producer.begin_transaction()
        producer.send(topic_name, partition=0, value=b"msg1").get(TIMEOUT_S)
        producer.send_offsets_to_transaction(offsets, group)
        producer.commit_transaction()

        producer.begin_transaction()
        producer.send_offsets_to_transaction(
            {KafkaTopicPartition(topic_name, 1): OffsetAndMetadata(1, "bad", 1)}, group)
        producer.abort_transaction()
    finally:
        producer.close(timeout=TIMEOUT_S)

    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap,
                             request_timeout_ms=int(TIMEOUT_S * 1000))
    try:
        assert admin.list_group_offsets(group) == {group: offsets}
    finally:
        admin.close()


# --- aiokafka ----------------------------------------------------------------------------------

async def aiokafka_abort_then_commit(bootstrap, topic):
    producer = aiokafka.AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=topic,
                                         transaction_timeout_ms=TXN_TIMEOUT_MS,
                                         request_timeout_ms=int(TIMEOUT_S * 1000))
    try:
        # A transactional producer's start waits for its producer id, retrying without end.
        await asyncio.wait_for(producer.start(), INIT_TIMEOUT_S)
        await producer.begin_transaction()
        await producer.send_and_wait(topic, b"a0", partition=0)
        await producer.send_and_wait(topic, b"a1", partition=0)
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send_and_wait(topic, b"c0", partition=0)
            await producer.send_and_wait(topic, b"c1", partition=0)
    finally:
        await producer.stop()

    async def read_all(isolation_level, count):
        consumer = aiokafka.AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                             isolation_level=isolation_level,
                                             auto_offset_reset="earliest",
                                             request_timeout_ms=int(TIMEOUT_S * 1000))
        await consumer.start()
        try:
            consumer.assign([aiokafka.TopicPartition(topic, 0)])
            records = []
            while len(records) < count:
                message = await asyncio.wait_for(consumer.getone(), TIMEOUT_S)
                records.append((message.offset, message.value))
            extra = await consumer.getmany(timeout_ms=500)
            assert not any(extra.values()), extra
            return records
        finally:
            await consumer.stop()

    # a0 a1 at 0 and 1, the abort marker at 2, c0 c1 at 3 and 4, the commit marker at 5.
    assert await read_all("read_committed", 2) == [(3, b"c0"), (4, b"c1")]
    assert await read_all("read_uncommitted", 4) == [(0, b"a0"), (1, b"a1"), (3, b"c0"),
                                                     (4, b"c1")]


def test_aiokafka_transactional_producer_abort_and_commit(broker, topic_name):
    create_topic(broker, topic_name, 1)
    asyncio.run(asyncio.wait_for(aiokafka_abort_then_commit(broker.bootstrap, topic_name),
                                 INIT_TIMEOUT_S + 4 * TIMEOUT_S))
