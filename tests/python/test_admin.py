"""Topic administration beyond creation: DeleteTopics and DescribeConfigs, as confluent-kafka's
and kafka-python's admin clients use them."""

import time

from conftest import require

ck = require("confluent_kafka")
from confluent_kafka.admin import ConfigResource  # noqa: E402
from test_confluent_kafka import TIMEOUT_S, admin_for, create  # noqa: E402


def produce(broker, topic, values):
    producer = ck.Producer({"bootstrap.servers": broker.bootstrap})
    for v in values:
        producer.produce(topic, v)
    assert producer.flush(TIMEOUT_S) == 0


def test_delete_topic_then_create_it_again_empty(broker, topic_name):
    admin = admin_for(broker)
    create(admin, topic_name, 2)
    produce(broker, topic_name, [b"a", b"b"])
    admin.delete_topics([topic_name], request_timeout=TIMEOUT_S)[topic_name].result(timeout=TIMEOUT_S)
    deadline = time.monotonic() + TIMEOUT_S
    while topic_name in admin.list_topics(timeout=TIMEOUT_S).topics:
        assert time.monotonic() < deadline, "the deleted topic is still listed"
        time.sleep(0.1)
    # Deleting it again: UNKNOWN_TOPIC_OR_PARTITION.
    again = admin.delete_topics([topic_name], request_timeout=TIMEOUT_S)[topic_name]
    try:
        again.result(timeout=TIMEOUT_S)
        raise AssertionError("deleting a missing topic succeeded")
    except ck.KafkaException as e:
        assert e.args[0].code() == ck.KafkaError.UNKNOWN_TOPIC_OR_PART
    create(admin, topic_name, 1)
    low, high = ck.Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "wm"}).get_watermark_offsets(
        ck.TopicPartition(topic_name, 0), timeout=TIMEOUT_S)
    assert (low, high) == (0, 0), "the new topic starts empty"
    # And the deletion survives a restart.
    broker.stop()
    broker.restart()
    assert admin_for(broker).list_topics(timeout=TIMEOUT_S).topics[topic_name].partitions.keys() == {0}


def test_describe_configs_of_a_topic_and_the_broker(broker, topic_name):
    admin = admin_for(broker)
    create(admin, topic_name, 1, {"retention.ms": "3600000", "cleanup.policy": "compact"})
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic_name)
    configs = admin.describe_configs([resource], request_timeout=TIMEOUT_S)[resource].result(timeout=TIMEOUT_S)
    assert configs["retention.ms"].value == "3600000"
    assert configs["retention.ms"].source == ck.admin.ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert configs["cleanup.policy"].value == "compact"
    assert configs["max.message.bytes"].is_default
    broker_resource = ConfigResource(ConfigResource.Type.BROKER, "0")
    broker_configs = admin.describe_configs([broker_resource],
                                            request_timeout=TIMEOUT_S)[broker_resource].result(timeout=TIMEOUT_S)
    assert broker_configs["num.partitions"].value == "1"
    assert broker_configs["auto.create.topics.enable"].value == "true"
