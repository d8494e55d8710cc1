"""Idempotent and transactional produce against the real binary.

First, raw Produce requests (a small client below, written with `struct`) whose answers are Apache
Kafka's, recorded from Kafka 4.1.1 and 4.4.0: with `BLAZEMQ_BOOTSTRAP=host:port` (conftest) these
tests run against any broker, e.g.
    scripts/kafka-reference.sh run .venv/bin/python -m pytest tests/python/test_idempotence.py
and `python tests/python/test_idempotence.py host:port` prints a broker's answers to every case.

Then confluent-kafka (librdkafka checks every answer's sequence handling and fails fatally on one
it cannot explain): many batches in flight over several partitions arrive once each, in order per
partition, and a producer that restarts (a new producer id) goes on where the log is.
"""

import itertools
import socket
import struct
import sys
import time
import uuid

import pytest

from conftest import require

TIMEOUT_S = 15
VERSIONS = (3, 9, 11)  # the first Produce with record batch v2, the first flexible one, the newest

# Kafka's error codes.
NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
NOT_LEADER_OR_FOLLOWER = 6
COORDINATOR_LOAD_IN_PROGRESS = 14
COORDINATOR_NOT_AVAILABLE = 15
NOT_ENOUGH_REPLICAS = 19
INVALID_PRODUCER_ID_MAPPING = 49
TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53
# What a broker answers while a topic it just created, or its transaction log, is not ready yet.
NOT_READY = {UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER, COORDINATOR_LOAD_IN_PROGRESS,
             COORDINATOR_NOT_AVAILABLE, NOT_ENOUGH_REPLICAS}

PRODUCE, FIND_COORDINATOR, CREATE_TOPICS, INIT_PRODUCER_ID = 0, 10, 19, 22
TRANSACTIONAL = 0x10  # record batch attributes bit 4


def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


CRC32C_TABLE = _crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc = CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def uvarint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def varint(v):
    return uvarint((v << 1) ^ (v >> 63))


def read_uvarint(b, off):
    v, shift = 0, 0
    while True:
        byte = b[off]
        off += 1
        v |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return v, off
        shift += 7


