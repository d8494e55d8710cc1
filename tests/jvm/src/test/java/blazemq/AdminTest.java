package blazemq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ConsumerGroupListing;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListOffsetsResult.ListOffsetsResultInfo;
import org.apache.kafka.clients.admin.NewPartitionReassignment;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.ElectionNotNeededException;
import org.apache.kafka.common.errors.GroupIdNotFoundException;
import org.apache.kafka.common.errors.InvalidReplicaAssignmentException;
import org.apache.kafka.common.errors.NoReassignmentInProgressException;
import org.apache.kafka.common.errors.GroupNotEmptyException;
import org.apache.kafka.common.errors.InvalidPartitionsException;
import org.apache.kafka.common.errors.OffsetOutOfRangeException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.junit.jupiter.api.Test;

class AdminTest extends BrokerTest {

    private static Throwable cause(org.junit.jupiter.api.function.Executable call) {
        return assertThrows(ExecutionException.class, call).getCause();
    }

    @Test
    void describeClusterNamesOneBrokerAsController() throws Exception {
        DescribeClusterResult cluster = admin.describeCluster();
        Collection<Node> nodes = cluster.nodes().get();
        assertEquals(1, nodes.size());
        Node node = nodes.iterator().next();
        String[] hostPort = bootstrap().split(":");
        assertEquals(Integer.parseInt(hostPort[1]), node.port());
        assertEquals(node, cluster.controller().get());
        String id = cluster.clusterId().get();
        assertNotNull(id);
        assertEquals(22, id.length(), "a base64 UUID like Kafka's: " + id);
    }

