"""Records without a key on a compacted topic (KIP-467): a Produce holding one is refused whole
with INVALID_RECORD (87), the per-record `record_errors` and the `error_message` Kafka sets, and
nothing of the batch is appended. Raw Produce requests (the small client of test_idempotence.py)
read every field of the answer; confluent-kafka shows what an application sees.

The expected answers were recorded from Apache Kafka 4.1.1 and 4.4.0
(`scripts/kafka-reference.sh run .venv/bin/python -m pytest tests/python/test_compacted_keys.py`);
`python tests/python/test_compacted_keys.py host:port` prints a broker's answers.
"""

import gzip
import struct
import sys
import time
import uuid

import pytest

from conftest import Broker, require
from test_idempotence import (
    CREATE_TOPICS, NONE, NOT_READY, PRODUCE, TIMEOUT_S, Client, compact_string, crc32c,
    read_uvarint, string, uvarint, varint,
)

INVALID_RECORD = 87
GZIP = 1  # record batch attributes: compression codec
# The Produce versions that carry record_errors and error_message (8+), flexible from 9.
ERROR_VERSIONS = (8, 9, 11)


def record_batch(keys, compression=0):
    """A record batch v2 of one record per key (None: no key), each valued b"v<i>"."""
    records = b""
    for i, key in enumerate(keys):
        value = b"v%d" % i
        body = b"\x00" + varint(0) + varint(i)
        body += varint(-1) if key is None else varint(len(key)) + key
        body += varint(len(value)) + value + varint(0)
        records += varint(len(body)) + body
    if compression == GZIP:
        records = gzip.compress(records)
    ts = int(time.time() * 1000)
    count = len(keys)
    covered = struct.pack(">hiqqqhii", compression, count - 1, ts, ts, -1, -1, -1, count) + records
    after_length = struct.pack(">ibI", 0, 2, crc32c(covered)) + covered
    return struct.pack(">qi", 0, len(after_length)) + after_length


def produce(client, version, topic, batch):
    """Produce `batch` to partition 0 with acks=-1: (error, base offset, record errors as
    [(batch index, message)], error message); the last two are None before v8."""
    flexible = version >= 9
    if flexible:
        body = compact_string(None) + struct.pack(">hi", -1, 5000)
        body += uvarint(2) + compact_string(topic) + uvarint(2)
        body += struct.pack(">i", 0) + uvarint(len(batch) + 1) + batch + uvarint(0)
        body += uvarint(0) + uvarint(0)
    else:
        body = string(None) + struct.pack(">hi", -1, 5000)
        body += struct.pack(">i", 1) + string(topic) + struct.pack(">ii", 1, 0)
        body += struct.pack(">i", len(batch)) + batch
    resp = Reader(client.call(PRODUCE, version, body, flexible), flexible)
    assert resp.array_len() == 1
    resp.string()
    assert resp.array_len() == 1
    index, error, base_offset = resp.unpack(">ihq")
    assert index == 0
    resp.unpack(">q")  # log append time
    if version >= 5:
        resp.unpack(">q")  # log start offset
    if version < 8:
        return error, base_offset, None, None
    record_errors = [(resp.unpack(">i")[0], resp.string(skip_tags=True))
                     for _ in range(resp.array_len())]
    return error, base_offset, record_errors, resp.string()


class Reader:
    """Reads a response body field by field."""

    def __init__(self, data, flexible):
        self.data, self.off, self.flexible = data, 0, flexible

    def unpack(self, fmt):
        values = struct.unpack_from(fmt, self.data, self.off)
        self.off += struct.calcsize(fmt)
        return values

    def uvarint(self):
        v, self.off = read_uvarint(self.data, self.off)
        return v

    def array_len(self):
        return self.uvarint() - 1 if self.flexible else self.unpack(">i")[0]

    def string(self, skip_tags=False):
        n = self.uvarint() - 1 if self.flexible else self.unpack(">h")[0]
        s = None if n < 0 else self.data[self.off:self.off + n].decode()
        self.off += max(n, 0)
        if skip_tags and self.flexible:
            # The end of a record error (a struct in a flexible array): its tagged fields.
            assert self.uvarint() == 0
        return s


def create_topic(client, config):
    """A new one-partition topic with `config` ({name: value}), through CreateTopics v2."""
    name = "keys-" + uuid.uuid4().hex[:12]
    body = struct.pack(">i", 1) + string(name) + struct.pack(">ihi", 1, 1, 0)
    body += struct.pack(">i", len(config))
    for k, v in config.items():
        body += string(k) + string(v)
    body += struct.pack(">ib", 10_000, 0)
    resp = client.call(CREATE_TOPICS, 2, body, False)
    (name_len,) = struct.unpack(">h", resp[8:10])
    (error,) = struct.unpack(">h", resp[10 + name_len:12 + name_len])
    assert error == NONE, error
    # A real Kafka needs a moment before the new partition takes writes.
    deadline = time.monotonic() + TIMEOUT_S
    probe = record_batch([b"ready"])
    while True:
        error = produce(client, 3, name, probe)[0]
        if error not in NOT_READY or time.monotonic() > deadline:
            assert error == NONE, error
            return name
        time.sleep(0.2)


