package e2e

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Topics through kadm: create (with a config), create again, list, describe, add partitions,
// shrink (refused), delete, delete again; each answer as Kafka documents it.
func TestKadmTopics(t *testing.T) {
	b := startBroker(t)
	adm := newKadm(t, b)
	ctx := testContext(t)
	a, c := name(t, "a"), name(t, "c")
	created, err := adm.CreateTopics(ctx, 2, 1, map[string]*string{"retention.ms": kadm.StringPtr("3600000")}, a, c)
	if err != nil {
		t.Fatalf("create topics: %v", err)
	}
	for _, topic := range []string{a, c} {
		r := created[topic]
		if r.Err != nil || r.NumPartitions != 2 || r.ReplicationFactor != 1 || r.ID == (kadm.TopicID{}) {
			t.Fatalf("created %s: %+v", topic, r)
		}
		if v := r.Configs["retention.ms"]; v.MaybeValue() != "3600000" {
			t.Fatalf("created %s with retention.ms %q, want 3600000", topic, v.MaybeValue())
		}
	}
	waitTopic(t, adm, a, 2)
	waitTopic(t, adm, c, 2)
	// CreateTopic returns the topic's error as its error too.
	again, err := adm.CreateTopic(ctx, 1, 1, nil, a)
	if !errors.Is(err, kerr.TopicAlreadyExists) || !errors.Is(again.Err, kerr.TopicAlreadyExists) {
		t.Fatalf("creating %s again: %v / %v, want TOPIC_ALREADY_EXISTS", a, err, again.Err)
	}
	assertPartitions(t, adm, b, a, 2)
	assertTopicID(t, adm, a, created[a].ID)

	added, err := adm.CreatePartitions(ctx, 2, a)
	if err != nil || added[a].Err != nil {
		t.Fatalf("create partitions: %v / %+v", err, added[a])
	}
	assertPartitions(t, adm, b, a, 4)
	shrunk, err := adm.UpdatePartitions(ctx, 2, a)
	if err != nil || !errors.Is(shrunk[a].Err, kerr.InvalidPartitions) {
		t.Fatalf("shrinking %s: %v / %+v, want INVALID_PARTITIONS", a, err, shrunk[a])
	}

	deleted, err := adm.DeleteTopics(ctx, a, c)
	if err != nil || deleted.Error() != nil {
		t.Fatalf("delete topics: %v / %v", err, deleted.Error())
	}
	waitGone(t, adm, a, c)
	gone, err := adm.DeleteTopic(ctx, a)
	if !errors.Is(err, kerr.UnknownTopicOrPartition) || !errors.Is(gone.Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("deleting %s again: %v / %v, want UNKNOWN_TOPIC_OR_PARTITION", a, err, gone.Err)
	}
}

// assertPartitions checks a topic's metadata: n partitions, each led by the one broker. Kafka
// publishes new partitions to its metadata a moment after CreatePartitions answers: it waits
// for them first.
func assertPartitions(t *testing.T, adm *kadm.Client, b *broker, topic string, n int) {
	t.Helper()
	waitTopic(t, adm, topic, n)
	md, err := adm.Metadata(testContext(t), topic)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	if len(md.Brokers) != 1 || fmt.Sprintf("%s:%d", md.Brokers[0].Host, md.Brokers[0].Port) != b.addr {
		t.Fatalf("brokers %+v, want one at %s", md.Brokers, b.addr)
	}
	node := md.Brokers[0].NodeID
	td := md.Topics[topic]
	if td.Err != nil || td.IsInternal || len(td.Partitions) != n {
		t.Fatalf("topic %s: %+v, want %d partitions", topic, td, n)
	}
	for p := int32(0); p < int32(n); p++ {
		pd := td.Partitions[p]
		if pd.Err != nil || pd.Leader != node || fmt.Sprint(pd.Replicas) != fmt.Sprint([]int32{node}) ||
			fmt.Sprint(pd.ISR) != fmt.Sprint([]int32{node}) {
			t.Fatalf("partition %s/%d: %+v", topic, p, pd)
		}
	}
	listed, err := adm.ListTopics(testContext(t))
	if err != nil || !listed.Has(topic) || len(listed[topic].Partitions) != n {
		t.Fatalf("list topics: %v; %s listed: %v", err, topic, listed.Has(topic))
	}
}

