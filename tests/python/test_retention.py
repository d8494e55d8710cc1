"""The log start offset against the real binary, with confluent-kafka: DeleteRecords through the
admin client (records below the new start are gone for a consumer from earliest, ListOffsets
earliest is the new start, and both survive a restart and kill -9), and retention.ms deleting old
segments on its own while the broker otherwise sleeps."""

import gc
import time

import pytest

from conftest import Broker, require

ck = require("confluent_kafka")
from confluent_kafka import Consumer, KafkaError, TopicPartition  # noqa: E402
from test_confluent_kafka import TIMEOUT_S, admin_for, create, producer_for  # noqa: E402


def produce(broker, topic, values):
    """One batch per value: each is flushed before the next is sent."""
    producer = producer_for(broker, **{"linger.ms": 0})
    for v in values:
        producer.produce(topic, v)
        assert producer.flush(TIMEOUT_S) == 0


def watermarks(broker, topic):
    """(earliest, latest) from ListOffsets -2 and -1."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "watermarks"})
    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=TIMEOUT_S)
    finally:
        consumer.close()


def read_from_earliest(broker, topic, end):
    """(offset, value) of every record a consumer starting at the earliest offset reads up to `end`."""
    consumer = Consumer({
        "bootstrap.servers": broker.bootstrap,
        "group.id": "from-earliest",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })
    consumer.assign([TopicPartition(topic, 0, ck.OFFSET_BEGINNING)])
    records = []
    deadline = time.monotonic() + 2 * TIMEOUT_S
    try:
        while (not records or records[-1][0] < end - 1) and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            records.append((message.offset(), message.value()))
    finally:
        consumer.close()
    return records


def delete_records(admin, topic, offset):
    """DeleteRecords for partition 0 below `offset`; returns the low watermark."""
    futures = admin.delete_records([TopicPartition(topic, 0, offset)], request_timeout=TIMEOUT_S)
    (future,) = futures.values()
    return future.result(timeout=TIMEOUT_S).low_watermark


def test_delete_records_is_seen_by_consumers_and_survives_restart_and_kill9(broker, topic_name):
    admin = admin_for(broker)
    create(admin, topic_name, 1)
    values = [b"v%d" % i for i in range(10)]
    produce(broker, topic_name, values)
    assert watermarks(broker, topic_name) == (0, 10)

    assert delete_records(admin, topic_name, 4) == 4
    assert watermarks(broker, topic_name) == (4, 10)
    expected = list(enumerate(values))[4:]
    assert read_from_earliest(broker, topic_name, 10) == expected

    if broker.restartable:
        broker.stop()
        broker.restart()
        assert watermarks(broker, topic_name) == (4, 10)
        assert read_from_earliest(broker, topic_name, 10) == expected

    admin = admin_for(broker)
    assert delete_records(admin, topic_name, 7) == 7
    if broker.restartable:
        broker.kill9()
        broker.restart()
    assert watermarks(broker, topic_name) == (7, 10)
    assert read_from_earliest(broker, topic_name, 10) == list(enumerate(values))[7:]

    # Past the high watermark: OFFSET_OUT_OF_RANGE, and the start stays.
    admin = admin_for(broker)
    try:
        delete_records(admin, topic_name, 11)
        raise AssertionError("deleting past the high watermark succeeded")
    except ck.KafkaException as e:
        assert e.args[0].code() == KafkaError.OFFSET_OUT_OF_RANGE, e
    # The high watermark itself (what the admin client's "delete everything" sends).
    assert delete_records(admin, topic_name, 10) == 10
    assert watermarks(broker, topic_name) == (10, 10)


def segment_bases(broker, topic):
    return sorted(int(p.stem) for p in (broker.log_dir / f"{topic}-0").glob("*.log"))


def context_switches(pid):
    """Voluntary context switches of the broker: each wait the event loop returns from is one."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    raise AssertionError("no voluntary_ctxt_switches in /proc/<pid>/status")


@pytest.mark.blazemq_only("starts its own broker with --segment-size and watches its process")
def test_retention_ms_deletes_old_segments_on_its_own_and_the_broker_then_sleeps(tmp_path, topic_name):
    broker = Broker(tmp_path, args=["--segment-size", "4096"]).start()
    try:
        admin = admin_for(broker)
        create(admin, topic_name, 1, {"retention.ms": "2000"})
        # About 1 KiB a batch: three batches a segment, seven segments.
        values = [bytes([65 + i]) * 1000 for i in range(20)]
        produce(broker, topic_name, values)
        bases = segment_bases(broker, topic_name)
        assert len(bases) >= 5, bases
        # Nothing asks the broker anything from here on: every client is gone.
        del admin
        gc.collect()

        deadline = time.monotonic() + 4 * TIMEOUT_S
        while len(segment_bases(broker, topic_name)) > 1:
            assert time.monotonic() < deadline, segment_bases(broker, topic_name)
            time.sleep(0.2)
        (active,) = segment_bases(broker, topic_name)
        assert active == bases[-1], "the active segment stays"

        # Idle now: no deadline is left, so the event loop does not wake at all.
        before = context_switches(broker.proc.pid)
        time.sleep(2.0)
        assert context_switches(broker.proc.pid) == before, "the idle broker woke up"

        assert watermarks(broker, topic_name) == (active, 20)
        assert read_from_earliest(broker, topic_name, 20) == list(enumerate(values))[active:]
    finally:
        broker._reap()
