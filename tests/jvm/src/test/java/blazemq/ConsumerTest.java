package blazemq;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.CooperativeStickyAssignor;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.consumer.RangeAssignor;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

class ConsumerTest extends BrokerTest {

    private static void produce(String topic, int partition, int count, long firstTimestamp) throws Exception {
        try (KafkaProducer<String, String> producer = producer(Map.of())) {
            for (int i = 0; i < count; i++) {
                Long ts = firstTimestamp < 0 ? null : firstTimestamp + 1000L * i;
                producer.send(new ProducerRecord<>(topic, partition, ts, "k" + i, "v" + i));
            }
            producer.flush();
        }
    }

    @Test
    void groupConsumerCommitsAndTheNextMemberResumesThere() throws Exception {
        String topic = createTopic("resume", 1);
        String group = unique("resume-group");
        TopicPartition tp = new TopicPartition(topic, 0);
        produce(topic, 0, 10, -1);
        try (KafkaConsumer<String, String> consumer = consumer(group, Map.of())) {
            consumer.subscribe(List.of(topic));
            List<ConsumerRecord<String, String>> records = pollExactly(consumer, 10, 20_000);
            assertEquals(List.of(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L),
                    records.stream().map(ConsumerRecord::offset).collect(Collectors.toList()));
            consumer.commitSync(Map.of(tp, new OffsetAndMetadata(10, "done")));
            OffsetAndMetadata committed = consumer.committed(Set.of(tp)).get(tp);
            assertEquals(10, committed.offset());
            assertEquals("done", committed.metadata());
        }
        assertEquals(10, admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get().get(tp).offset());
        produce(topic, 0, 5, -1);
        try (KafkaConsumer<String, String> consumer = consumer(group, Map.of())) {
            consumer.subscribe(List.of(topic));
            List<ConsumerRecord<String, String>> records = pollExactly(consumer, 5, 20_000);
            assertEquals(10, records.get(0).offset());
            assertEquals("v0", records.get(0).value());
            CompletableFuture<Map<TopicPartition, OffsetAndMetadata>> done = new CompletableFuture<>();
            consumer.commitAsync((offsets, error) -> {
                if (error != null) {
                    done.completeExceptionally(error);
                } else {
                    done.complete(offsets);
                }
            });
            // The callback runs inside a later poll (or commitSync); poll until it has.
            long deadline = System.currentTimeMillis() + 10_000;
            while (!done.isDone() && System.currentTimeMillis() < deadline) {
                consumer.poll(Duration.ofMillis(50));
            }
            assertEquals(15, done.get(1, TimeUnit.SECONDS).get(tp).offset());
            assertEquals(15, consumer.committed(Set.of(tp)).get(tp).offset());
        }
    }

    /** Polls every consumer in turn until their assignments have the given sizes and cover all. */
    private static List<Set<TopicPartition>> awaitAssignments(List<KafkaConsumer<String, String>> consumers,
            int partitions, List<Integer> sizes) {
        long deadline = System.currentTimeMillis() + 30_000;
        List<Set<TopicPartition>> got = List.of();
        while (System.currentTimeMillis() < deadline) {
            for (KafkaConsumer<String, String> c : consumers) {
                c.poll(Duration.ofMillis(20));
            }
            got = consumers.stream().map(c -> (Set<TopicPartition>) new HashSet<>(c.assignment()))
                    .collect(Collectors.toList());
            List<Integer> gotSizes = got.stream().map(Set::size).sorted().collect(Collectors.toList());
            int union = got.stream().flatMap(Set::stream).collect(Collectors.toSet()).size();
            if (gotSizes.equals(sizes) && union == partitions) {
                return got;
            }
        }
        throw new AssertionError("assignments never became " + sizes + ": " + got);
    }

    private static Set<Integer> ids(Set<TopicPartition> tps) {
        return tps.stream().map(TopicPartition::partition).collect(Collectors.toCollection(TreeSet::new));
    }