func assertTopicID(t *testing.T, adm *kadm.Client, topic string, id kadm.TopicID) {
	t.Helper()
	listed, err := adm.ListTopics(testContext(t))
	if err != nil || listed[topic].ID != id {
		t.Fatalf("listed id of %s is %v (%v), want %v", topic, listed[topic].ID, err, id)
	}
}

// waitGone waits until the topics no longer show in a listing (Kafka deletes asynchronously).
func waitGone(t *testing.T, adm *kadm.Client, topics ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		listed, err := adm.ListTopics(testContext(t))
		if err != nil {
			t.Fatalf("list topics: %v", err)
		}
		left := 0
		for _, topic := range topics {
			if listed.Has(topic) {
				left++
			}
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %v still listed after deletion", left, topics)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// topicConfig is one config of a topic as DescribeConfigs reports it.
func topicConfig(t *testing.T, adm *kadm.Client, topic, key string) (kadm.Config, bool) {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(testContext(t), topic)
	if err != nil {
		t.Fatalf("describe configs: %v", err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe configs of %s: %v / %v", topic, err, rc.Err)
	}
	for _, c := range rc.Configs {
		if c.Key == key {
			return c, true
		}
	}
	return kadm.Config{}, false
}

// assertConfig waits for a topic config to read as given: Kafka applies a config change a
// moment after it answers the request.
func assertConfig(t *testing.T, adm *kadm.Client, topic, key, value string, source kmsg.ConfigSource) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, ok := topicConfig(t, adm, topic, key)
		if ok && c.MaybeValue() == value && c.Source == source {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s of %s is %q from %v (found %v), want %q from %v", key, topic, c.MaybeValue(), c.Source, ok, value, source)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Topic configs: described with their sources, changed incrementally (set, delete) and wholesale
// (AlterConfigs replaces every dynamic config), and broker configs described by node id.
func TestKadmConfigs(t *testing.T) {
	b := startBroker(t)
	adm := newKadm(t, b)
	ctx := testContext(t)
	topic := name(t, "topic")
	createTopicWith(t, adm, topic, 1, map[string]*string{"retention.ms": kadm.StringPtr("3600000")})
	dynamic, dflt := kmsg.ConfigSourceDynamicTopicConfig, kmsg.ConfigSourceDefaultConfig
	assertConfig(t, adm, topic, "retention.ms", "3600000", dynamic)
	assertConfig(t, adm, topic, "cleanup.policy", "delete", dflt)
	assertConfig(t, adm, topic, "max.message.bytes", "1048588", dflt)

	alterOK(t)(adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "max.message.bytes", Value: kadm.StringPtr("2000000")},
		{Op: kadm.DeleteConfig, Name: "retention.ms"},
	}, topic))
	assertConfig(t, adm, topic, "max.message.bytes", "2000000", dynamic)
	assertConfig(t, adm, topic, "retention.ms", "604800000", dflt)

	// AlterConfigs (not incremental) sets exactly the configs it names: the others go back to
	// their defaults.
	alterOK(t)(adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{
		{Name: "retention.bytes", Value: kadm.StringPtr("1048576")},
	}, topic))
	assertConfig(t, adm, topic, "retention.bytes", "1048576", dynamic)
	assertConfig(t, adm, topic, "max.message.bytes", "1048588", dflt)

	bad, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "no.such.config", Value: kadm.StringPtr("1")},
	}, topic)
	if err != nil || len(bad) != 1 || !errors.Is(bad[0].Err, kerr.InvalidConfig) {
		t.Fatalf("setting an unknown config: %v / %+v, want INVALID_CONFIG", err, bad)
	}
	assertBrokerConfigs(t, adm)
}

func alterOK(t *testing.T) func(kadm.AlterConfigsResponses, error) {
	return func(rs kadm.AlterConfigsResponses, err error) {
		t.Helper()
		if err != nil || len(rs) != 1 || rs[0].Err != nil {
			t.Fatalf("alter configs: %v / %+v", err, rs)
		}
	}
}

