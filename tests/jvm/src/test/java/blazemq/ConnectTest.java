package blazemq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigException;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.utils.internals.Exit;
import org.apache.kafka.connect.cli.ConnectDistributed;
import org.apache.kafka.connect.runtime.Connect;
import org.apache.kafka.connect.runtime.distributed.DistributedHerder;
import org.apache.kafka.connect.storage.StringConverter;
import org.apache.kafka.connect.util.TopicAdmin;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kafka Connect in distributed mode, its worker started in this JVM as bin/connect-distributed.sh
 * starts it: the worker creates its three internal topics (connector configs, source offsets,
 * statuses) and checks they are compacted, joins its group (the "connect" protocol), and serves
 * the REST API, through which a source connector is created. Its records must reach the topic,
 * and a new worker must find the connector's config and go on from its committed source offset,
 * without writing any record twice, after the first worker stops and after a broker restart too.
 */
class ConnectTest extends BrokerTest {
    // Each wait; a worker starts and takes its connector in a few seconds.
    private static final long TIMEOUT_MS = 15_000;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private static final List<String> FIRST = lines(1, 5);
    private static final List<String> SECOND = lines(6, 8);

    @TempDir
    Path dir;

    // Why a worker called Exit.exit: its herder thread died (e.g. on an internal topic that is
    // not compacted, or a broker it cannot use), after which its REST API only times out. Every
    // wait fails at once with it instead.
    private static volatile String exited;

    @BeforeAll
    static void keepTheJvm() {
        // A worker that fails calls Exit.exit: fail the test, not the whole JVM.
        Exit.setExitProcedure((code, message) -> {
            exited = "Connect exited with " + code + (message == null ? "" : ": " + message)
                    + "; its log (stderr) says why";
            throw new IllegalStateException(exited);
        });
    }

    @BeforeEach
    void noExitYet() {
        exited = null;
    }

    @AfterAll
    static void restoreExit() {
        Exit.resetExitProcedure();
    }

