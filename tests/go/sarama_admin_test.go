package e2e

import (
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// sarama's ClusterAdmin, with the request versions of Kafka 4.0 and of sarama's default (2.8):
// topics created with a config, described, grown, configured (AlterConfigs and
// IncrementalAlterConfigs), records deleted, offsets listed, group offsets altered and
// deleted, the group deleted, the topic deleted; each answer as Kafka gives it.
func TestSaramaAdmin(t *testing.T) {
	b := startBroker(t)
	for _, v := range []sarama.KafkaVersion{sarama.V4_0_0_0, sarama.DefaultVersion} {
		t.Run(v.String(), func(t *testing.T) { saramaAdminCalls(t, b, v) })
	}
}

func saramaAdminCalls(t *testing.T, b *broker, version sarama.KafkaVersion) {
	adm, err := sarama.NewClusterAdmin([]string{b.addr}, saramaConfigAt(version))
	if err != nil {
		t.Fatalf("admin: %v", err)
	}
	defer adm.Close()
	topic, group := name(t, "topic"), name(t, "group")
	retention := "3600000"
	detail := &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1,
		ConfigEntries: map[string]*string{"retention.ms": &retention}}
	if err := adm.CreateTopic(topic, detail, false); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	if err := adm.CreateTopic(topic, detail, false); !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		t.Fatalf("creating again: %v, want TOPIC_ALREADY_EXISTS", err)
	}
	waitSaramaPartitions(t, adm, topic, 2)
	if err := adm.CreatePartitions(topic, 3, nil, false); err != nil {
		t.Fatalf("create partitions: %v", err)
	}
	waitSaramaPartitions(t, adm, topic, 3)
	assertSaramaTopicConfig(t, adm, topic, "retention.ms", "3600000", sarama.SourceTopic)

	if err := adm.IncrementalAlterConfig(sarama.TopicResource, topic, map[string]sarama.IncrementalAlterConfigsEntry{
		"retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationDelete},
		"segment.ms":   {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: strPtr("600000")},
	}, false); err != nil {
		t.Fatalf("incremental alter configs: %v", err)
	}
	assertSaramaTopicConfig(t, adm, topic, "retention.ms", "604800000", sarama.SourceDefault)
	assertSaramaTopicConfig(t, adm, topic, "segment.ms", "600000", sarama.SourceTopic)
	if err := adm.AlterConfig(sarama.TopicResource, topic, map[string]*string{"retention.bytes": strPtr("1048576")}, false); err != nil {
		t.Fatalf("alter configs: %v", err)
	}
	assertSaramaTopicConfig(t, adm, topic, "segment.ms", "604800000", sarama.SourceDefault)
	assertSaramaTopicConfig(t, adm, topic, "retention.bytes", "1048576", sarama.SourceTopic)

	saramaRecordsAndOffsets(t, b, adm, topic, group, version)
	if err := adm.DeleteTopic(topic); err != nil {
		t.Fatalf("delete topic: %v", err)
	}
}

// saramaRecordsAndOffsets: ten records on partition 0, the first four deleted; offsets listed;
// a group's offsets altered, read back, one deleted, then the group deleted.
func saramaRecordsAndOffsets(t *testing.T, b *broker, adm sarama.ClusterAdmin, topic, group string, version sarama.KafkaVersion) {
	p := syncProducerAt(t, b, sarama.CompressionNone, version)
	sendEach(t, p, topic, 1, 10)
	if err := adm.DeleteRecords(topic, map[int32]int64{0: 4}); err != nil {
		t.Fatalf("delete records: %v", err)
	}
	listed, err := adm.ListOffsets(map[string]map[int32]int64{topic: {0: sarama.OffsetOldest, 1: sarama.OffsetNewest}}, nil)
	if err != nil {
		t.Fatalf("list offsets: %v", err)
	}
	if got := fmt.Sprint(listed[topic][0].Offset, listed[topic][1].Offset); got != "4 0" {
		t.Fatalf("listed offsets %s, want 4 (start of 0) and 0 (end of 1)", got)
	}
	alter := map[string]map[int32]sarama.OffsetAndMetadata{topic: {0: {Offset: 7, Metadata: "seven"}, 1: {Offset: 0}}}
	resp, err := adm.AlterConsumerGroupOffsets(group, alter, nil)
	if err != nil || resp.Errors[topic][0] != sarama.ErrNoError || resp.Errors[topic][1] != sarama.ErrNoError {
		t.Fatalf("alter group offsets: %v / %+v", err, resp)
	}
	fetched, err := adm.ListConsumerGroupOffsets(group, nil)
	if err != nil {
		t.Fatalf("list group offsets: %v", err)
	}
	if blk := fetched.Blocks[topic][0]; blk == nil || blk.Offset != 7 || blk.Metadata != "seven" {
		t.Fatalf("group offset of partition 0: %+v, want 7 \"seven\"", blk)
	}
	if err := adm.DeleteConsumerGroupOffset(group, topic, 0); err != nil {
		t.Fatalf("delete group offset: %v", err)
	}
	fetched, err = adm.ListConsumerGroupOffsets(group, nil)
	if err != nil || fetched.Blocks[topic][0] != nil || fetched.Blocks[topic][1] == nil {
		t.Fatalf("after deleting partition 0's offset: %v / %+v", err, fetched.Blocks[topic])
	}
	if groups, err := adm.ListConsumerGroups(); err != nil || len(groups) == 0 {
		t.Fatalf("list groups: %v / %v", err, groups)
	}
	if err := adm.DeleteConsumerGroup(group); err != nil {
		t.Fatalf("delete group: %v", err)
	}
	if err := adm.DeleteConsumerGroup(group); !errors.Is(err, sarama.ErrGroupIDNotFound) {
		t.Fatalf("deleting the group again: %v, want GROUP_ID_NOT_FOUND", err)
	}
}

func strPtr(s string) *string { return &s }

func waitSaramaPartitions(t *testing.T, adm sarama.ClusterAdmin, topic string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		md, err := adm.DescribeTopics([]string{topic})
		if err != nil {
			t.Fatalf("describe topics: %v", err)
		}
		if len(md) == 1 && md[0].Err == sarama.ErrNoError && len(md[0].Partitions) == n {
			var ids []int
			for _, p := range md[0].Partitions {
				ids = append(ids, int(p.ID))
				if p.Err != sarama.ErrNoError || len(p.Replicas) != 1 || len(p.Isr) != 1 || p.Leader != p.Replicas[0] {
					t.Fatalf("partition %d: %+v", p.ID, p)
				}
			}
			sort.Ints(ids)
			if fmt.Sprint(ids) != fmt.Sprint(seq(n)) {
				t.Fatalf("partitions %v, want %v", ids, seq(n))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never had %d partitions: %+v", topic, n, md)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// assertSaramaTopicConfig waits for a topic config to read as given: Kafka applies a config
// change a moment after it answers the request.
func assertSaramaTopicConfig(t *testing.T, adm sarama.ClusterAdmin, topic, key, value string, source sarama.ConfigSource) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		entries, err := adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
		if err != nil {
			t.Fatalf("describe config: %v", err)
		}
		got := "missing"
		for _, e := range entries {
			if e.Name == key {
				if e.Value == value && e.Source == source {
					return
				}
				got = fmt.Sprintf("%q from %v", e.Value, e.Source)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s of %s is %s, want %q from %v", key, topic, got, value, source)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