def string(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def compact_string(s):
    if s is None:
        return uvarint(0)
    b = s.encode()
    return uvarint(len(b) + 1) + b


def record_batch(producer_id=-1, epoch=-1, base_sequence=-1, count=1, attributes=0):
    """A record batch v2 of `count` one-byte records, uncompressed, with its CRC-32C."""
    records = b""
    for i in range(count):
        body = b"\x00" + varint(0) + varint(i) + varint(-1) + varint(1) + b"v" + varint(0)
        records += varint(len(body)) + body
    ts = 1_700_000_000_000
    covered = struct.pack(">hiqqqhii", attributes, count - 1, ts, ts, producer_id, epoch,
                          base_sequence, count) + records
    after_length = struct.pack(">ibI", 0, 2, crc32c(covered)) + covered
    return struct.pack(">qi", 0, len(after_length)) + after_length


class Client:
    """One connection; requests are answered in order, so one in flight at a time suffices."""

    def __init__(self, bootstrap):
        host, port = bootstrap.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=TIMEOUT_S)
        self.correlation = itertools.count(1)
        # {partition: base offset} of the last Produce's answer.
        self.base_offsets = {}

    def close(self):
        self.sock.close()

    def call(self, api_key, version, body, flexible):
        """The response body after the correlation id (and, when flexible, the header's tags)."""
        cid = next(self.correlation)
        header = struct.pack(">hhi", api_key, version, cid) + string("raw")
        if flexible:
            header += uvarint(0)
        frame = header + body
        self.sock.sendall(struct.pack(">i", len(frame)) + frame)
        (size,) = struct.unpack(">i", self._read(4))
        resp = self._read(size)
        assert struct.unpack(">i", resp[:4])[0] == cid
        # A flexible response header ends with its (empty) tagged fields.
        return resp[5:] if flexible else resp[4:]

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            buf += chunk
        return buf

    def produce(self, version, topic, batches, transactional_id=None):
        """Produce `batches` ({partition: batch}) with acks=-1; the error code per partition."""
        if version >= 9:
            body = compact_string(transactional_id) + struct.pack(">hi", -1, 5000)
            body += uvarint(2) + compact_string(topic) + uvarint(len(batches) + 1)
            for index, batch in batches.items():
                body += struct.pack(">i", index) + uvarint(len(batch) + 1) + batch + uvarint(0)
            body += uvarint(0) + uvarint(0)
            return self._produce_errors(self.call(PRODUCE, version, body, True), True)
        body = string(transactional_id) + struct.pack(">hi", -1, 5000)
        body += struct.pack(">i", 1) + string(topic) + struct.pack(">i", len(batches))
        for index, batch in batches.items():
            body += struct.pack(">ii", index, len(batch)) + batch
        return self._produce_errors(self.call(PRODUCE, version, body, False), False)

    def _produce_errors(self, resp, flexible):
        """{partition: error code} of the one topic of a Produce response; the base offsets go
        to `self.base_offsets`."""
        if flexible:
            _, off = read_uvarint(resp, 0)  # topics
            name_len, off = read_uvarint(resp, off)
            off += name_len - 1
            count, off = read_uvarint(resp, off)
            count -= 1
        else:
            (name_len,) = struct.unpack(">h", resp[4:6])
            off = 6 + name_len
            (count,) = struct.unpack(">i", resp[off:off + 4])
            off += 4
        errors = {}
        self.base_offsets = {}
        for _ in range(count):
            index, error, base_offset = struct.unpack(">ihq", resp[off:off + 14])
            errors[index] = error
            self.base_offsets[index] = base_offset
            off += 6 + 8 + 8  # index and error, base offset, log append time
            if flexible:
                off += 8  # log start offset
                n, off = read_uvarint(resp, off)
                assert n == 1, "no record errors"
                message_len, off = read_uvarint(resp, off)
                off += max(message_len - 1, 0)
                tags, off = read_uvarint(resp, off)
                for _ in range(tags):
                    _, off = read_uvarint(resp, off)
                    size, off = read_uvarint(resp, off)
                    off += size
        return errors

    def init_producer_id(self, transactional_id=None):
        """InitProducerId v1: (error, producer id, epoch)."""
        body = string(transactional_id) + struct.pack(">i", 60_000)
        resp = self.call(INIT_PRODUCER_ID, 1, body, False)
        _, error, producer_id, epoch = struct.unpack(">ihqh", resp[:16])
        return error, producer_id, epoch

    def find_transaction_coordinator(self, transactional_id):
        """FindCoordinator v1 for a transactional id: (error,)."""
        body = string(transactional_id) + struct.pack(">b", 1)
        resp = self.call(FIND_COORDINATOR, 1, body, False)
        return struct.unpack(">h", resp[4:6])

    def create_topic(self, name, partitions):
        """CreateTopics v2; the topic's error code."""
        body = struct.pack(">i", 1) + string(name) + struct.pack(">ihii", partitions, 1, 0, 0)
        body += struct.pack(">ib", 10_000, 0)
        resp = self.call(CREATE_TOPICS, 2, body, False)
        (name_len,) = struct.unpack(">h", resp[8:10])
        (error,) = struct.unpack(">h", resp[10 + name_len:12 + name_len])
        return error