    // Each wait below is bounded on its own; this bounds each test as a whole, also should a call
    // not answer an interrupt (hence the separate thread). Each takes 5 to 15 s on two cores.
    @Test
    @Timeout(value = 45, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void sourceConnectorGoesOnFromItsOffsetInANewWorker() throws Exception {
        connectorSurvivesWorkerRestart(false);
    }

    @Test
    @Timeout(value = 45, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void sourceConnectorConfigAndOffsetSurviveABrokerRestart() throws Exception {
        assumeTrue(Broker.external() == null,
                "restarts the blazemq process; an external broker (BLAZEMQ_BOOTSTRAP) is not ours to restart");
        connectorSurvivesWorkerRestart(true);
    }

    /**
     * The check a worker makes of its internal topics on start refuses one whose records may be
     * deleted: it reads cleanup.policy with DescribeConfigs, so the broker must report it as the
     * topic has it, including the default (delete) of a topic created without one.
     */
    @Test
    @Timeout(value = 20, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void internalTopicsThatMayDeleteRecordsAreRefused() throws Exception {
        Map<String, Set<String>> refused = Map.of(
                createTopic("connect-default", 1), Set.of("delete"),
                createTopic("connect-delete", 1, Map.of("cleanup.policy", "delete")), Set.of("delete"),
                createTopic("connect-both", 1, Map.of("cleanup.policy", "compact,delete")), Set.of("compact", "delete"));
        String compacted = createTopic("connect-compact", 1, Map.of("cleanup.policy", "compact"));
        try (TopicAdmin topicAdmin = topicAdmin()) {
            assertTrue(onlyCompact(topicAdmin, compacted, "config.storage.topic"));
            for (Map.Entry<String, Set<String>> topic : refused.entrySet()) {
                assertEquals(topic.getValue(), topicAdmin.topicCleanupPolicy(topic.getKey()), topic.getKey());
                assertThrows(ConfigException.class,
                        () -> onlyCompact(topicAdmin, topic.getKey(), "config.storage.topic"), topic.getKey());
            }
        }
    }

    private static TopicAdmin topicAdmin() {
        return new TopicAdmin(Map.of("bootstrap.servers", bootstrap()));
    }

    /**
     * Connect's check of an internal topic (`property` names it in the worker's config): true if
     * compact only, false if the broker did not answer DescribeConfigs (the worker then goes on
     * unchecked), ConfigException otherwise.
     */
    private static boolean onlyCompact(TopicAdmin topicAdmin, String topic, String property) {
        return topicAdmin.verifyTopicCleanupPolicyOnlyCompact(topic, property, "the records of " + property);
    }

    private void connectorSurvivesWorkerRestart(boolean restartBroker) throws Exception {
        Cluster cluster = new Cluster();
        String topic = createTopic("connect-lines", 1);
        Path file = dir.resolve("lines.txt");
        writeLines(file, FIRST);
        String name = unique("lines");
        Map<String, String> config = Map.of(
                "connector.class", LinesSourceConnector.class.getName(),
                "tasks.max", "1",
                LinesSourceConnector.FILE, file.toString(),
                LinesSourceConnector.TOPIC, topic);

        Connect<DistributedHerder> worker = cluster.startWorker();
        try {
            String rest = restUrl(worker);
            cluster.assertInternalTopics();

            HttpResponse<String> created = send("POST", rest + "/connectors",
                    JSON.writeValueAsString(Map.of("name", name, "config", config)));
            assertEquals(201, created.statusCode(), created.body());

            assertEquals(FIRST, readAll(topic, FIRST.size()));
            awaitRunning(rest, name);
            // The task's offset reaches the offset topic (offset.flush.interval.ms is short) and
            // the worker reads it back: the whole file has been written.
            awaitOffset(rest, name, file, FIRST.size());
        } finally {
            worker.stop();
        }

        if (restartBroker) {
            broker.restart();
        }
        // Lines added while no worker runs: only these may be written by the next one.
        writeLines(file, concat(FIRST, SECOND));

        worker = cluster.startWorker();
        try {
            String rest = restUrl(worker);
            cluster.assertInternalTopics();
            JsonNode names = getJson(rest + "/connectors");
            assertEquals(List.of(name), strings(names), "connectors after the restart");
            Map<String, String> expectedConfig = new HashMap<>(config);
            expectedConfig.put("name", name);
            assertEquals(expectedConfig, JSON.convertValue(getJson(rest + "/connectors/" + name + "/config"), Map.class));

            awaitRunning(rest, name);
            assertEquals(concat(FIRST, SECOND), readAll(topic, FIRST.size() + SECOND.size()),
                    "every line once: the new task went on from the committed offset");
            awaitOffset(rest, name, file, FIRST.size() + SECOND.size());
        } finally {
            worker.stop();
        }
    }

    /** One Connect cluster: its group and internal topics, named for this test alone. */
    private final class Cluster {
        final String group = unique("connect-cluster");
        final String configs = group + "-configs";
        final String offsets = group + "-offsets";
        final String statuses = group + "-status";

        Connect<DistributedHerder> startWorker() throws Exception {
            Map<String, String> props = new HashMap<>();
            props.put("bootstrap.servers", bootstrap());
            props.put("group.id", group);
            props.put("config.storage.topic", configs);
            props.put("offset.storage.topic", offsets);
            props.put("status.storage.topic", statuses);
            // One broker: Kafka's default of three replicas could not be placed.
            props.put("config.storage.replication.factor", "1");
            props.put("offset.storage.replication.factor", "1");
            props.put("status.storage.replication.factor", "1");
            props.put("key.converter", StringConverter.class.getName());
            props.put("value.converter", StringConverter.class.getName());
            // A free port, chosen by the REST server itself; its URL is read back from it.
            props.put("listeners", "http://127.0.0.1:0");
            props.put("rest.advertised.host.name", "127.0.0.1");
            props.put("offset.flush.interval.ms", "200");
            // A new worker takes over the connector at once, not after the default five minutes
            // allowed for the departed worker to come back.
            props.put("scheduled.rebalance.max.delay.ms", "0");
            // Plugins are found through their ServiceLoader manifests (KIP-898; the tests' own
            // connector has one in src/test/resources), not by a reflective scan of the whole
            // classpath, which takes seconds for every worker started.
            props.put("plugin.discovery", "service_load");
            Connect<DistributedHerder> connect = new ConnectDistributed().startConnect(props);
            try {
                awaitUntil("the worker's REST API ready", () -> {
                    HttpResponse<String> health = send("GET", restUrl(connect) + "/health", null);
                    return health.statusCode() == 200;
                });
            } catch (AssertionError e) {
                connect.stop();
                throw e;
            }
            return connect;
        }

        /** The worker created its internal topics, each compacted as Connect requires. */
        void assertInternalTopics() throws Exception {
            Set<String> names = admin.listTopics().names().get();
            for (String topic : List.of(configs, offsets, statuses)) {
                assertTrue(names.contains(topic), topic + " in " + names);
            }
            // Kafka Connect's defaults: one partition for configs, 25 for offsets, 5 for statuses.
            var topics = admin.describeTopics(List.of(configs, offsets, statuses)).allTopicNames().get();
            assertEquals(1, topics.get(configs).partitions().size());
            assertEquals(25, topics.get(offsets).partitions().size());
            assertEquals(5, topics.get(statuses).partitions().size());
            List<ConfigResource> resources = List.of(configs, offsets, statuses).stream()
                    .map(t -> new ConfigResource(ConfigResource.Type.TOPIC, t)).collect(Collectors.toList());
            Map<ConfigResource, Config> topicConfigs = admin.describeConfigs(resources).all().get();
            for (ConfigResource resource : resources) {
                assertEquals("compact", topicConfigs.get(resource).get("cleanup.policy").value(), resource.name());
            }
            // Connect's own check, as a worker makes it on start: true means the broker's
            // DescribeConfigs answered (false would be a check skipped) and showed compact only.
            try (TopicAdmin topicAdmin = topicAdmin()) {
                assertTrue(onlyCompact(topicAdmin, configs, "config.storage.topic"), configs);
                assertTrue(onlyCompact(topicAdmin, offsets, "offset.storage.topic"), offsets);
                assertTrue(onlyCompact(topicAdmin, statuses, "status.storage.topic"), statuses);
            }
        }
    }

    /** Until the connector and its one task are RUNNING in the REST status. */
    private static void awaitRunning(String rest, String name) throws InterruptedException {
        awaitUntil("connector " + name + " and its task RUNNING", () -> {
            JsonNode status = getJson(rest + "/connectors/" + name + "/status");
            JsonNode tasks = status.path("tasks");
            return "RUNNING".equals(status.path("connector").path("state").asText())
                    && tasks.size() == 1
                    && "RUNNING".equals(tasks.get(0).path("state").asText());
        });
    }

    /** Until the worker reports the connector's committed source offset as `lines` lines. */
    private static void awaitOffset(String rest, String name, Path file, long lines) throws InterruptedException {
        awaitUntil("offset of " + name + " at line " + lines, () -> {
            JsonNode offsets = getJson(rest + "/connectors/" + name + "/offsets").path("offsets");
            return offsets.size() == 1
                    && file.toString().equals(offsets.get(0).path("partition").path(LinesSourceConnector.FILE).asText())
                    && offsets.get(0).path("offset").path(LinesSourceConnector.LINE).asLong() == lines;
        });
    }

    /**
     * Every record of the topic's one partition from the start: `count` of them within the
     * timeout, then none more for a moment (a task that started over would write more).
     */
    private static List<String> readAll(String topic, int count) {
        try (KafkaConsumer<String, String> consumer = consumer(null, Map.of())) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            List<ConsumerRecord<String, String>> records = new ArrayList<>(pollExactly(consumer, count, TIMEOUT_MS));
            long quiet = System.currentTimeMillis() + 1_000;
            while (System.currentTimeMillis() < quiet) {
                consumer.poll(Duration.ofMillis(100)).forEach(records::add);
            }
            return records.stream().map(ConsumerRecord::value).collect(Collectors.toList());
        }
    }

    private static String restUrl(Connect<DistributedHerder> connect) {
        String url = connect.rest().serverUrl().toString();
        return url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    }

    private static HttpResponse<String> send(String method, String url, String body)
            throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url))
                .timeout(Duration.ofSeconds(10))
                .header("Accept", "application/json");
        if (body == null) {
            request.method(method, HttpRequest.BodyPublishers.noBody());
        } else {
            request.header("Content-Type", "application/json")
                    .method(method, HttpRequest.BodyPublishers.ofString(body));
        }
        return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode getJson(String url) throws IOException, InterruptedException {
        HttpResponse<String> response = send("GET", url, null);
        if (response.statusCode() != 200) {
            throw new IOException("GET " + url + ": " + response.statusCode() + " " + response.body());
        }
        return JSON.readTree(response.body());
    }

    private static List<String> strings(JsonNode array) {
        List<String> values = new ArrayList<>();
        array.forEach(v -> values.add(v.asText()));
        return values;
    }

    /** Replaces the file whole, so the task never reads half a line. */
    private static void writeLines(Path file, List<String> lines) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.write(tmp, lines);
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private static List<String> lines(int from, int to) {
        return IntStream.rangeClosed(from, to).mapToObj(i -> "line " + i).collect(Collectors.toList());
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    private interface Check {
        boolean ok() throws Exception;
    }

    private static void awaitUntil(String what, Check check) throws InterruptedException {
        long deadline = System.currentTimeMillis() + TIMEOUT_MS;
        Exception last = null;
        while (System.currentTimeMillis() < deadline) {
            if (exited != null) {
                throw new AssertionError("waiting for " + what + ": " + exited);
            }
            try {
                if (check.ok()) {
                    return;
                }
            } catch (InterruptedException e) {
                // The test's timeout: stop waiting.
                throw e;
            } catch (Exception e) {
                last = e;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("timed out waiting for " + what, last);
    }
}
