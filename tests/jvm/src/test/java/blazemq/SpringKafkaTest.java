package blazemq;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.Test;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;
import org.springframework.core.env.MapPropertySource;
import org.springframework.kafka.annotation.EnableKafka;
import org.springframework.kafka.annotation.KafkaListener;
import org.springframework.kafka.config.ConcurrentKafkaListenerContainerFactory;
import org.springframework.kafka.core.ConsumerFactory;
import org.springframework.kafka.core.DefaultKafkaConsumerFactory;
import org.springframework.kafka.core.DefaultKafkaProducerFactory;
import org.springframework.kafka.core.KafkaTemplate;
import org.springframework.kafka.core.ProducerFactory;
import org.springframework.kafka.support.SendResult;

/**
 * Spring Kafka as an application uses it without Spring Boot: a @Configuration with a producer
 * factory and KafkaTemplate, a listener container factory, and a @KafkaListener bean, all
 * pointed at the test's broker through the context's environment.
 */
class SpringKafkaTest extends BrokerTest {
    private static final long TIMEOUT_MS = 20_000;

    @Configuration
    @EnableKafka
    static class KafkaConfig {
        @Bean
        ProducerFactory<String, String> producerFactory(Environment env) {
            Map<String, Object> config = new HashMap<>(Map.of(
                    ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, env.getRequiredProperty("test.bootstrap"),
                    ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                    ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class));
            DefaultKafkaProducerFactory<String, String> factory = new DefaultKafkaProducerFactory<>(config);
            String transactionIdPrefix = env.getProperty("test.transaction-id-prefix");
            if (transactionIdPrefix != null) {
                factory.setTransactionIdPrefix(transactionIdPrefix);
            }
            return factory;
        }

        @Bean
        KafkaTemplate<String, String> kafkaTemplate(ProducerFactory<String, String> producerFactory) {
            return new KafkaTemplate<>(producerFactory);
        }

        @Bean
        ConsumerFactory<String, String> consumerFactory(Environment env) {
            return new DefaultKafkaConsumerFactory<>(Map.of(
                    ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, env.getRequiredProperty("test.bootstrap"),
                    ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class,
                    ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class,
                    ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                    // Aborted transactions' records must never reach the listener.
                    ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed",
                    ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "6000",
                    ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "200"));
        }

        @Bean
        ConcurrentKafkaListenerContainerFactory<String, String> kafkaListenerContainerFactory(
                ConsumerFactory<String, String> consumerFactory) {
            ConcurrentKafkaListenerContainerFactory<String, String> factory =
                    new ConcurrentKafkaListenerContainerFactory<>();
            factory.setConsumerFactory(consumerFactory);
            return factory;
        }

        @Bean
        Listener listener() {
            return new Listener();
        }
    }

    /** Hands every record it is given to the test. */
    static class Listener {
        final BlockingQueue<ConsumerRecord<String, String>> received = new LinkedBlockingQueue<>();

        @KafkaListener(id = "${test.group}", topics = "${test.topic}", groupId = "${test.group}")
        void listen(ConsumerRecord<String, String> record) {
            received.add(record);
        }
    }

    private static AnnotationConfigApplicationContext context(String topic, String group, Map<String, Object> extra) {
        Map<String, Object> properties = new HashMap<>(Map.of(
                "test.bootstrap", bootstrap(), "test.topic", topic, "test.group", group));
        properties.putAll(extra);
        AnnotationConfigApplicationContext context = new AnnotationConfigApplicationContext();
        context.getEnvironment().getPropertySources().addFirst(new MapPropertySource("test", properties));
        context.register(KafkaConfig.class);
        context.refresh();
        return context;
    }

    @SuppressWarnings("unchecked")
    private static KafkaTemplate<String, String> template(AnnotationConfigApplicationContext context) {
        return context.getBean(KafkaTemplate.class);
    }

    /** Takes `count` records from the listener, failing after the timeout, sorted by partition then offset. */
    private static List<ConsumerRecord<String, String>> receive(Listener listener, int count) throws InterruptedException {
        List<ConsumerRecord<String, String>> records = new ArrayList<>();
        long deadline = System.currentTimeMillis() + TIMEOUT_MS;
        while (records.size() < count) {
            long left = deadline - System.currentTimeMillis();
            ConsumerRecord<String, String> record = left > 0 ? listener.received.poll(left, TimeUnit.MILLISECONDS) : null;
            if (record == null) {
                throw new AssertionError("expected " + count + " records, got " + records.size() + ": " + records);
            }
            records.add(record);
        }
        records.sort(Comparator.<ConsumerRecord<String, String>>comparingInt(ConsumerRecord::partition)
                .thenComparingLong(ConsumerRecord::offset));
        return records;
    }

    /** partition/offset key=value trace=header, one string per record, for exact comparison. */
    private static List<String> describe(List<ConsumerRecord<String, String>> records) {
        return records.stream().map(r -> {
            Header trace = r.headers().lastHeader("trace");
            String value = trace == null ? "none" : new String(trace.value(), StandardCharsets.UTF_8);
            return r.partition() + "/" + r.offset() + " " + r.key() + "=" + r.value() + " trace=" + value;
        }).collect(Collectors.toList());
    }

