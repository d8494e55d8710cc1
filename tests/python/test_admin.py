"""Topic administration beyond creation: DeleteTopics, DescribeConfigs, CreatePartitions,
IncrementalAlterConfigs, AlterConfigs and DescribeCluster, as confluent-kafka's and kafka-python's
admin clients use them."""

import time

import pytest

from conftest import require

ck = require("confluent_kafka")
kafka = require("kafka")
from confluent_kafka.admin import (  # noqa: E402
    AclOperation, AlterConfigOpType, ConfigEntry, ConfigResource, NewPartitions)
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer  # noqa: E402
from kafka import TopicPartition as KTopicPartition  # noqa: E402
from kafka.admin import ConfigResource as KConfigResource  # noqa: E402
from kafka.admin import ConfigResourceType  # noqa: E402
from kafka.admin import NewTopic as KNewTopic  # noqa: E402
from test_confluent_kafka import (  # noqa: E402
    TIMEOUT_S, admin_for, consume_assigned, create, producer_for)

TIMEOUT_MS = int(TIMEOUT_S * 1000)


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
    if not broker.restartable:
        return
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


def partitions_of(admin, topic):
    return set(admin.list_topics(topic, timeout=TIMEOUT_S).topics[topic].partitions)


def failure_code(future):
    """The Kafka error code a future fails with, or NO_ERROR."""
    try:
        future.result(timeout=TIMEOUT_S)
    except ck.KafkaException as e:
        return e.args[0].code()
    return ck.KafkaError.NO_ERROR


def topic_configs(admin, topic):
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    return admin.describe_configs([resource], request_timeout=TIMEOUT_S)[resource].result(timeout=TIMEOUT_S)


def test_create_partitions_then_produce_to_and_consume_the_new_one(broker, topic_name):
    admin = admin_for(broker)
    create(admin, topic_name, 1)
    grow = NewPartitions(topic_name, 3)
    admin.create_partitions([grow], request_timeout=TIMEOUT_S)[topic_name].result(timeout=TIMEOUT_S)
    assert partitions_of(admin, topic_name) == {0, 1, 2}
    producer = producer_for(broker)
    producer.produce(topic_name, b"on-two", partition=2)
    assert producer.flush(TIMEOUT_S) == 0
    records = consume_assigned(broker, [(topic_name, 2)], 1)
    assert [(r.partition(), r.offset(), r.value()) for r in records] == [(2, 0, b"on-two")]
    if not broker.restartable:
        return
    # The new partitions, and what they hold, survive a restart.
    broker.stop()
    broker.restart()
    assert partitions_of(admin_for(broker), topic_name) == {0, 1, 2}
    records = consume_assigned(broker, [(topic_name, 2)], 1)
    assert [r.value() for r in records] == [b"on-two"]


def test_create_partitions_refusals_and_validate_only(broker, topic_name):
    admin = admin_for(broker)
    create(admin, topic_name, 2)

    def outcome(new_partitions, **options):
        futures = admin.create_partitions([new_partitions], request_timeout=TIMEOUT_S, **options)
        return failure_code(futures[new_partitions.topic])

    assert outcome(NewPartitions(topic_name, 2)) == ck.KafkaError.INVALID_PARTITIONS
    assert outcome(NewPartitions(topic_name, 1)) == ck.KafkaError.INVALID_PARTITIONS
    assert outcome(NewPartitions("missing-" + topic_name, 3)) == ck.KafkaError.UNKNOWN_TOPIC_OR_PART
    assert outcome(NewPartitions(topic_name, 3, replica_assignment=[[7]])) == \
        ck.KafkaError.INVALID_REPLICA_ASSIGNMENT
    assert outcome(NewPartitions(topic_name, 5), validate_only=True) == ck.KafkaError.NO_ERROR
    assert partitions_of(admin, topic_name) == {0, 1}, "nothing changed"
    assert outcome(NewPartitions(topic_name, 3, replica_assignment=[[0]])) == ck.KafkaError.NO_ERROR
    assert partitions_of(admin, topic_name) == {0, 1, 2}


def test_kafka_python_clients_see_new_partitions_when_metadata_refreshes(broker, topic_name):
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=TIMEOUT_MS)
    admin.create_topics([KNewTopic(topic_name, num_partitions=1, replication_factor=1)])
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, metadata_max_age_ms=200,
                             request_timeout_ms=TIMEOUT_MS, max_block_ms=TIMEOUT_MS)
    assert producer.partitions_for(topic_name) == {0}
    admin.create_partitions({topic_name: 3})
    deadline = time.monotonic() + TIMEOUT_S
    while producer.partitions_for(topic_name) != {0, 1, 2}:
        assert time.monotonic() < deadline, "the producer never saw the new partitions"
        time.sleep(0.05)
    producer.send(topic_name, b"late", partition=2).get(timeout=TIMEOUT_S)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=int(TIMEOUT_S * 1000))
    consumer.assign([KTopicPartition(topic_name, 2)])
    message = next(iter(consumer))
    consumer.close()
    admin.close()
    assert (message.partition, message.value) == (2, b"late")


