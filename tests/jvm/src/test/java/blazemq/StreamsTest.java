package blazemq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.common.serialization.LongDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kafka Streams' word count: groupBy makes Streams create and use a repartition topic, count()
 * a RocksDB store backed by a compacted changelog topic. The counts are read from the output
 * topic and from the store (interactive queries), and must stay exact across a restart of the
 * application that has to restore its store from the changelog, and across a broker restart.
 */
class StreamsTest extends BrokerTest {
    private static final String STORE = "counts";
    private static final long TIMEOUT_MS = 30_000;
    private static final int INPUT_PARTITIONS = 2;

    private static final List<String> FIRST = List.of(
            "the quick brown fox", "jumps over the lazy dog", "The dog sleeps", "a fox a dog");
    private static final List<String> SECOND = List.of(
            "the fox returns", "dog and fox", "quick quick quick");
    private static final List<String> THIRD = List.of("a last fox", "the end");

    @TempDir
    Path stateRoot;

    @Test
    void wordCountSurvivesAnApplicationRestartFromTheChangelog() throws Exception {
        countsSurviveAnApplicationRestart(StreamsConfig.AT_LEAST_ONCE);
    }

    @Test
    void exactlyOnceV2WordCountSurvivesAnApplicationRestart() throws Exception {
        countsSurviveAnApplicationRestart(StreamsConfig.EXACTLY_ONCE_V2);
    }

    @Test
    void wordCountContinuesAcrossABrokerRestart() throws Exception {
        assumeTrue(Broker.external() == null,
                "restarts the blazemq process; an external broker (BLAZEMQ_BOOTSTRAP) is not ours to restart");
        App app = new App(StreamsConfig.AT_LEAST_ONCE);
        List<String> beforeAndAfter = concat(FIRST, SECOND);
        try (KafkaStreams streams = app.start(stateRoot.resolve("first"), new AtomicLong())) {
            produceLines(app.input, FIRST);
            app.awaitCounts(streams, FIRST);
            // Everything read must be committed first: under at-least-once, records processed
            // but not committed when the broker goes away are processed (and counted) again.
            app.awaitCommitted();

            broker.restart();

            produceLines(app.input, SECOND);
            app.awaitCounts(streams, beforeAndAfter);
            assertEquals(KafkaStreams.State.RUNNING, streams.state());
            app.close(streams);
        }

        // A fresh instance depends on what the restarted broker kept: the committed offsets (else
        // the input is read again from the start and counted twice) and the changelog.
        AtomicLong restored = new AtomicLong();
        try (KafkaStreams streams = app.start(stateRoot.resolve("second"), restored)) {
            assertEquals(counts(beforeAndAfter), app.storeContents(streams));
            assertEquals(words(beforeAndAfter).size(), restored.get());
            produceLines(app.input, THIRD);
            app.awaitCounts(streams, concat(beforeAndAfter, THIRD));
            app.close(streams);
        }
    }

    private void countsSurviveAnApplicationRestart(String guarantee) throws Exception {
        App app = new App(guarantee);
        try (KafkaStreams streams = app.start(stateRoot.resolve("first"), new AtomicLong())) {
            produceLines(app.input, FIRST);
            app.awaitCounts(streams, FIRST);
            app.close(streams);
        }
        app.assertInternalTopics();

        // The same application.id with an empty state directory: the store's contents can only
        // come back from the changelog, one changelog record per counted word (no cache).
        AtomicLong restored = new AtomicLong();
        try (KafkaStreams streams = app.start(stateRoot.resolve("second"), restored)) {
            assertEquals(counts(FIRST), app.storeContents(streams));
            assertEquals(words(FIRST).size(), restored.get());
            produceLines(app.input, SECOND);
            app.awaitCounts(streams, concat(FIRST, SECOND));
            app.close(streams);
        }
    }

    /** One word-count application: its topics, its id and the guarantee it runs under. */
    private final class App {
        final String id = unique("wordcount");
        final String guarantee;
        final String input;
        final String output;