    @Test
    void rangeAssignorRebalancesOverTwoAndThreeMembers() throws Exception {
        String topic = createTopic("range", 6);
        String group = unique("range-group");
        Map<String, Object> cfg = Map.of(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, RangeAssignor.class.getName());
        List<KafkaConsumer<String, String>> consumers = new ArrayList<>();
        try {
            for (int i = 0; i < 2; i++) {
                consumers.add(consumer(group, cfg));
                consumers.get(i).subscribe(List.of(topic));
            }
            List<Set<TopicPartition>> two = awaitAssignments(consumers, 6, List.of(3, 3));
            Set<Set<Integer>> twoIds = two.stream().map(ConsumerTest::ids).collect(Collectors.toSet());
            assertEquals(Set.of(Set.of(0, 1, 2), Set.of(3, 4, 5)), twoIds);
            consumers.add(consumer(group, cfg));
            consumers.get(2).subscribe(List.of(topic));
            List<Set<TopicPartition>> three = awaitAssignments(consumers, 6, List.of(2, 2, 2));
            assertEquals(Set.of(Set.of(0, 1), Set.of(2, 3), Set.of(4, 5)),
                    three.stream().map(ConsumerTest::ids).collect(Collectors.toSet()));
            ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).all().get().get(group);
            assertEquals(GroupState.STABLE, d.groupState());
            assertEquals("range", d.partitionAssignor());
            assertEquals(3, d.members().size());
            assertEquals(Set.of(0, 1, 2, 3, 4, 5), d.members().stream()
                    .flatMap(m -> m.assignment().topicPartitions().stream()).map(TopicPartition::partition)
                    .collect(Collectors.toSet()));
            // A member that leaves (LeaveGroup on close) hands its partitions back at once.
            consumers.remove(0).close();
            awaitAssignments(consumers, 6, List.of(3, 3));
        } finally {
            consumers.forEach(KafkaConsumer::close);
        }
    }

    @Test
    void cooperativeStickyKeepsOwnedPartitionsWhenAThirdMemberJoins() throws Exception {
        String topic = createTopic("sticky", 6);
        String group = unique("sticky-group");
        AtomicInteger revokedFromFirstTwo = new AtomicInteger();
        Map<String, Object> cfg = Map.of(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG,
                CooperativeStickyAssignor.class.getName());
        List<KafkaConsumer<String, String>> consumers = new ArrayList<>();
        try {
            for (int i = 0; i < 2; i++) {
                consumers.add(consumer(group, cfg));
                consumers.get(i).subscribe(List.of(topic), new ConsumerRebalanceListener() {
                    @Override
                    public void onPartitionsRevoked(Collection<TopicPartition> revoked) {
                        revokedFromFirstTwo.addAndGet(revoked.size());
                    }

                    @Override
                    public void onPartitionsAssigned(Collection<TopicPartition> assigned) {
                    }
                });
            }
            List<Set<TopicPartition>> two = awaitAssignments(consumers, 6, List.of(3, 3));
            // (The first member may have held all six before the second joined.)
            revokedFromFirstTwo.set(0);
            consumers.add(consumer(group, cfg));
            consumers.get(2).subscribe(List.of(topic));
            List<Set<TopicPartition>> three = awaitAssignments(consumers, 6, List.of(2, 2, 2));
            // Incremental: each old member kept two of its three and gave exactly one away.
            for (int i = 0; i < 2; i++) {
                assertTrue(two.get(i).containsAll(three.get(i)), two + " -> " + three);
            }
            assertEquals(2, revokedFromFirstTwo.get());
            assertEquals("cooperative-sticky",
                    admin.describeConsumerGroups(List.of(group)).all().get().get(group).partitionAssignor());
        } finally {
            consumers.forEach(KafkaConsumer::close);
        }
    }

    @Test
    void staticMemberRejoinsWithItsAssignmentAndNoRebalance() throws Exception {
        String topic = createTopic("static", 4);
        String group = unique("static-group");
        Map<String, Object> a = Map.of(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "instance-a",
                ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "30000");
        Map<String, Object> b = Map.of(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, "instance-b",
                ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "30000");
        AtomicInteger assignedToB = new AtomicInteger();
        try (KafkaConsumer<String, String> consumerB = consumer(group, b)) {
            consumerB.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> revoked) {
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> assigned) {
                    assignedToB.incrementAndGet();
                }
            });
            Set<TopicPartition> before;
            KafkaConsumer<String, String> consumerA = consumer(group, a);
            try {
                consumerA.subscribe(List.of(topic));
                before = awaitAssignments(List.of(consumerA, consumerB), 4, List.of(2, 2)).get(0);
                Set<String> instances = admin.describeConsumerGroups(List.of(group)).all().get().get(group)
                        .members().stream().map(m -> m.groupInstanceId().orElse("")).collect(Collectors.toSet());
                assertEquals(Set.of("instance-a", "instance-b"), instances);
            } finally {
                // A static member does not leave the group on close (KIP-345).
                consumerA.close();
            }
            int assignmentsOfB = assignedToB.get();
            assertEquals(2, admin.describeConsumerGroups(List.of(group)).all().get().get(group).members().size(),
                    "the closed static member stays in the group until its session times out");
            try (KafkaConsumer<String, String> again = consumer(group, a)) {
                again.subscribe(List.of(topic));
                Set<TopicPartition> after = awaitAssignments(List.of(again, consumerB), 4, List.of(2, 2)).get(0);
                assertEquals(before, after);
                assertEquals(assignmentsOfB, assignedToB.get(), "no rebalance for the other member");
            }
        }
    }

    @Test
    void seekOffsetsForTimesAndPauseResume() throws Exception {
        String topic = createTopic("seek", 2);
        TopicPartition p0 = new TopicPartition(topic, 0);
        TopicPartition p1 = new TopicPartition(topic, 1);
        long base = System.currentTimeMillis() - 60_000;
        produce(topic, 0, 10, base);
        produce(topic, 1, 3, base);
        try (KafkaConsumer<String, String> consumer = consumer(null, Map.of())) {
            consumer.assign(List.of(p0, p1));
            Map<TopicPartition, OffsetAndTimestamp> found = consumer.offsetsForTimes(
                    Map.of(p0, base + 2500, p1, base + 10_000));
            assertEquals(3, found.get(p0).offset());
            assertEquals(base + 3000, found.get(p0).timestamp());
            assertNull(found.get(p1), "no record at or after that time");
            assertEquals(Map.of(p0, 0L, p1, 0L), consumer.beginningOffsets(List.of(p0, p1)));
            assertEquals(Map.of(p0, 10L, p1, 3L), consumer.endOffsets(List.of(p0, p1)));

            consumer.seek(p0, 7);
            consumer.pause(List.of(p1));
            List<ConsumerRecord<String, String>> fromSeven = pollExactly(consumer, 3, 10_000);
            assertEquals(List.of(7L, 8L, 9L), fromSeven.stream().map(ConsumerRecord::offset).collect(Collectors.toList()));
            assertTrue(fromSeven.stream().allMatch(r -> r.partition() == 0), "the paused partition delivered nothing");
            assertEquals(Set.of(p1), consumer.paused());
            assertTrue(consumer.poll(Duration.ofMillis(300)).isEmpty());
            consumer.resume(List.of(p1));
            List<ConsumerRecord<String, String>> resumed = pollExactly(consumer, 3, 10_000);
            assertEquals(List.of("v0", "v1", "v2"), resumed.stream().map(ConsumerRecord::value).collect(Collectors.toList()));
            assertEquals(10, consumer.position(p0));
            assertEquals(3, consumer.position(p1));

            consumer.seekToBeginning(List.of(p0));
            assertEquals(0, consumer.position(p0));
            consumer.seek(p0, 4);
            List<ConsumerRecord<String, String>> tail = pollExactly(consumer, 6, 10_000);
            assertEquals(IntStream.range(4, 10).mapToObj(i -> "v" + i).collect(Collectors.toList()),
                    tail.stream().map(ConsumerRecord::value).collect(Collectors.toList()));
            assertEquals(base + 4000, tail.get(0).timestamp());
        }
    }
}
