package blazemq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

/** Kafka's command-line tools, through the main classes bin/kafka-*.sh run. */
class ToolsTest extends BrokerTest {
    private static final String TOOLS = "org.apache.kafka.tools.";

    private static Tool.Result tool(String mainClass, String... args) throws Exception {
        return Tool.run(TOOLS + mainClass, withBootstrap(args));
    }

    private static Tool.Result ok(String mainClass, String... args) throws Exception {
        Tool.Result r = tool(mainClass, args);
        assertEquals(0, r.exitCode(), r.toString());
        return r;
    }

    private static String[] withBootstrap(String... args) {
        List<String> all = new ArrayList<>(List.of("--bootstrap-server", bootstrap()));
        all.addAll(Arrays.asList(args));
        return all.toArray(new String[0]);
    }

    /** The rows of a table the group tool prints, split on whitespace, header row dropped. */
    private static List<List<String>> rows(Tool.Result r) {
        return r.lines().stream().filter(l -> !l.startsWith("GROUP") && !l.startsWith("TOPIC")
                        && !l.startsWith("Consumer group") && !l.startsWith("Warning"))
                .map(l -> Arrays.asList(l.trim().split("\\s+"))).collect(Collectors.toList());
    }

    private static void produce(String topic, int partition, List<String> values, long timestamp) throws Exception {
        try (KafkaProducer<String, String> producer = producer(Map.of())) {
            for (String v : values) {
                producer.send(new ProducerRecord<>(topic, partition, timestamp, "k-" + v, v));
            }
            producer.flush();
        }
    }

    @Test
    void kafkaTopicsCreatesListsDescribesAltersAndDeletes() throws Exception {
        String topic = unique("tool-topic");
        Tool.Result created = ok("TopicCommand", "--create", "--topic", topic, "--partitions", "2",
                "--replication-factor", "1", "--config", "retention.ms=86400000");
        assertEquals(List.of("Created topic " + topic + "."), created.lines());
        assertTrue(ok("TopicCommand", "--list").lines().contains(topic));

        ok("TopicCommand", "--alter", "--topic", topic, "--partitions", "3");
        List<String> described = ok("TopicCommand", "--describe", "--topic", topic).lines();
        assertEquals(4, described.size(), described.toString());
        String head = described.get(0);
        assertTrue(head.startsWith("Topic: " + topic + "\tTopicId: "), head);
        assertTrue(head.contains("\tPartitionCount: 3\tReplicationFactor: 1\tConfigs: "), head);
        assertTrue(head.contains("retention.ms=86400000"), head);
        for (int p = 0; p < 3; p++) {
            String line = described.get(p + 1).trim();
            assertTrue(line.matches("Topic: " + topic + "\tPartition: " + p
                    + "\tLeader: (\\d+)\tReplicas: \\1\tIsr: \\1(\t.*)?"), line);
        }
        Tool.Result dup = tool("TopicCommand", "--create", "--topic", topic, "--partitions", "1");
        assertEquals(1, dup.exitCode(), dup.toString());
        assertTrue(dup.stderr().contains("TopicExistsException") || dup.stdout().contains("already exists"), dup.toString());

        ok("TopicCommand", "--delete", "--topic", topic);
        assertFalse(ok("TopicCommand", "--list").lines().contains(topic));
    }

    @Test
    void consoleProducerAndConsumerWithKeysAndAGroup() throws Exception {
        String topic = createTopic("console", 1);
        String group = unique("console-group");
        Tool.Result produced = Tool.runWithInput("a:1\nb:2\nc:3\n", TOOLS + "ConsoleProducer", withBootstrap(
                "--topic", topic, "--reader-property", "parse.key=true", "--reader-property", "key.separator=:"));
        assertEquals(0, produced.exitCode(), produced.toString());

        Tool.Result consumed = ok("consumer.ConsoleConsumer", "--topic", topic, "--from-beginning",
                "--formatter-property", "print.key=true", "--max-messages", "3", "--group", group);
        assertEquals(List.of("a\t1", "b\t2", "c\t3"), consumed.lines());
        assertTrue(consumed.stderr().contains("Processed a total of 3 messages"), consumed.toString());
        assertEquals(3, admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get()
                .get(new TopicPartition(topic, 0)).offset());

        // The group resumes where it stopped: without --from-beginning it still sees only "d".
        produce(topic, 0, List.of("4"), System.currentTimeMillis());
        Tool.Result next = ok("consumer.ConsoleConsumer", "--topic", topic, "--max-messages", "1", "--group", group,
                "--formatter-property", "print.key=true", "--formatter-property", "print.offset=true");
        assertEquals(List.of("Offset:3\tk-4\t4"), next.lines());
    }