def test_incremental_alter_configs_set_append_delete_and_restart(broker, topic_name):
    admin = admin_for(broker)
    create(admin, topic_name, 2, {"retention.ms": "3600000"})
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic_name, incremental_configs=[
        ConfigEntry("max.message.bytes", "2000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND),
        ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE),
    ])
    admin.incremental_alter_configs([resource], request_timeout=TIMEOUT_S)[resource].result(timeout=TIMEOUT_S)

    def check(configs):
        assert configs["max.message.bytes"].value == "2000"
        assert configs["max.message.bytes"].source == ck.admin.ConfigSource.DYNAMIC_TOPIC_CONFIG.value
        assert configs["cleanup.policy"].value == "delete,compact", "appended to the default"
        assert configs["retention.ms"].value == "604800000"
        assert configs["retention.ms"].is_default, "deleted: back to the default"

    check(topic_configs(admin, topic_name))
    # The live topic honours the new max.message.bytes at once.
    producer = producer_for(broker)
    outcomes = []
    # Keyed: the topic is now compacted, and a compacted topic takes only records with keys.
    producer.produce(topic_name, b"x" * 3000, b"k", partition=0, on_delivery=lambda e, m: outcomes.append(e))
    producer.produce(topic_name, b"x" * 500, b"k", partition=1, on_delivery=lambda e, m: outcomes.append(e))
    assert producer.flush(TIMEOUT_S) == 0
    assert [e.code() if e else None for e in outcomes] == [ck.KafkaError.MSG_SIZE_TOO_LARGE, None]
    if not broker.restartable:
        return
    broker.stop()
    broker.restart()
    check(topic_configs(admin_for(broker), topic_name))


def test_incremental_alter_configs_refusals(broker, topic_name):
    admin = admin_for(broker)
    create(admin, topic_name, 1)

    def outcome(resource_type, name, entries, **options):
        resource = ConfigResource(resource_type, name, incremental_configs=entries)
        futures = admin.incremental_alter_configs([resource], request_timeout=TIMEOUT_S, **options)
        return failure_code(futures[resource])

    topic = ConfigResource.Type.TOPIC
    append = AlterConfigOpType.APPEND
    assert outcome(topic, topic_name, [ConfigEntry("retention.ms", "1", incremental_operation=append)]) == \
        ck.KafkaError.INVALID_CONFIG, "APPEND to a config that is not a list"
    assert outcome(topic, topic_name, [ConfigEntry("retention.ms", "soon",
                                                   incremental_operation=AlterConfigOpType.SET)]) == \
        ck.KafkaError.INVALID_CONFIG
    assert outcome(topic, "missing-" + topic_name, [ConfigEntry(
        "retention.ms", "1", incremental_operation=AlterConfigOpType.SET)]) == ck.KafkaError.UNKNOWN_TOPIC_OR_PART
    assert outcome(topic, topic_name, [ConfigEntry("retention.ms", "1", incremental_operation=AlterConfigOpType.SET)],
                   validate_only=True) == ck.KafkaError.NO_ERROR
    assert topic_configs(admin, topic_name)["retention.ms"].is_default, "validate_only changed nothing"
    # A setting read only at startup is refused, as Kafka refuses one it cannot update dynamically;
    # so is a value the setting cannot hold.
    assert outcome(ConfigResource.Type.BROKER, "0", [ConfigEntry(
        "num.partitions", "3", incremental_operation=AlterConfigOpType.SET)]) == ck.KafkaError.INVALID_REQUEST
    assert outcome(ConfigResource.Type.BROKER, "0", [ConfigEntry(
        "log.retention.ms", "soon", incremental_operation=AlterConfigOpType.SET)]) == ck.KafkaError.INVALID_REQUEST