    private static ProducerRecord<String, String> record(String topic, Integer partition, String key, String value) {
        return new ProducerRecord<>(topic, partition, key, value,
                List.of(new RecordHeader("trace", ("t-" + key).getBytes(StandardCharsets.UTF_8))));
    }

    @Test
    void kafkaTemplateSendsAndKafkaListenerReceives() throws Exception {
        String topic = createTopic("spring", 2);
        String group = unique("spring-group");
        try (AnnotationConfigApplicationContext context = context(topic, group, Map.of())) {
            KafkaTemplate<String, String> template = template(context);
            List<RecordMetadata> sent = new ArrayList<>();
            for (ProducerRecord<String, String> r : List.of(
                    record(topic, 0, "a", "alpha"), record(topic, 1, "b", "beta"), record(topic, 0, "c", "gamma"))) {
                SendResult<String, String> result = template.send(r).get(10, TimeUnit.SECONDS);
                assertEquals(r, result.getProducerRecord());
                sent.add(result.getRecordMetadata());
            }
            // Without a partition the key chooses it, as Kafka's default partitioner does.
            SendResult<String, String> keyed = template.send(topic, "delta", "fourth").get(10, TimeUnit.SECONDS);
            sent.add(keyed.getRecordMetadata());
            int keyedPartition = Utils.toPositive(Utils.murmur2("delta".getBytes(StandardCharsets.UTF_8))) % 2;

            assertEquals(List.of(topic, topic, topic, topic),
                    sent.stream().map(RecordMetadata::topic).collect(Collectors.toList()));
            assertEquals(List.of(0, 1, 0, keyedPartition),
                    sent.stream().map(RecordMetadata::partition).collect(Collectors.toList()));
            assertEquals(List.of(0L, 0L, 1L, keyedPartition == 0 ? 2L : 1L),
                    sent.stream().map(RecordMetadata::offset).collect(Collectors.toList()));

            Listener listener = context.getBean(Listener.class);
            List<String> expected = new ArrayList<>(List.of(
                    "0/0 a=alpha trace=t-a", "0/1 c=gamma trace=t-c", "1/0 b=beta trace=t-b"));
            expected.add(keyedPartition == 0 ? 2 : 3, keyedPartition + "/" + (keyedPartition == 0 ? 2 : 1)
                    + " delta=fourth trace=none");
            assertEquals(expected, describe(receive(listener, 4)));

            // The container commits what the listener has handled.
            Map<TopicPartition, Long> end = Map.of(
                    new TopicPartition(topic, 0), keyedPartition == 0 ? 3L : 2L,
                    new TopicPartition(topic, 1), keyedPartition == 1 ? 2L : 1L);
            awaitCommitted(group, end);
            assertEquals(List.of(), new ArrayList<>(listener.received));
        }
    }

    @Test
    void executeInTransactionCommitsOrAbortsTogether() throws Exception {
        String topic = createTopic("spring-tx", 1);
        String group = unique("spring-tx-group");
        try (AnnotationConfigApplicationContext context = context(topic, group,
                Map.of("test.transaction-id-prefix", unique("spring-tx-")))) {
            KafkaTemplate<String, String> template = template(context);
            try {
                template.executeInTransaction(t -> {
                    t.send(record(topic, 0, "x", "aborted"));
                    // Written to the log before the abort, not just dropped from the client's buffer.
                    t.flush();
                    throw new IllegalStateException("roll back");
                });
                throw new AssertionError("the transaction's exception should have been thrown");
            } catch (IllegalStateException expected) {
                // The transaction was aborted.
            }
            template.executeInTransaction(t -> {
                t.send(record(topic, 0, "y", "one"));
                t.send(record(topic, 0, "z", "two"));
                return null;
            });
            // The aborted record is at offset 0 and its abort marker at 1; a read_committed
            // listener gets only the committed records, which come after it.
            Listener listener = context.getBean(Listener.class);
            assertEquals(List.of("0/2 y=one trace=t-y", "0/3 z=two trace=t-z"), describe(receive(listener, 2)));
            awaitCommitted(group, Map.of(new TopicPartition(topic, 0), 4L));
            assertEquals(List.of(), new ArrayList<>(listener.received));
        }
    }

    private static void awaitCommitted(String group, Map<TopicPartition, Long> expected) throws Exception {
        Map<TopicPartition, Long> committed = Map.of();
        long deadline = System.currentTimeMillis() + TIMEOUT_MS;
        while (System.currentTimeMillis() < deadline) {
            committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().entrySet()
                    .stream().filter(e -> e.getValue() != null)
                    .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().offset()));
            if (committed.equals(expected)) {
                return;
            }
            Thread.sleep(100);
        }
        assertEquals(expected, committed, "offsets committed by the listener container");
    }
}