def until_ready(attempt):
    """`attempt()`'s answer once it is not a "not ready yet" code (a real Kafka needs a moment
    after creating a topic or its transaction log; BlazeMQ answers at once)."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        answer = attempt()
        codes = answer.values() if isinstance(answer, dict) else [answer[0]]
        if not NOT_READY.intersection(codes) or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def new_topic(client, partitions):
    """A topic of its own (a shared broker may hold earlier runs'), ready to be written."""
    name = "idem-" + uuid.uuid4().hex[:12]
    assert client.create_topic(name, partitions) == NONE
    plain = {p: record_batch() for p in range(partitions)}
    assert until_ready(lambda: client.produce(3, name, plain)) == {p: NONE for p in plain}
    return name


@pytest.fixture
def client(broker):
    c = Client(broker.bootstrap)
    try:
        yield c
    finally:
        c.close()


def unknown_producer_id():
    # Far above any id a fresh broker hands out (Kafka's start at 0, BlazeMQ's at the clock's
    # milliseconds), and different per call.
    return (1 << 62) + uuid.uuid4().int % (1 << 40)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_producer_id_never_issued_may_start_at_any_sequence(client, version):
    # Kafka keeps no registry of idempotent producers' ids: a partition with no state for one
    # accepts its first batch at any sequence (ProducerAppendInfo), 0 and 5 alike.
    topic = new_topic(client, 2)
    at_five = unknown_producer_id()
    batches = {0: record_batch(unknown_producer_id(), 0, 0), 1: record_batch(at_five, 0, 5)}
    assert client.produce(version, topic, batches) == {0: NONE, 1: NONE}
    # Its state now exists: a gap is refused (OUT_OF_ORDER_SEQUENCE_NUMBER, 45), the next in
    # order appended.
    assert client.produce(version, topic, {1: record_batch(at_five, 0, 8)}) == {1: 45}
    assert client.produce(version, topic, {1: record_batch(at_five, 0, 6)}) == {1: NONE}


@pytest.mark.parametrize("version", VERSIONS)
def test_an_issued_producer_may_start_a_partition_at_sequence_5(client, version):
    topic = new_topic(client, 1)
    error, producer_id, epoch = until_ready(lambda: client.init_producer_id())
    assert error == NONE and producer_id >= 0 and epoch >= 0
    first = record_batch(producer_id, epoch, 5, count=2)
    assert client.produce(version, topic, {0: first}) == {0: NONE}
    # From there on its sequence is checked: 7 is next, 9 leaves a gap (OUT_OF_ORDER, 45).
    assert client.produce(version, topic, {0: record_batch(producer_id, epoch, 9)}) == {0: 45}
    assert client.produce(version, topic, {0: record_batch(producer_id, epoch, 7)}) == {0: NONE}


@pytest.mark.parametrize("version", VERSIONS)
def test_a_transactional_batch_without_a_transactional_id_fails_the_request(client, version):
    topic = new_topic(client, 2)
    error, producer_id, epoch = until_ready(lambda: client.init_producer_id())
    assert error == NONE
    batches = {0: record_batch(producer_id, epoch, 0, attributes=TRANSACTIONAL),
               1: record_batch()}
    # Every partition gets the error, the plain batch beside the transactional one included.
    refused = TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    assert client.produce(version, topic, batches) == {0: refused, 1: refused}
    # Without a producer id too: the attribute alone decides.
    no_id = {0: record_batch(attributes=TRANSACTIONAL)}
    assert client.produce(version, topic, no_id) == {0: refused}


@pytest.mark.parametrize("version", VERSIONS)
def test_a_transactional_batch_outside_a_transaction_is_refused(client, version):
    # A transactional client first finds its coordinator (on Kafka this creates the transaction
    # log; until it exists, Kafka answers the batch below NOT_ENOUGH_REPLICAS, retriable). The
    # transactional id is never initialised (BlazeMQ has no transactions, so none ever is):
    # KIP-890 verification finds no producer id mapped to it.
    assert until_ready(lambda: client.find_transaction_coordinator("never-initialised")) == (NONE,)
    topic = new_topic(client, 2)
    error, producer_id, epoch = until_ready(lambda: client.init_producer_id())
    assert error == NONE
    batches = {0: record_batch(producer_id, epoch, 0, attributes=TRANSACTIONAL),
               1: record_batch(producer_id, epoch, 0)}
    answer = until_ready(lambda: client.produce(version, topic, batches,
                                                transactional_id="never-initialised"))
    # The idempotent batch beside it is appended.
    assert answer == {0: INVALID_PRODUCER_ID_MAPPING, 1: NONE}


@pytest.mark.blazemq_only("kills the binary with SIGKILL and starts it again")
@pytest.mark.parametrize("version", (3, 11))
def test_a_retry_after_kill_9_is_answered_as_a_duplicate(broker, version):
    # The producer's sequence state survives the crash (Kafka restores it from its snapshots):
    # a batch whose answer was lost is answered with its first offset, not appended twice.
    client = Client(broker.bootstrap)
    topic = new_topic(client, 1)
    error, producer_id, epoch = until_ready(lambda: client.init_producer_id())
    assert error == NONE
    offsets = []
    for seq in range(0, 30, 3):
        batch = record_batch(producer_id, epoch, seq, count=3)
        assert client.produce(version, topic, {0: batch}) == {0: NONE}
        offsets.append(client.base_offsets[0])
    client.close()
    broker.kill9()
    broker.restart()
    client = Client(broker.bootstrap)
    try:
        for seq, offset in ((27, offsets[-1]), (18, offsets[-4])):
            batch = record_batch(producer_id, epoch, seq, count=3)
            assert client.produce(version, topic, {0: batch}) == {0: NONE}
            assert client.base_offsets[0] == offset, f"sequence {seq} again"
        gap = record_batch(producer_id, epoch, 31)
        assert client.produce(version, topic, {0: gap}) == {0: 45}  # OUT_OF_ORDER_SEQUENCE
        assert client.produce(version, topic, {0: record_batch(producer_id, epoch, 30)}) == {0: NONE}
        assert client.base_offsets[0] == offsets[-1] + 3, "appended after the last batch"
    finally:
        client.close()


def test_idempotent_batches_arrive_once_each_in_order(broker, topic_name):
    require("confluent_kafka")
    from test_confluent_kafka import admin_for, consume_assigned, create

    create(admin_for(broker), topic_name, 3)
    produce_idempotently(broker, topic_name, 3_000, 3)
    produce_idempotently(broker, topic_name, 300, 3)  # a new producer id, same partitions
    messages = consume_assigned(broker, [(topic_name, p) for p in range(3)], 3_300)
    assert len(messages) == 3_300
    for p in range(3):
        values = [int(m.value()) for m in messages if m.partition() == p]
        expected = [i for i in range(3_000) if i % 3 == p] + [i for i in range(300) if i % 3 == p]
        assert values == expected, p
        offsets = [m.offset() for m in messages if m.partition() == p]
        assert offsets == list(range(len(expected)))


def produce_idempotently(broker, topic, count, partitions):
    from test_confluent_kafka import TIMEOUT_S as CLIENT_TIMEOUT_S, producer_for

    errors = []
    producer = producer_for(
        broker,
        **{
            "enable.idempotence": True,
            "linger.ms": 1,
            "batch.num.messages": 7,
            "max.in.flight.requests.per.connection": 5,
        },
    )

    def delivered(err, _msg):
        if err is not None:
            errors.append(err)

    for i in range(count):
        producer.produce(topic, str(i).encode(), partition=i % partitions, on_delivery=delivered)
        producer.poll(0)
    assert producer.flush(CLIENT_TIMEOUT_S) == 0
    assert errors == []


def print_answers(bootstrap):
    """Every case above at every version, as a table: what a broker answers."""
    c = Client(bootstrap)
    topic = new_topic(c, 4)
    until_ready(lambda: c.find_transaction_coordinator("never-initialised"))
    _, pid, epoch = until_ready(lambda: c.init_producer_id())
    cases = [
        ("never-issued producer id, sequence 0", None,
         lambda: {0: record_batch(unknown_producer_id(), 0, 0)}),
        ("never-issued producer id, sequence 5", None,
         lambda: {1: record_batch(unknown_producer_id(), 0, 5)}),
        ("transactional, no transactional_id", None,
         lambda: {2: record_batch(pid, epoch, 0, attributes=TRANSACTIONAL)}),
        ("transactional, transactional_id never initialised", "never-initialised",
         lambda: {2: record_batch(pid, epoch, 0, attributes=TRANSACTIONAL)}),
        ("idempotent, with a transactional_id", "never-initialised",
         lambda: {3: record_batch(unknown_producer_id(), 0, 0)}),
    ]
    for name, txid, batches in cases:
        row = []
        for version in VERSIONS:
            sent = batches()  # fresh producer ids per version: no answer is a duplicate's
            answer = until_ready(lambda: c.produce(version, topic, sent, transactional_id=txid))
            row.append(f"v{version}: {list(answer.values())[0]}")
        print(f"{name:52} " + "  ".join(row))
    c.close()


if __name__ == "__main__":
    print_answers(sys.argv[1])