        App(String guarantee) throws Exception {
            this.guarantee = guarantee;
            this.input = createTopic("lines", INPUT_PARTITIONS);
            this.output = createTopic("word-counts", 1);
        }

        String repartitionTopic() {
            return id + "-" + STORE + "-repartition";
        }

        String changelogTopic() {
            return id + "-" + STORE + "-changelog";
        }

        KafkaStreams start(Path stateDir, AtomicLong restored) throws InterruptedException {
            StreamsBuilder builder = new StreamsBuilder();
            builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
                    .flatMapValues(StreamsTest::split)
                    .groupBy((key, word) -> word, Grouped.with(STORE, Serdes.String(), Serdes.String()))
                    .count(Materialized.as(STORE))
                    .toStream()
                    .to(output, Produced.with(Serdes.String(), Serdes.Long()));

            Properties props = props(Map.of(
                    StreamsConfig.APPLICATION_ID_CONFIG, id,
                    StreamsConfig.STATE_DIR_CONFIG, stateDir.toString(),
                    StreamsConfig.PROCESSING_GUARANTEE_CONFIG, guarantee,
                    StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, "100",
                    // No cache: every update reaches the changelog and the output topic.
                    StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, "0",
                    StreamsConfig.NUM_STREAM_THREADS_CONFIG, "1",
                    ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "6000",
                    ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "200"));
            KafkaStreams streams = new KafkaStreams(builder.build(), props);
            streams.setGlobalStateRestoreListener(new StateRestoreListener() {
                @Override
                public void onRestoreStart(TopicPartition tp, String store, long start, long end) {
                }

                @Override
                public void onBatchRestored(TopicPartition tp, String store, long batchEnd, long count) {
                }

                @Override
                public void onRestoreEnd(TopicPartition tp, String store, long total) {
                    restored.addAndGet(total);
                }
            });
            streams.start();
            awaitUntil("application RUNNING", () -> streams.state() == KafkaStreams.State.RUNNING);
            return streams;
        }

        void close(KafkaStreams streams) {
            // Leaving the group spares the next instance a wait for this member's session to end.
            assertTrue(streams.close(CloseOptions.timeout(Duration.ofSeconds(15))
                    .withGroupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)),
                    "application closed in time");
        }

