package blazemq;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * One broker per test class (starting one per test costs more than the tests); every test uses
 * topics and groups named uniquely, so tests neither see each other's data nor depend on order,
 * and the same tests run against an already running broker (BLAZEMQ_BOOTSTRAP).
 */
abstract class BrokerTest {
    static Broker broker;
    static Admin admin;

    @BeforeAll
    static void startBroker() throws Exception {
        broker = Broker.start();
        admin = Admin.create(props(Map.of()));
    }

    @AfterAll
    static void stopBroker() throws Exception {
        if (admin != null) {
            admin.close();
            admin = null;
        }
        if (broker != null) {
            broker.close();
            broker = null;
        }
    }

    static String bootstrap() {
        return broker.bootstrap();
    }

    /** A name no other test (or earlier run against the same external broker) has used. */
    static String unique(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    static Properties props(Map<String, Object> extra) {
        Properties props = new Properties();
        props.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
        props.putAll(extra);
        return props;
    }

    static String createTopic(String prefix, int partitions, Map<String, String> configs) throws Exception {
        String topic = unique(prefix);
        admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1).configs(configs))).all().get();
        return topic;
    }

    static String createTopic(String prefix, int partitions) throws Exception {
        return createTopic(prefix, partitions, Map.of());
    }

    static KafkaProducer<String, String> producer(Map<String, Object> extra) {
        Properties p = props(Map.of(
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName(),
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName()));
        p.putAll(extra);
        return new KafkaProducer<>(p);
    }

    /**
     * A consumer with heartbeats and rebalances short enough for tests; the session timeout is
     * Kafka's group.min.session.timeout.ms default, the shortest a broker accepts.
     */
    static KafkaConsumer<String, String> consumer(String group, Map<String, Object> extra) {
        Properties p = props(Map.of(
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName(),
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName(),
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false",
                ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "6000",
                ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "200"));
        if (group != null) {
            p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        }
        p.putAll(extra);
        return new KafkaConsumer<>(p);
    }

    /** Polls until `count` records have come (failing after `timeoutMs`), and no more. */
    static <K, V> List<ConsumerRecord<K, V>> pollExactly(Consumer<K, V> consumer, int count, long timeoutMs) {
        List<ConsumerRecord<K, V>> records = new ArrayList<>();
        long deadline = System.currentTimeMillis() + timeoutMs;
        while (records.size() < count && System.currentTimeMillis() < deadline) {
            consumer.poll(Duration.ofMillis(100)).forEach(records::add);
        }
        if (records.size() != count) {
            throw new AssertionError("expected " + count + " records, got " + records.size() + ": " + records);
        }
        return records;
    }
}
