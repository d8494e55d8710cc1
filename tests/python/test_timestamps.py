"""Topic timestamp types against the real binary, with confluent-kafka: a topic created with
message.timestamp.type=LogAppendTime hands consumers the broker's append time, not the producer's,
and a CreateTime topic hands them the producer's."""

import time

from conftest import require

require("confluent_kafka")
from confluent_kafka import TIMESTAMP_CREATE_TIME, TIMESTAMP_LOG_APPEND_TIME  # noqa: E402
from test_confluent_kafka import TIMEOUT_S, admin_for, consume_assigned, create, producer_for  # noqa: E402

PRODUCER_TS = 1_000_000_000_000  # 2001: far from any append time


def produce_old(broker, topic):
    producer = producer_for(broker)
    producer.produce(topic, b"v", timestamp=PRODUCER_TS)
    assert producer.flush(TIMEOUT_S) == 0


def test_log_append_time_topic_stamps_the_append_time(broker, topic_name):
    admin = admin_for(broker)
    stamped, kept = f"{topic_name}-lat", f"{topic_name}-ct"
    create(admin, stamped, 1, {"message.timestamp.type": "LogAppendTime"})
    create(admin, kept, 1)
    before_ms = int(time.time() * 1000)
    produce_old(broker, stamped)
    produce_old(broker, kept)
    after_ms = int(time.time() * 1000)

    (message,) = consume_assigned(broker, [(stamped, 0)], 1)
    kind, ts = message.timestamp()
    assert kind == TIMESTAMP_LOG_APPEND_TIME
    assert before_ms - 1000 <= ts <= after_ms + 1000, (before_ms, ts, after_ms)

    (message,) = consume_assigned(broker, [(kept, 0)], 1)
    assert message.timestamp() == (TIMESTAMP_CREATE_TIME, PRODUCER_TS)
