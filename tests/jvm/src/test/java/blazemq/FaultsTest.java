package blazemq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/**
 * The Java client against injected faults (README: Fault injection). NOT_LEADER_OR_FOLLOWER is
 * an InvalidMetadataException, retriable: the producer refreshes its metadata and sends the batch
 * again with the same sequence numbers, so each record is stored once, in order.
 */
class FaultsTest {
    private static final String RULE = "api=Produce,error=NOT_LEADER_OR_FOLLOWER,count=3";

    @Test
    void notLeaderOrFollowerOnProduceIsRetriedAndRecordsArriveOnce() throws Exception {
        // Fault rules are BlazeMQ's own: a broker started elsewhere has none.
        assumeTrue(Broker.external() == null, "fault rules need the blazemq binary");
        try (Broker broker = Broker.start("--log-level", "debug", "--faults", RULE)) {
            String topic = BrokerTest.unique("faults");
            Properties admin = new Properties();
            admin.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrap());
            try (Admin a = Admin.create(admin)) {
                a.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
            }
            List<RecordMetadata> acks = produce(broker, topic, 100);
            for (int i = 0; i < 100; i++) {
                assertEquals(i, acks.get(i).offset(), "acknowledged at its place");
            }
            long injected = broker.logs().lines()
                    .filter(l -> l.contains("fault injected") && l.contains(RULE)).count();
            assertEquals(3, injected, "three Produce requests failed:\n" + broker.logs());
            List<ConsumerRecord<String, String>> records = consume(broker, topic, 100);
            for (int i = 0; i < 100; i++) {
                assertEquals(i, records.get(i).offset());
                assertEquals("v" + i, records.get(i).value(), "once each, in order");
            }
        }
    }

    private static List<RecordMetadata> produce(Broker broker, String topic, int count) throws Exception {
        Properties p = new Properties();
        p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrap());
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        // The defaults: idempotence on, acks=all. Short backoffs keep the test quick.
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        p.put(ProducerConfig.RETRY_BACKOFF_MS_CONFIG, "20");
        List<RecordMetadata> acks = new ArrayList<>();
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                sent.add(producer.send(new ProducerRecord<>(topic, 0, null, "v" + i)));
            }
            for (Future<RecordMetadata> f : sent) {
                acks.add(f.get());
            }
        }
        return acks;
    }

    private static List<ConsumerRecord<String, String>> consume(Broker broker, String topic, int count) {
        Properties p = new Properties();
        p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrap());
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
            consumer.assign(List.of(new TopicPartition(topic, 0)));
            return BrokerTest.pollExactly(consumer, count, 15_000);
        }
    }
}