    @Test
    void kafkaConsumerGroupsListsDescribesResetsAndDeletes() throws Exception {
        String topic = createTopic("cg-tool", 1);
        String group = unique("cg-tool-group");
        TopicPartition tp = new TopicPartition(topic, 0);
        long old = System.currentTimeMillis() - 3_600_000;
        produce(topic, 0, List.of("0", "1", "2", "3", "4"), old);
        produce(topic, 0, List.of("5", "6", "7"), System.currentTimeMillis());
        admin.alterConsumerGroupOffsets(group, Map.of(tp, new OffsetAndMetadata(6))).all().get();

        assertTrue(ok("consumer.group.ConsumerGroupCommand", "--list").lines().contains(group));
        List<List<String>> described = rows(ok("consumer.group.ConsumerGroupCommand", "--describe", "--group", group));
        assertEquals(List.of(List.of(group, topic, "0", "6", "8", "2", "-", "-", "-")), described);

        List<List<String>> earliest = rows(ok("consumer.group.ConsumerGroupCommand", "--reset-offsets",
                "--group", group, "--topic", topic, "--to-earliest", "--execute"));
        assertEquals(List.of(List.of(group, topic, "0", "0")), earliest);
        List<List<String>> shifted = rows(ok("consumer.group.ConsumerGroupCommand", "--reset-offsets",
                "--group", group, "--topic", topic, "--shift-by", "3", "--execute"));
        assertEquals(List.of(List.of(group, topic, "0", "3")), shifted);
        // Half an hour ago falls between the old records and the new ones: the first new one.
        String halfHourAgo = java.time.LocalDateTime.now().minusMinutes(30)
                .format(java.time.format.DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS"));
        List<List<String>> dated = rows(ok("consumer.group.ConsumerGroupCommand", "--reset-offsets",
                "--group", group, "--topic", topic, "--to-datetime", halfHourAgo, "--execute"));
        assertEquals(List.of(List.of(group, topic, "0", "5")), dated);
        assertEquals(5, admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().get(tp).offset());

        Tool.Result deletedOffsets = ok("consumer.group.ConsumerGroupCommand", "--delete-offsets",
                "--group", group, "--topic", topic);
        assertTrue(deletedOffsets.stdout().contains("Request succeeded for deleting offsets from group " + group + "."),
                deletedOffsets.toString());
        assertEquals(List.of(List.of(topic, "0", "Successful")),
                rows(deletedOffsets).stream().filter(r -> r.get(0).equals(topic)).collect(Collectors.toList()));
        assertFalse(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().containsKey(tp));

        admin.alterConsumerGroupOffsets(group, Map.of(tp, new OffsetAndMetadata(1))).all().get();
        Tool.Result deleted = ok("consumer.group.ConsumerGroupCommand", "--delete", "--group", group);
        assertEquals(List.of("Deletion of requested consumer groups ('" + group + "') was successful."), deleted.lines());
        assertFalse(ok("consumer.group.ConsumerGroupCommand", "--list").lines().contains(group));
    }

    @Test
    void kafkaConsumerGroupsDescribesAnActiveMemberItsStateAndItsLag() throws Exception {
        String topic = createTopic("cg-active", 2);
        String group = unique("cg-active-group");
        produce(topic, 0, List.of("a", "b", "c"), System.currentTimeMillis());
        try (org.apache.kafka.clients.consumer.KafkaConsumer<String, String> consumer = consumer(group,
                Map.of(org.apache.kafka.clients.consumer.ConsumerConfig.CLIENT_ID_CONFIG, "member-a"))) {
            consumer.subscribe(List.of(topic));
            long deadline = System.currentTimeMillis() + 20_000;
            while (consumer.assignment().size() < 2 && System.currentTimeMillis() < deadline) {
                consumer.poll(java.time.Duration.ofMillis(50));
            }
            TopicPartition p0 = new TopicPartition(topic, 0);
            TopicPartition p1 = new TopicPartition(topic, 1);
            consumer.commitSync(Map.of(p0, new OffsetAndMetadata(1), p1, new OffsetAndMetadata(0)));

            List<List<String>> members = rows(ok("consumer.group.ConsumerGroupCommand", "--describe", "--group", group, "--members"));
            assertEquals(1, members.size(), members.toString());
            List<String> member = members.get(0);
            String memberId = member.get(1);
            assertTrue(memberId.startsWith("member-a-"), member.toString());
            assertEquals(List.of(group, memberId, "/127.0.0.1", "member-a", "2"), member);

            List<List<String>> state = rows(ok("consumer.group.ConsumerGroupCommand", "--describe", "--group", group, "--state"));
            assertEquals(1, state.size(), state.toString());
            String node = brokerId();
            assertEquals(List.of(group, bootstrap(), "(" + node + ")", "range", "Stable", "1"), state.get(0));

            List<List<String>> lag = rows(ok("consumer.group.ConsumerGroupCommand", "--describe", "--group", group));
            assertEquals(List.of(
                    List.of(group, topic, "0", "1", "3", "2", memberId, "/127.0.0.1", "member-a"),
                    List.of(group, topic, "1", "0", "0", "0", memberId, "/127.0.0.1", "member-a")), lag);
        }
    }

    @Test
    void kafkaConfigsDescribesAndAltersTopicAndBrokerConfigs() throws Exception {
        String topic = createTopic("cfg-tool", 1);
        Tool.Result altered = ok("ConfigCommand", "--entity-type", "topics", "--entity-name", topic, "--alter",
                "--add-config", "retention.ms=1000,cleanup.policy=[compact,delete]");
        assertEquals(List.of("Completed updating config for topic " + topic + "."), altered.lines());
        List<String> described = ok("ConfigCommand", "--entity-type", "topics", "--entity-name", topic, "--describe").lines();
        assertEquals(List.of("Dynamic configs for topic " + topic + " are:",
                "  cleanup.policy=compact,delete sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact,delete, DEFAULT_CONFIG:log.cleanup.policy=delete}",
                "  retention.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000}"),
                described.stream().map(l -> l.replaceAll(", STATIC_BROKER_CONFIG:[^,}]*", "")).collect(Collectors.toList()));
        ok("ConfigCommand", "--entity-type", "topics", "--entity-name", topic, "--alter", "--delete-config", "retention.ms");
        List<String> after = ok("ConfigCommand", "--entity-type", "topics", "--entity-name", topic, "--describe").lines();
        assertEquals(2, after.size(), after.toString());
        assertTrue(after.get(1).startsWith("  cleanup.policy=compact,delete "), after.toString());

        String brokerId = Integer.toString(admin.describeCluster().nodes().get().iterator().next().id());
        List<String> broker = ok("ConfigCommand", "--entity-type", "brokers", "--entity-name", brokerId,
                "--describe", "--all").lines();
        assertEquals("All configs for broker " + brokerId + " are:", broker.get(0));
        assertTrue(broker.stream().anyMatch(l -> l.startsWith("  num.partitions=1 sensitive=false synonyms={")), broker.toString());
        assertTrue(broker.stream().anyMatch(l -> l.startsWith("  message.max.bytes=1048588 sensitive=false")), broker.toString());
    }

    @Test
    void kafkaConfigsChangesBrokerSettingsForThisBrokerAndTheClusterDefault() throws Exception {
        String brokerId = Integer.toString(admin.describeCluster().nodes().get().iterator().next().id());
        String[] clusterDefault = {"--entity-type", "brokers", "--entity-default"};
        String[] thisBroker = {"--entity-type", "brokers", "--entity-name", brokerId};
        try {
            assertEquals(List.of("Completed updating default config for brokers in the cluster."),
                    ok("ConfigCommand", concat(clusterDefault, "--alter", "--add-config", "log.retention.ms=3600000")).lines());
            assertEquals(List.of("Completed updating config for broker " + brokerId + "."),
                    ok("ConfigCommand", concat(thisBroker, "--alter", "--add-config",
                            "message.max.bytes=2000000,log.cleanup.policy=[delete,compact]")).lines());
            // Only what is set as the cluster default (a reference Kafka formatted with
            // kafka-storage also sets min.insync.replicas there).
            String retention = "  log.retention.ms=3600000 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=3600000}";
            List<String> defaults = describedOnceApplied(clusterDefault, d -> d.contains(retention));
            assertEquals("Default configs for brokers in the cluster are:", defaults.get(0));
            assertTrue(defaults.contains(retention), defaults.toString());
            assertFalse(defaults.stream().anyMatch(l -> l.contains("message.max.bytes")), defaults.toString());
            assertEquals(List.of("Dynamic configs for broker " + brokerId + " are:",
                    "  log.cleanup.policy=delete,compact sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:log.cleanup.policy=delete,compact, DEFAULT_CONFIG:log.cleanup.policy=delete}",
                    "  message.max.bytes=2000000 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:message.max.bytes=2000000, DEFAULT_CONFIG:message.max.bytes=1048588}"),
                    describedOnceApplied(thisBroker, d -> d.size() == 3));

            Tool.Result fixed = tool("ConfigCommand", concat(thisBroker, "--alter", "--add-config", "num.partitions=3"));
            assertEquals(1, fixed.exitCode(), fixed.toString());
            assertTrue(fixed.stderr().contains(
                    "InvalidRequestException: Cannot update these configs dynamically: Set(num.partitions)"), fixed.toString());
            Tool.Result bad = tool("ConfigCommand", concat(thisBroker, "--alter", "--add-config", "log.retention.ms=soon"));
            assertEquals(1, bad.exitCode(), bad.toString());
            assertTrue(bad.stderr().contains(
                    "InvalidRequestException: Invalid value soon for configuration log.retention.ms"), bad.toString());

            // A topic that sets none of them takes them.
            String topic = createTopic("cfg-broker", 1);
            List<String> all = ok("ConfigCommand", "--entity-type", "topics", "--entity-name", topic, "--describe", "--all").lines();
            for (String line : List.of(
                    "  cleanup.policy=delete,compact sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:log.cleanup.policy=delete,compact, DEFAULT_CONFIG:log.cleanup.policy=delete}",
                    "  max.message.bytes=2000000 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:message.max.bytes=2000000, DEFAULT_CONFIG:message.max.bytes=1048588}",
                    "  retention.ms=3600000 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:log.retention.ms=3600000, DEFAULT_CONFIG:log.retention.hours=168}")) {
                assertTrue(all.contains(line), line + " in " + all);
            }
        } finally {
            // Other tests share this broker: leave it as it was.
            ok("ConfigCommand", concat(clusterDefault, "--alter", "--delete-config", "log.retention.ms"));
            ok("ConfigCommand", concat(thisBroker, "--alter", "--delete-config", "message.max.bytes,log.cleanup.policy"));
        }
        assertEquals(List.of("Dynamic configs for broker " + brokerId + " are:"), describedOnceApplied(thisBroker, d -> d.size() == 1));
    }

    /**
     * kafka-configs --describe of a broker resource once `applied` holds for its lines (or after
     * 15 s): Kafka applies a change to its brokers a moment after it answers.
     */
    private static List<String> describedOnceApplied(String[] entity, java.util.function.Predicate<List<String>> applied)
            throws Exception {
        long deadline = System.currentTimeMillis() + 15_000;
        while (true) {
            List<String> described = ok("ConfigCommand", concat(entity, "--describe")).lines();
            if (applied.test(described) || System.currentTimeMillis() > deadline) {
                return described;
            }
            Thread.sleep(200);
        }
    }

    private static String[] concat(String[] head, String... tail) {
        List<String> all = new ArrayList<>(Arrays.asList(head));
        all.addAll(Arrays.asList(tail));
        return all.toArray(new String[0]);
    }

    @Test
    void kafkaGetOffsetsAndKafkaDeleteRecords() throws Exception {
        String topic = createTopic("offsets-tool", 2);
        produce(topic, 0, List.of("a", "b", "c", "d"), System.currentTimeMillis());
        produce(topic, 1, List.of("e"), System.currentTimeMillis());
        assertEquals(List.of(topic + ":0:4", topic + ":1:1"), ok("GetOffsetShell", "--topic", topic).lines());

        Path json = Files.createTempFile("delete-records", ".json");
        try {
            Files.writeString(json, "{\"partitions\":[{\"topic\":\"" + topic + "\",\"partition\":0,\"offset\":3}],\"version\":1}");
            List<String> deleted = ok("DeleteRecordsCommand", "--offset-json-file", json.toString()).lines();
            assertEquals(List.of("Executing records delete operation", "Records delete operation completed:",
                    "partition: " + topic + "-0\tlow_watermark: 3"), deleted);
        } finally {
            Files.delete(json);
        }
        assertEquals(List.of(topic + ":0:3", topic + ":1:0"), ok("GetOffsetShell", "--topic", topic, "--time", "-2").lines());
        assertEquals(List.of(topic + ":0:4"), ok("GetOffsetShell", "--topic", topic, "--partitions", "0", "--time", "-1").lines());
    }

    @Test
    void kafkaLogDirsDescribesTheTopicsPartitions() throws Exception {
        String topic = createTopic("logdirs-tool", 2);
        produce(topic, 1, List.of("x".repeat(100)), System.currentTimeMillis());
        Tool.Result r = ok("LogDirsCommand", "--describe", "--topic-list", topic);
        List<String> lines = r.lines();
        assertEquals("Querying brokers for log directories information", lines.get(0), r.toString());
        assertEquals("Received log directory information from brokers " + brokerId(), lines.get(1));
        String json = lines.get(2);
        assertTrue(json.startsWith("{\"brokers\":[{\"broker\":" + brokerId() + ",\"logDirs\":[{"), json);
        assertTrue(json.contains("{\"partition\":\"" + topic + "-0\",\"size\":0,\"offsetLag\":0,\"isFuture\":false}"), json);
        java.util.regex.Matcher one = java.util.regex.Pattern.compile("\\{\"partition\":\"" + topic
                + "-1\",\"size\":(\\d+),\"offsetLag\":0,\"isFuture\":false\\}").matcher(json);
        assertTrue(one.find(), json);
        // One batch of one 100-byte record: its size with the batch's and the record's overhead.
        long size = Long.parseLong(one.group(1));
        assertTrue(size > 100 && size < 300, json);
    }

    private static String brokerId() throws Exception {
        return Integer.toString(admin.describeCluster().nodes().get().iterator().next().id());
    }

    @Test
    void perfTestsProduceAndConsumeTheirCounts() throws Exception {
        String topic = createTopic("perf", 1);
        Tool.Result produced = ok("ProducerPerformance", "--topic", topic, "--num-records", "2000", "--record-size", "100",
                "--throughput", "-1", "--command-property", "bootstrap.servers=" + bootstrap());
        assertTrue(produced.lines().get(produced.lines().size() - 1).startsWith("2000 records sent, "), produced.toString());
        assertEquals(2000, admin.listOffsets(Map.of(new TopicPartition(topic, 0), OffsetSpec.latest())).all().get()
                .get(new TopicPartition(topic, 0)).offset());

        Tool.Result consumed = ok("ConsumerPerformance", "--topic", topic, "--num-records", "2000", "--timeout", "30000");
        List<String> lines = consumed.lines();
        assertTrue(lines.get(0).startsWith("start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg"), consumed.toString());
        List<String> fields = Arrays.asList(lines.get(1).split(",\\s*"));
        assertEquals("0.1907", fields.get(2), "2000 records of 100 bytes");
        assertEquals("2000", fields.get(4));
    }

    @Test
    void kafkaTransactionsListsAndDescribesAnOpenTransaction() throws Exception {
        String topic = createTopic("txn-tool", 1);
        String id = unique("txn-tool-id");
        try (KafkaProducer<String, String> producer = producer(Map.of(
                ProducerConfig.TRANSACTIONAL_ID_CONFIG, id,
                ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 60_000))) {
            producer.initTransactions();
            producer.beginTransaction();
            producer.send(new ProducerRecord<>(topic, 0, "k", "v")).get();

            List<String> listed = cells(ok("TransactionsCommand", "list"), id);
            assertEquals("0", listed.get(1), "the coordinator");
            String producerId = listed.get(2);
            assertTrue(Long.parseLong(producerId) >= 0, listed.toString());
            assertEquals("Ongoing", listed.get(3));

            Tool.Result described = ok("TransactionsCommand", "describe", "--transactional-id", id);
            assertEquals(List.of("CoordinatorId", "TransactionalId", "ProducerId", "ProducerEpoch",
                    "TransactionState", "TransactionTimeoutMs", "CurrentTransactionStartTimeMs",
                    "TransactionDurationMs", "TopicPartitions"), header(described));
            List<String> row = cells(described, id);
            assertEquals(List.of("0", id, producerId, "0", "Ongoing", "60000"), row.subList(0, 6));
            assertTrue(Long.parseLong(row.get(6)) > 0 && Long.parseLong(row.get(7)) >= 0, row.toString());
            assertEquals(topic + "-0", row.get(8));

            Tool.Result producers = ok("TransactionsCommand", "describe-producers", "--topic", topic,
                    "--partition", "0");
            assertEquals(List.of("ProducerId", "ProducerEpoch", "LatestCoordinatorEpoch", "LastSequence",
                    "LastTimestamp", "CurrentTransactionStartOffset"), header(producers));
            List<String> state = cells(producers, producerId);
            assertEquals(List.of(producerId, "0", "-1", "0"), state.subList(0, 4));
            assertTrue(Long.parseLong(state.get(4)) > 0, state.toString());
            assertEquals("0", state.get(5), "the open transaction began at offset 0");

            producer.commitTransaction();
            // Kafka 4 clusters bump the epoch at every commit (transaction version 2); BlazeMQ
            // serves version 1, where only InitProducerId does: the epoch is not compared here.
            List<String> done = cells(ok("TransactionsCommand", "describe", "--transactional-id", id), id);
            assertEquals(List.of("CompleteCommit"), done.subList(4, 5), done.toString());
            assertEquals(8, done.size(), "no partitions left: " + done);
        }
        Tool.Result missing = tool("TransactionsCommand", "describe", "--transactional-id", "missing-" + id);
        assertEquals(1, missing.exitCode(), missing.toString());
        assertTrue(missing.stderr().contains("failed because the ID could not be found"), missing.toString());
    }

    /** The column names of a table kafka-transactions prints. */
    private static List<String> header(Tool.Result r) {
        return Arrays.stream(r.lines().get(0).split("\t")).map(String::trim).collect(Collectors.toList());
    }

    /** The cells of the row of a kafka-transactions table that names `key`, trailing empty cells dropped. */
    private static List<String> cells(Tool.Result r, String key) {
        return r.lines().stream().skip(1)
                .map(l -> Arrays.stream(l.split("\t")).map(String::trim).collect(Collectors.toList()))
                .filter(row -> row.contains(key))
                .findFirst()
                .map(row -> {
                    List<String> trimmed = new ArrayList<>(row);
                    while (!trimmed.isEmpty() && trimmed.get(trimmed.size() - 1).isEmpty()) {
                        trimmed.remove(trimmed.size() - 1);
                    }
                    return trimmed;
                })
                .orElseThrow(() -> new AssertionError("no row naming " + key + " in\n" + r));
    }

    @Test
    void verifiableProducerAndConsumerAgreeOnEveryRecord() throws Exception {
        String topic = createTopic("verifiable", 2);
        String group = unique("verifiable-group");
        Tool.Result produced = ok("VerifiableProducer", "--topic", topic, "--max-messages", "100", "--acks", "-1");
        List<String> events = produced.lines();
        assertEquals(100, events.stream().filter(l -> l.contains("\"name\":\"producer_send_success\"")).count(), produced.toString());
        assertTrue(events.get(events.size() - 1).contains("\"name\":\"tool_data\",\"sent\":100,\"acked\":100"), produced.toString());

        Tool.Result consumed = ok("VerifiableConsumer", "--topic", topic, "--group-id", group, "--max-messages", "100",
                "--reset-policy", "earliest");
        List<String> lines = consumed.lines();
        long count = lines.stream().filter(l -> l.contains("\"name\":\"records_consumed\""))
                .mapToLong(l -> Long.parseLong(l.replaceAll(".*\"name\":\"records_consumed\",\"count\":(\\d+).*", "$1"))).sum();
        assertEquals(100, count, consumed.toString());
        assertTrue(lines.stream().anyMatch(l -> l.contains("\"name\":\"offsets_committed\"") && l.contains("\"success\":true")),
                consumed.toString());
        Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group)
                .partitionsToOffsetAndMetadata().get();
        long end = admin.listOffsets(Map.of(new TopicPartition(topic, 0), OffsetSpec.latest(),
                new TopicPartition(topic, 1), OffsetSpec.latest())).all().get().values().stream()
                .mapToLong(i -> i.offset()).sum();
        assertEquals(100, end);
        assertEquals(100, committed.values().stream().mapToLong(OffsetAndMetadata::offset).sum());
        assertNotEquals(Set.of(), committed.keySet());
    }
}