    @Test
    void topicsAreCreatedListedDescribedGrownAndDeleted() throws Exception {
        String topic = unique("admin-topic");
        admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1).configs(Map.of("retention.ms", "3600000"))))
                .all().get();
        assertInstanceOf(TopicExistsException.class,
                cause(() -> admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get()));
        assertTrue(admin.listTopics().names().get().contains(topic));

        TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
        assertEquals(topic, d.name());
        assertFalse(d.isInternal());
        assertNotNull(d.topicId());
        assertEquals(List.of(0, 1, 2), d.partitions().stream().map(TopicPartitionInfo::partition).collect(Collectors.toList()));
        for (TopicPartitionInfo p : d.partitions()) {
            assertEquals(List.of(p.leader()), p.replicas());
            assertEquals(List.of(p.leader()), p.isr());
        }
        TopicDescription byId = admin.describeTopics(org.apache.kafka.common.TopicCollection.ofTopicIds(
                List.of(d.topicId()))).allTopicIds().get().get(d.topicId());
        assertEquals(topic, byId.name());
        assertEquals(3, byId.partitions().size());

        admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(5))).all().get();
        assertEquals(5, admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size());
        assertInstanceOf(InvalidPartitionsException.class,
                cause(() -> admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(4))).all().get()));

        admin.deleteTopics(List.of(topic)).all().get();
        assertFalse(admin.listTopics().names().get().contains(topic));
        assertInstanceOf(UnknownTopicOrPartitionException.class,
                cause(() -> admin.describeTopics(List.of(topic)).allTopicNames().get()));
        assertInstanceOf(UnknownTopicOrPartitionException.class,
                cause(() -> admin.deleteTopics(List.of(topic)).all().get()));
    }

    @Test
    void topicConfigsAreDescribedAndAlteredIncrementally() throws Exception {
        String topic = createTopic("configs", 1, Map.of("retention.ms", "3600000"));
        ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        Config config = admin.describeConfigs(List.of(resource)).all().get().get(resource);
        ConfigEntry retention = config.get("retention.ms");
        assertEquals("3600000", retention.value());
        assertEquals(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, retention.source());
        ConfigEntry cleanup = config.get("cleanup.policy");
        assertEquals("delete", cleanup.value());
        assertTrue(cleanup.isDefault());
        assertEquals("1048588", config.get("max.message.bytes").value());

        admin.incrementalAlterConfigs(Map.of(resource, List.of(
                new AlterConfigOp(new ConfigEntry("retention.ms", null), AlterConfigOp.OpType.DELETE),
                new AlterConfigOp(new ConfigEntry("max.message.bytes", "2000000"), AlterConfigOp.OpType.SET),
                new AlterConfigOp(new ConfigEntry("cleanup.policy", "compact"), AlterConfigOp.OpType.APPEND))))
                .all().get();
        Config after = admin.describeConfigs(List.of(resource)).all().get().get(resource);
        assertEquals("604800000", after.get("retention.ms").value());
        assertEquals(ConfigEntry.ConfigSource.DEFAULT_CONFIG, after.get("retention.ms").source());
        assertEquals("2000000", after.get("max.message.bytes").value());
        assertEquals("delete,compact", after.get("cleanup.policy").value());
        assertInstanceOf(org.apache.kafka.common.errors.InvalidConfigurationException.class,
                cause(() -> admin.incrementalAlterConfigs(Map.of(resource, List.of(new AlterConfigOp(
                        new ConfigEntry("no.such.config", "1"), AlterConfigOp.OpType.SET)))).all().get()));
    }

    @Test
    void brokerConfigsAreDescribed() throws Exception {
        Collection<Node> nodes = admin.describeCluster().nodes().get();
        ConfigResource broker = new ConfigResource(ConfigResource.Type.BROKER, Integer.toString(nodes.iterator().next().id()));
        Config config = admin.describeConfigs(List.of(broker)).all().get().get(broker);
        assertEquals("1", config.get("num.partitions").value(), config.toString());
        assertEquals("1048588", config.get("message.max.bytes").value());
        assertEquals(ConfigEntry.ConfigSource.DEFAULT_CONFIG, config.get("message.max.bytes").source());
        assertEquals("1073741824", config.get("log.segment.bytes").value());
        assertEquals("true", config.get("auto.create.topics.enable").value());
    }

    /** Kafka 4 answers DescribeGroups v6 for a group that does not exist with GROUP_ID_NOT_FOUND. */
    @Test
    @org.junit.jupiter.api.Disabled("needs DescribeGroups v6: up to v5 a missing group is described as Dead, without an error")
    void describingAGroupThatDoesNotExistFails() {
        assertInstanceOf(GroupIdNotFoundException.class,
                cause(() -> admin.describeConsumerGroups(List.of(unique("no-such-group"))).all().get()));
    }

    @Test
    void listOffsetsAndDeleteRecords() throws Exception {
        String topic = createTopic("offsets", 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        long base = System.currentTimeMillis() - 10_000;
        try (KafkaProducer<String, String> producer = producer(Map.of())) {
            for (int i = 0; i < 10; i++) {
                // The largest timestamp is in the middle, at offset 5.
                long ts = i == 5 ? base + 9_000 : base + 100L * i;
                producer.send(new ProducerRecord<>(topic, 0, ts, "k", "v" + i)).get();
            }
        }
        Map<TopicPartition, ListOffsetsResultInfo> earliest = admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).all().get();
        assertEquals(0, earliest.get(tp).offset());
        assertEquals(10, admin.listOffsets(Map.of(tp, OffsetSpec.latest())).all().get().get(tp).offset());
        ListOffsetsResultInfo maxTs = admin.listOffsets(Map.of(tp, OffsetSpec.maxTimestamp())).all().get().get(tp);
        assertEquals(5, maxTs.offset());
        assertEquals(base + 9_000, maxTs.timestamp());
        assertEquals(3, admin.listOffsets(Map.of(tp, OffsetSpec.forTimestamp(base + 250))).all().get().get(tp).offset());

        assertEquals(4, admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(4))).lowWatermarks()
                .get(tp).get().lowWatermark());
        assertEquals(4, admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).all().get().get(tp).offset());
        assertInstanceOf(OffsetOutOfRangeException.class, cause(() ->
                admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(11))).all().get()));
        try (KafkaConsumer<String, String> consumer = consumer(null, Map.of())) {
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            List<ConsumerRecord<String, String>> records = pollExactly(consumer, 6, 10_000);
            assertEquals(4, records.get(0).offset());
            assertEquals("v4", records.get(0).value());
        }
    }

    @Test
    void consumerGroupsAreListedDescribedAndDeleted() throws Exception {
        String topic = createTopic("groups", 2);
        String group = unique("admin-group");
        TopicPartition p0 = new TopicPartition(topic, 0);
        TopicPartition p1 = new TopicPartition(topic, 1);
        try (KafkaConsumer<String, String> consumer = consumer(group, Map.of())) {
            consumer.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + 20_000;
            while (consumer.assignment().size() < 2 && System.currentTimeMillis() < deadline) {
                consumer.poll(Duration.ofMillis(50));
            }
            assertEquals(Set.of(p0, p1), consumer.assignment());
            consumer.commitSync(Map.of(p0, new OffsetAndMetadata(0), p1, new OffsetAndMetadata(0)));

            ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
            assertEquals(GroupState.STABLE, d.groupState());
            assertEquals(org.apache.kafka.common.GroupType.CLASSIC, d.type());
            assertEquals(1, d.members().size());
            assertEquals(Set.of(p0, p1), d.members().iterator().next().assignment().topicPartitions());
            assertInstanceOf(GroupNotEmptyException.class,
                    cause(() -> admin.deleteConsumerGroups(List.of(group)).all().get()));
        }
        @SuppressWarnings("deprecation")
        Collection<ConsumerGroupListing> listed = admin.listConsumerGroups().all().get();
        ConsumerGroupListing listing = listed.stream().filter(g -> g.groupId().equals(group)).findFirst().orElseThrow();
        assertEquals(java.util.Optional.of(GroupState.EMPTY), listing.groupState());
        Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(group)
                .partitionsToOffsetAndMetadata().get();
        assertEquals(Map.of(p0, 0L, p1, 0L), offsets.entrySet().stream()
                .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset())));
        admin.deleteConsumerGroups(List.of(group)).all().get();
        assertInstanceOf(GroupIdNotFoundException.class,
                cause(() -> admin.deleteConsumerGroups(List.of(group)).all().get()));
        @SuppressWarnings("deprecation")
        Collection<ConsumerGroupListing> after = admin.listConsumerGroups().all().get();
        assertFalse(after.stream().anyMatch(g -> g.groupId().equals(group)));
        assertFalse(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().containsKey(p0));
    }

    @Test
    void leaderElectionAndReassignmentsAreAnsweredAsOneBrokerAnswersThem() throws Exception {
        String topic = unique("placement");
        admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
        int self = admin.describeCluster().nodes().get().iterator().next().id();
        TopicPartition tp = new TopicPartition(topic, 0);
        TopicPartition missing = new TopicPartition(topic, 5);

        Map<TopicPartition, Optional<Throwable>> elected =
                admin.electLeaders(ElectionType.PREFERRED, Set.of(tp)).partitions().get();
        assertInstanceOf(ElectionNotNeededException.class, elected.get(tp).orElseThrow());
        Map<TopicPartition, Optional<Throwable>> unknown =
                admin.electLeaders(ElectionType.PREFERRED, Set.of(missing)).partitions().get();
        assertInstanceOf(UnknownTopicOrPartitionException.class, unknown.get(missing).orElseThrow());
        // Every partition: only those whose leader changed are listed.
        assertEquals(Map.of(), admin.electLeaders(ElectionType.PREFERRED, null).partitions().get());

        assertEquals(Map.of(), admin.listPartitionReassignments().reassignments().get());
        // To the broker that already holds it: done at once.
        admin.alterPartitionReassignments(Map.of(tp, Optional.of(new NewPartitionReassignment(List.of(self)))))
                .all().get();
        ExecutionException other = assertThrows(ExecutionException.class, () -> admin.alterPartitionReassignments(
                Map.of(tp, Optional.of(new NewPartitionReassignment(List.of(self + 7))))).all().get());
        assertInstanceOf(InvalidReplicaAssignmentException.class, other.getCause());
        ExecutionException cancel = assertThrows(ExecutionException.class,
                () -> admin.alterPartitionReassignments(Map.of(tp, Optional.empty())).all().get());
        assertInstanceOf(NoReassignmentInProgressException.class, cancel.getCause());
        assertEquals(Map.of(), admin.listPartitionReassignments(Set.of(tp)).reassignments().get());
    }
}