def expected_error_message(topic, indexes):
    """Kafka's LogValidator.processRecordErrors text for key errors at `indexes`."""
    errors = ", ".join(
        f"RecordError(batchIndex={i}, message='{key_error(topic)}')" for i in indexes[:3])
    return (f"One or more records have been rejected due to {len(indexes)} record errors in "
            f"total, and only showing the first three errors at most: [{errors}]")


def key_error(topic):
    return f"Compacted topic cannot accept message without key in topic partition {topic}-0"


@pytest.fixture
def client(broker):
    c = Client(broker.bootstrap)
    try:
        yield c
    finally:
        c.close()


@pytest.mark.parametrize("compression", (0, GZIP), ids=("uncompressed", "gzip"))
@pytest.mark.parametrize("version", ERROR_VERSIONS)
def test_records_without_keys_are_refused_per_record(client, version, compression):
    topic = create_topic(client, {"cleanup.policy": "compact"})
    keys = [b"a", None, b"b", None, None, None, b"c"]
    error, base_offset, record_errors, message = produce(
        client, version, topic, record_batch(keys, compression))
    missing = [i for i, k in enumerate(keys) if k is None]
    assert (error, base_offset) == (INVALID_RECORD, -1)
    assert record_errors == [(i, key_error(topic)) for i in missing]
    assert message == expected_error_message(topic, missing)
    # Nothing of the batch was appended: the next keyed batch follows the probe (offset 0).
    assert produce(client, version, topic, record_batch([b"k"], compression))[:2] == (NONE, 1)


@pytest.mark.parametrize("policy", ("compact,delete", "delete,compact"))
def test_compact_among_other_policies_refuses_them_too(client, policy):
    topic = create_topic(client, {"cleanup.policy": policy})
    assert produce(client, 11, topic, record_batch([None]))[:3] == (
        INVALID_RECORD, -1, [(0, key_error(topic))])


def test_before_version_8_only_the_error_code_tells(client):
    topic = create_topic(client, {"cleanup.policy": "compact"})
    assert produce(client, 3, topic, record_batch([b"k", None])) == (INVALID_RECORD, -1, None, None)


def test_a_delete_topic_takes_records_without_keys(client):
    topic = create_topic(client, {"cleanup.policy": "delete"})
    assert produce(client, 11, topic, record_batch([None, b"k"])) == (NONE, 1, [], None)


def test_confluent_kafka_producer_gets_invalid_record(broker, client):
    ck = require("confluent_kafka")
    topic = create_topic(client, {"cleanup.policy": "compact"})
    producer = ck.Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0, "retries": 0})
    reports = []
    producer.produce(topic, b"no key", on_delivery=lambda err, msg: reports.append(err))
    assert producer.flush(TIMEOUT_S) == 0
    producer.produce(topic, b"keyed", key=b"k", on_delivery=lambda err, msg: reports.append(err))
    assert producer.flush(TIMEOUT_S) == 0
    assert len(reports) == 2
    assert reports[0] is not None and reports[0].code() == ck.KafkaError.INVALID_RECORD, reports[0]
    assert reports[1] is None, reports[1]


@pytest.mark.blazemq_only("starts its own broker with --log-cleanup-policy")
def test_log_cleanup_policy_compact_is_every_new_topics_default(tmp_path):
    broker = Broker(tmp_path, args=["--log-cleanup-policy", "compact"]).start()
    c = Client(broker.bootstrap)
    try:
        topic = create_topic(c, {})
        assert produce(c, 11, topic, record_batch([None]))[:3] == (
            INVALID_RECORD, -1, [(0, key_error(topic))])
        own = create_topic(c, {"cleanup.policy": "delete"})
        assert produce(c, 11, own, record_batch([None, b"k"])) == (NONE, 1, [], None)
    finally:
        c.close()
        broker._reap()


def print_answers(bootstrap):
    c = Client(bootstrap)
    compacted = create_topic(c, {"cleanup.policy": "compact"})
    for version in (3, 8, 9, 11):
        for compression in (0, GZIP):
            answer = produce(c, version, compacted, record_batch([b"a", None, None], compression))
            print(f"v{version} compression={compression}: {answer}")
    c.close()


if __name__ == "__main__":
    print_answers(sys.argv[1])