def test_dynamic_broker_settings_are_the_topics_defaults(broker, topic_name):
    admin = admin_for(broker)
    create(admin, topic_name, 1)
    own = "0"
    set_ = AlterConfigOpType.SET

    def alter_broker(entries):
        resource = ConfigResource(ConfigResource.Type.BROKER, own, incremental_configs=entries)
        admin.incremental_alter_configs([resource], request_timeout=TIMEOUT_S)[resource].result(timeout=TIMEOUT_S)

    def broker_configs():
        resource = ConfigResource(ConfigResource.Type.BROKER, own)
        return admin.describe_configs([resource], request_timeout=TIMEOUT_S)[resource].result(timeout=TIMEOUT_S)

    alter_broker([ConfigEntry("log.retention.ms", "3600000", incremental_operation=set_),
                  ConfigEntry("message.max.bytes", "2000", incremental_operation=set_)])
    try:
        dynamic = ck.admin.ConfigSource.DYNAMIC_BROKER_CONFIG.value
        # Kafka applies a change to its brokers a moment after it answers.
        deadline = time.monotonic() + TIMEOUT_S
        while (configs := broker_configs())["log.retention.ms"].value is None:
            assert time.monotonic() < deadline, "the new setting is not described"
            time.sleep(0.1)
        assert (configs["log.retention.ms"].value, configs["log.retention.ms"].source) == ("3600000", dynamic)
        assert not configs["log.retention.ms"].is_read_only
        assert configs["num.partitions"].is_read_only
        # A topic that does not set them takes them, and its producers are held to them.
        configs = topic_configs(admin, topic_name)
        assert (configs["retention.ms"].value, configs["retention.ms"].source) == ("3600000", dynamic)
        assert (configs["max.message.bytes"].value, configs["max.message.bytes"].source) == ("2000", dynamic)
        producer = producer_for(broker)
        outcomes = []
        producer.produce(topic_name, b"x" * 3000, partition=0, on_delivery=lambda e, m: outcomes.append(e))
        assert producer.flush(TIMEOUT_S) == 0
        assert [e.code() if e else None for e in outcomes] == [ck.KafkaError.MSG_SIZE_TOO_LARGE]
    finally:
        # Other tests may share this broker: leave it as it was.
        delete = AlterConfigOpType.DELETE
        alter_broker([ConfigEntry("log.retention.ms", None, incremental_operation=delete),
                      ConfigEntry("message.max.bytes", None, incremental_operation=delete)])
    deadline = time.monotonic() + TIMEOUT_S
    while not ((configs := topic_configs(admin, topic_name))["retention.ms"].is_default
               and configs["max.message.bytes"].is_default):
        assert time.monotonic() < deadline, "the deleted settings still apply"
        time.sleep(0.1)


@pytest.mark.filterwarnings("ignore:alter_configs has been deprecated:DeprecationWarning")
def test_alter_configs_replaces_the_whole_set(broker, topic_name):
    admin = admin_for(broker)
    create(admin, topic_name, 1, {"retention.ms": "3600000"})
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic_name, set_config={"cleanup.policy": "compact"})
    admin.alter_configs([resource], request_timeout=TIMEOUT_S)[resource].result(timeout=TIMEOUT_S)
    configs = topic_configs(admin, topic_name)
    assert configs["cleanup.policy"].value == "compact"
    assert configs["retention.ms"].is_default, "left out of AlterConfigs: back to the default"


def test_kafka_python_alter_configs_both_ways_and_create_partitions(broker, topic_name):
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=TIMEOUT_MS)
    admin.create_topics([KNewTopic(topic_name, num_partitions=1, replication_factor=1)])
    # IncrementalAlterConfigs, which kafka-python picks when the broker offers it.
    result = admin.alter_configs([KConfigResource(ConfigResourceType.TOPIC, topic_name,
                                                  configs={"retention.ms": "1234"})])
    assert result == {"topic": {topic_name: "OK"}}
    # AlterConfigs: the whole set, so the client adds the other modified configs itself.
    result = admin.alter_configs([KConfigResource(ConfigResourceType.TOPIC, topic_name,
                                                  configs={"cleanup.policy": "compact"})],
                                 incremental=False)
    assert result == {"topic": {topic_name: "OK"}}
    admin.create_partitions({topic_name: 2})
    cluster = admin.describe_cluster()
    admin.close()
    ck_admin = admin_for(broker)
    configs = topic_configs(ck_admin, topic_name)
    assert (configs["retention.ms"].value, configs["cleanup.policy"].value) == ("1234", "compact")
    assert partitions_of(ck_admin, topic_name) == {0, 1}
    assert cluster["controller_id"] == 0
    assert cluster["cluster_id"] == ck_admin.list_topics(timeout=TIMEOUT_S).cluster_id


def test_describe_cluster_names_this_broker_as_the_controller(broker):
    admin = admin_for(broker)
    described = admin.describe_cluster(include_authorized_operations=True,
                                       request_timeout=TIMEOUT_S).result(timeout=TIMEOUT_S)
    assert described.cluster_id == admin.list_topics(timeout=TIMEOUT_S).cluster_id
    assert described.controller.id == 0
    assert [(n.id, n.host, n.port) for n in described.nodes] == [(0, "127.0.0.1", broker.port)]
    assert {AclOperation.DESCRIBE, AclOperation.ALTER, AclOperation.ALTER_CONFIGS} <= set(
        described.authorized_operations)
    plain = admin.describe_cluster(request_timeout=TIMEOUT_S).result(timeout=TIMEOUT_S)
    assert not plain.authorized_operations, "not asked for"
