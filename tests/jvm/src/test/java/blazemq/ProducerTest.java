package blazemq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class ProducerTest extends BrokerTest {
    private static final int ONE_MIB = 1024 * 1024;

    /** The Java client's defaults: idempotence on, acks=all, so a producer id and sequences. */
    @ParameterizedTest
    @ValueSource(strings = {"none", "gzip", "snappy", "lz4", "zstd"})
    void idempotentProducerWithEachCodecRoundTrips(String codec) throws Exception {
        String topic = createTopic("codec-" + codec, 2);
        List<RecordMetadata> acks = new ArrayList<>();
        try (KafkaProducer<String, String> producer = producer(Map.of(
                ProducerConfig.COMPRESSION_TYPE_CONFIG, codec,
                ProducerConfig.LINGER_MS_CONFIG, "5"))) {
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                sent.add(producer.send(new ProducerRecord<>(topic, i % 2, "k" + i, "value-" + i + "-" + "x".repeat(i))));
            }
            for (Future<RecordMetadata> f : sent) {
                acks.add(f.get());
            }
        }
        // Each partition's records get offsets 0, 1, 2, ... in the order they were sent.
        for (int i = 0; i < 200; i++) {
            assertEquals(i % 2, acks.get(i).partition());
            assertEquals(i / 2, acks.get(i).offset());
        }
        try (KafkaConsumer<String, String> consumer = consumer(null, Map.of())) {
            consumer.assign(List.of(new TopicPartition(topic, 0), new TopicPartition(topic, 1)));
            List<ConsumerRecord<String, String>> records = pollExactly(consumer, 200, 15_000);
            for (ConsumerRecord<String, String> r : records) {
                int i = Integer.parseInt(r.key().substring(1));
                assertEquals(i % 2, r.partition());
                assertEquals(i / 2, r.offset());
                assertEquals("value-" + i + "-" + "x".repeat(i), r.value());
            }
        }
    }

    @Test
    void headersNullsAndTimestampsRoundTrip() throws Exception {
        String topic = createTopic("headers", 1);
        List<Header> headers = List.of(
                new RecordHeader("trace", "abc".getBytes(StandardCharsets.UTF_8)),
                new RecordHeader("empty", new byte[0]),
                new RecordHeader("null", null),
                new RecordHeader("trace", "again".getBytes(StandardCharsets.UTF_8)));
        try (KafkaProducer<String, String> producer = producer(Map.of())) {
            producer.send(new ProducerRecord<>(topic, 0, 1_700_000_000_000L, "key", "value", headers)).get();
            producer.send(new ProducerRecord<>(topic, 0, 1_700_000_000_001L, (String) null, (String) null)).get();
        }
        try (KafkaConsumer<String, String> consumer = consumer(null, Map.of())) {
            consumer.assign(List.of(new TopicPartition(topic, 0)));
            List<ConsumerRecord<String, String>> records = pollExactly(consumer, 2, 10_000);
            ConsumerRecord<String, String> first = records.get(0);
            assertEquals("key", first.key());
            assertEquals("value", first.value());
            assertEquals(1_700_000_000_000L, first.timestamp());
            Header[] got = first.headers().toArray();
            assertEquals(4, got.length);
            for (int i = 0; i < 4; i++) {
                assertEquals(headers.get(i).key(), got[i].key());
                assertArrayEquals(headers.get(i).value(), got[i].value());
            }
            ConsumerRecord<String, String> second = records.get(1);
            assertEquals(null, second.key());
            assertEquals(null, second.value());
            assertEquals(0, second.headers().toArray().length);
            assertEquals(1_700_000_000_001L, second.timestamp());
        }
    }

    /** A 1 MiB value is over the default max.message.bytes (1048588 with the batch's overhead). */
    @Test
    void oneMebibyteRecordIsRefusedByDefaultAndStoredWhenTheTopicAllowsIt() throws Exception {
        byte[] value = new byte[ONE_MIB];
        for (int i = 0; i < value.length; i++) {
            value[i] = (byte) (i * 31 + (i >> 10));
        }
        String small = createTopic("default-size", 1);
        String large = createTopic("large", 1, Map.of("max.message.bytes", Integer.toString(2 * ONE_MIB)));
        try (KafkaProducer<byte[], byte[]> producer = bytesProducer()) {
            ExecutionException refused = assertThrows(ExecutionException.class,
                    () -> producer.send(new ProducerRecord<>(small, 0, null, value)).get());
            assertInstanceOf(RecordTooLargeException.class, refused.getCause());
            assertEquals(0, producer.send(new ProducerRecord<>(large, 0, null, value)).get().offset());
            assertEquals(1, producer.send(new ProducerRecord<>(large, 0, null, "after".getBytes())).get().offset());
        }
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props(Map.of(
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName(),
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName())))) {
            consumer.assign(List.of(new TopicPartition(large, 0)));
            consumer.seekToBeginning(List.of(new TopicPartition(large, 0)));
            List<ConsumerRecord<byte[], byte[]>> records = pollExactly(consumer, 2, 10_000);
            assertEquals(true, Arrays.equals(value, records.get(0).value()), "the 1 MiB value came back intact");
            assertArrayEquals("after".getBytes(), records.get(1).value());
        }
        // Nothing of the refused record was stored.
        assertEquals(0L, admin.listOffsets(Map.of(new TopicPartition(small, 0),
                org.apache.kafka.clients.admin.OffsetSpec.latest())).all().get()
                .get(new TopicPartition(small, 0)).offset());
    }

    private static KafkaProducer<byte[], byte[]> bytesProducer() {
        return new KafkaProducer<>(props(Map.of(
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName(),
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName(),
                ProducerConfig.MAX_REQUEST_SIZE_CONFIG, Integer.toString(4 * ONE_MIB),
                ProducerConfig.COMPRESSION_TYPE_CONFIG, "none")));
    }
}