// assertBrokerConfigs checks broker configs whose values both BlazeMQ and the reference Kafka
// (scripts/kafka-reference.sh) leave at Kafka's defaults; those not set in the reference's
// server.properties are reported as defaults.
func assertBrokerConfigs(t *testing.T, adm *kadm.Client) {
	t.Helper()
	md, err := adm.BrokerMetadata(testContext(t))
	if err != nil || len(md.Brokers) != 1 {
		t.Fatalf("broker metadata: %v / %+v", err, md.Brokers)
	}
	rcs, err := adm.DescribeBrokerConfigs(testContext(t), md.Brokers[0].NodeID)
	if err != nil || len(rcs) != 1 || rcs[0].Err != nil {
		t.Fatalf("describe broker configs: %v / %+v", err, rcs)
	}
	dflt := kmsg.ConfigSourceDefaultConfig
	want := map[string]struct {
		value  string
		source *kmsg.ConfigSource
	}{
		"message.max.bytes":         {"1048588", &dflt},
		"log.retention.hours":       {"168", &dflt},
		"log.retention.ms":          {"", &dflt},
		"auto.create.topics.enable": {"true", nil},
	}
	for _, c := range rcs[0].Configs {
		w, ok := want[c.Key]
		if !ok {
			continue
		}
		if c.MaybeValue() != w.value || (w.source != nil && c.Source != *w.source) {
			t.Fatalf("broker config %s is %q from %v, want %q", c.Key, c.MaybeValue(), c.Source, w.value)
		}
		delete(want, c.Key)
	}
	if len(want) != 0 {
		t.Fatalf("broker configs lack %v", want)
	}
}

// Offsets of a partition: listed by start, end, time and max timestamp; records deleted up to an
// offset move the start there.
func TestKadmListOffsetsAndDeleteRecords(t *testing.T) {
	b := startBroker(t)
	adm := newKadm(t, b)
	topic := name(t, "topic")
	createTopic(t, adm, topic, 1)
	prod := newKgo(t, b, kgo.DefaultProduceTopic(topic))
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for i := 0; i < 10; i++ {
		// Separate sends, so each record is its own batch with its own max timestamp.
		r := &kgo.Record{Value: []byte(fmt.Sprint(i)), Timestamp: base.Add(time.Duration(i) * time.Second)}
		if err := prod.ProduceSync(testContext(t), r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	ctx := testContext(t)
	assertListed(t, "start")(adm.ListStartOffsets(ctx, topic))(topic, 0)
	assertListed(t, "end")(adm.ListEndOffsets(ctx, topic))(topic, 10)
	assertListed(t, "after 5 s")(adm.ListOffsetsAfterMilli(ctx, base.Add(5*time.Second).UnixMilli(), topic))(topic, 5)
	assertListed(t, "after 4.5 s")(adm.ListOffsetsAfterMilli(ctx, base.Add(4500*time.Millisecond).UnixMilli(), topic))(topic, 5)
	assertListed(t, "after the last")(adm.ListOffsetsAfterMilli(ctx, base.Add(time.Minute).UnixMilli(), topic))(topic, 10)
	assertListed(t, "max timestamp")(adm.ListMaxTimestampOffsets(ctx, topic))(topic, 9)

	del, err := adm.DeleteRecords(ctx, kadm.Offsets{topic: {0: {Topic: topic, Partition: 0, At: 4}}})
	if err != nil || del.Error() != nil || del[topic][0].LowWatermark != 4 {
		t.Fatalf("delete records: %v / %+v", err, del)
	}
	assertListed(t, "start after delete")(adm.ListStartOffsets(ctx, topic))(topic, 4)
	beyond, err := adm.DeleteRecords(ctx, kadm.Offsets{topic: {0: {Topic: topic, Partition: 0, At: 11}}})
	if err != nil || !errors.Is(beyond[topic][0].Err, kerr.OffsetOutOfRange) {
		t.Fatalf("deleting past the end: %v / %+v, want OFFSET_OUT_OF_RANGE", err, beyond)
	}
	cons := newKgo(t, b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	got := consumeN(t, cons, 6)
	if got[0].Offset != 4 || string(got[0].Value) != "4" || got[5].Offset != 9 {
		t.Fatalf("after delete, read %d=%q .. %d, want 4=\"4\" .. 9", got[0].Offset, got[0].Value, got[5].Offset)
	}
}

// assertListed checks one listed offset; curried so a call reads as the kadm call it checks.
func assertListed(t *testing.T, what string) func(kadm.ListedOffsets, error) func(string, int64) {
	return func(lo kadm.ListedOffsets, err error) func(string, int64) {
		return func(topic string, want int64) {
			t.Helper()
			if err != nil || lo.Error() != nil {
				t.Fatalf("list offsets (%s): %v / %v", what, err, lo.Error())
			}
			o, ok := lo.Lookup(topic, 0)
			if !ok || o.Offset != want {
				t.Fatalf("list offsets (%s): %+v, want offset %d", what, o, want)
			}
		}
	}
}