        /**
         * Waits until the output topic's latest count for each word is the count of `lines`,
         * then asserts it holds exactly one record per word counted (no update lost or repeated)
         * and that the store agrees.
         */
        void awaitCounts(KafkaStreams streams, List<String> lines) throws InterruptedException {
            Map<String, Long> expected = counts(lines);
            List<ConsumerRecord<String, Long>> records = new ArrayList<>();
            Properties p = props(Map.of(
                    ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName(),
                    ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, LongDeserializer.class.getName(),
                    ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"));
            try (KafkaConsumer<String, Long> consumer = new KafkaConsumer<>(p)) {
                consumer.assign(List.of(new TopicPartition(output, 0)));
                consumer.seekToBeginning(consumer.assignment());
                long deadline = System.currentTimeMillis() + TIMEOUT_MS;
                while (!latest(records).equals(expected) && System.currentTimeMillis() < deadline) {
                    consumer.poll(Duration.ofMillis(100)).forEach(records::add);
                }
            }
            assertEquals(expected, latest(records));
            assertEquals(words(lines).size(), records.size(), "one output record per word: " + records);
            assertEquals(expected, storeContents(streams));
        }

        /** The store through interactive queries, retried while a rebalance makes it unavailable. */
        Map<String, Long> storeContents(KafkaStreams streams) throws InterruptedException {
            long deadline = System.currentTimeMillis() + TIMEOUT_MS;
            while (true) {
                try {
                    ReadOnlyKeyValueStore<String, Long> store = streams.store(
                            StoreQueryParameters.fromNameAndType(STORE, QueryableStoreTypes.keyValueStore()));
                    Map<String, Long> contents = new TreeMap<>();
                    try (KeyValueIterator<String, Long> all = store.all()) {
                        while (all.hasNext()) {
                            KeyValue<String, Long> kv = all.next();
                            contents.put(kv.key, kv.value);
                        }
                    }
                    return contents;
                } catch (InvalidStateStoreException e) {
                    if (System.currentTimeMillis() > deadline) {
                        throw e;
                    }
                    Thread.sleep(100);
                }
            }
        }

        /** Until the group's committed offsets reach the end of the input and repartition topics. */
        void awaitCommitted() throws InterruptedException {
            awaitUntil("offsets committed up to the end of input and repartition topics", () -> {
                Map<TopicPartition, OffsetAndMetadata> committed =
                        admin.listConsumerGroupOffsets(id).partitionsToOffsetAndMetadata().get();
                Map<TopicPartition, OffsetSpec> ends = new HashMap<>();
                for (int i = 0; i < INPUT_PARTITIONS; i++) {
                    ends.put(new TopicPartition(input, i), OffsetSpec.latest());
                    ends.put(new TopicPartition(repartitionTopic(), i), OffsetSpec.latest());
                }
                for (var end : admin.listOffsets(ends).all().get().entrySet()) {
                    OffsetAndMetadata c = committed.get(end.getKey());
                    if (c == null || c.offset() != end.getValue().offset()) {
                        return false;
                    }
                }
                return true;
            });
        }

        /** Streams created both internal topics, with the input's partition count; the changelog compacted. */
        void assertInternalTopics() throws Exception {
            Set<String> names = admin.listTopics().names().get();
            assertTrue(names.contains(repartitionTopic()), repartitionTopic() + " in " + names);
            assertTrue(names.contains(changelogTopic()), changelogTopic() + " in " + names);
            Map<String, TopicDescription> described =
                    admin.describeTopics(List.of(repartitionTopic(), changelogTopic())).allTopicNames().get();
            assertEquals(INPUT_PARTITIONS, described.get(repartitionTopic()).partitions().size());
            assertEquals(INPUT_PARTITIONS, described.get(changelogTopic()).partitions().size());

            ConfigResource changelog = new ConfigResource(ConfigResource.Type.TOPIC, changelogTopic());
            ConfigResource repartition = new ConfigResource(ConfigResource.Type.TOPIC, repartitionTopic());
            Map<ConfigResource, Config> configs =
                    admin.describeConfigs(List.of(changelog, repartition)).all().get();
            assertEquals("compact", configs.get(changelog).get("cleanup.policy").value());
            // Repartition records are deleted by Streams once processed, never compacted away.
            assertEquals("delete", configs.get(repartition).get("cleanup.policy").value());
        }
    }

    private interface Check {
        boolean ok() throws Exception;
    }

    private static void awaitUntil(String what, Check check) throws InterruptedException {
        long deadline = System.currentTimeMillis() + TIMEOUT_MS;
        Exception last = null;
        while (System.currentTimeMillis() < deadline) {
            try {
                if (check.ok()) {
                    return;
                }
            } catch (Exception e) {
                last = e;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("timed out waiting for " + what, last);
    }

    private static List<String> split(String line) {
        return Arrays.stream(line.toLowerCase().split("\\W+")).filter(w -> !w.isEmpty()).collect(Collectors.toList());
    }

    private static List<String> words(List<String> lines) {
        return lines.stream().flatMap(l -> split(l).stream()).collect(Collectors.toList());
    }

    private static Map<String, Long> counts(List<String> lines) {
        return words(lines).stream().collect(Collectors.groupingBy(w -> w, TreeMap::new, Collectors.counting()));
    }

    private static Map<String, Long> latest(List<ConsumerRecord<String, Long>> records) {
        Map<String, Long> latest = new TreeMap<>();
        records.forEach(r -> latest.put(r.key(), r.value()));
        return latest;
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    private static void produceLines(String topic, List<String> lines) throws Exception {
        try (KafkaProducer<String, String> producer = producer(Map.of())) {
            for (int i = 0; i < lines.size(); i++) {
                producer.send(new ProducerRecord<>(topic, i % INPUT_PARTITIONS, "line-" + i, lines.get(i))).get();
            }
        }
    }
}
