"""Idempotent producers against the real binary, with confluent-kafka (librdkafka checks every
answer's sequence handling and fails fatally on one it cannot explain): many batches in flight over
several partitions arrive once each, in order per partition, and a producer that restarts (a new
producer id) goes on where the log is."""

from conftest import require

require("confluent_kafka")
from test_confluent_kafka import TIMEOUT_S, admin_for, consume_assigned, create, producer_for  # noqa: E402


def produce_idempotently(broker, topic, count, partitions):
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
    assert producer.flush(TIMEOUT_S) == 0
    assert errors == []


def test_idempotent_batches_arrive_once_each_in_order(broker, topic_name):
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
