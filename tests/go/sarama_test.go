package e2e

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

func saramaConfig() *sarama.Config {
	return saramaConfigAt(sarama.V4_0_0_0)
}

// saramaConfigAt is sarama's configuration for a broker of `version`: sarama picks the request
// versions it sends from it.
func saramaConfigAt(version sarama.KafkaVersion) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = version
	cfg.ClientID = "blazemq-go-test"
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Net.MaxOpenRequests = 1 // sarama's idempotent producer requires it
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = 6 * time.Second
	cfg.Consumer.Group.Heartbeat.Interval = 200 * time.Millisecond
	return cfg
}

func saramaAdmin(t *testing.T, b *broker) sarama.ClusterAdmin {
	t.Helper()
	adm, err := sarama.NewClusterAdmin([]string{b.addr}, saramaConfig())
	if err != nil {
		t.Fatalf("sarama admin: %v", err)
	}
	t.Cleanup(func() { _ = adm.Close() }) // a close error at cleanup changes no result
	return adm
}

func saramaTopic(t *testing.T, adm sarama.ClusterAdmin, topic string, partitions int32) {
	t.Helper()
	if err := adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: 1}, false); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

func syncProducer(t *testing.T, b *broker, codec sarama.CompressionCodec) sarama.SyncProducer {
	return syncProducerAt(t, b, codec, sarama.V4_0_0_0)
}

func syncProducerAt(t *testing.T, b *broker, codec sarama.CompressionCodec, version sarama.KafkaVersion) sarama.SyncProducer {
	t.Helper()
	cfg := saramaConfigAt(version)
	cfg.Producer.Compression = codec
	p, err := sarama.NewSyncProducer([]string{b.addr}, cfg)
	if err != nil {
		t.Fatalf("sync producer: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// sarama's idempotent sync producer with acks=all and each of its codecs, one producer after the
// other on one partition: offsets continue 0..54 across producers, and a partition consumer
// reads every key, value and header back at its offset. Once with the request versions of
// Kafka 4.0, once with those of sarama's default version (2.8), which most sarama users run.
func TestSaramaSyncProducer(t *testing.T) {
	b := startBroker(t)
	for _, v := range []sarama.KafkaVersion{sarama.V4_0_0_0, sarama.DefaultVersion} {
		t.Run(v.String(), func(t *testing.T) { saramaRoundTrip(t, b, v) })
	}
}

func saramaRoundTrip(t *testing.T, b *broker, version sarama.KafkaVersion) {
	topic := name(t, "topic")
	saramaTopic(t, saramaAdmin(t, b), topic, 2)
	codecs := []sarama.CompressionCodec{sarama.CompressionNone, sarama.CompressionGZIP,
		sarama.CompressionSnappy, sarama.CompressionLZ4, sarama.CompressionZSTD}
	var sent []*sarama.ProducerMessage
	for _, codec := range codecs {
		p := syncProducerAt(t, b, codec, version)
		var msgs []*sarama.ProducerMessage
		for i := 0; i < 10; i++ {
			n := len(sent) + len(msgs)
			msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: 1,
				Key:     sarama.StringEncoder(fmt.Sprintf("k%d", n)),
				Value:   sarama.StringEncoder(fmt.Sprintf("%s-%d", codec, n)),
				Headers: []sarama.RecordHeader{{Key: []byte("n"), Value: []byte(fmt.Sprint(n))}}})
		}
		if err := p.SendMessages(msgs); err != nil {
			t.Fatalf("send with %s: %v", codec, err)
		}
		one := &sarama.ProducerMessage{Topic: topic, Partition: 1, Value: sarama.StringEncoder(fmt.Sprintf("%s-single", codec))}
		part, off, err := p.SendMessage(one)
		if err != nil || part != 1 || off != int64(len(sent)+len(msgs)) {
			t.Fatalf("send one with %s: %d/%d (%v), want 1/%d", codec, part, off, err, len(sent)+len(msgs))
		}
		for i, m := range append(msgs, one) {
			if m.Offset != int64(len(sent)+i) {
				t.Fatalf("%s message %d acknowledged at %d", codec, i, m.Offset)
			}
		}
		sent = append(sent, append(msgs, one)...)
	}
	assertSaramaPartition(t, b, topic, 1, sent, version)
}

func assertSaramaPartition(t *testing.T, b *broker, topic string, partition int32, sent []*sarama.ProducerMessage, version sarama.KafkaVersion) {
	t.Helper()
	cons, err := sarama.NewConsumer([]string{b.addr}, saramaConfigAt(version))
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	defer cons.Close()
	pc, err := cons.ConsumePartition(topic, partition, sarama.OffsetOldest)
	if err != nil {
		t.Fatalf("consume partition: %v", err)
	}
	defer pc.Close()
	for i, want := range sent {
		select {
		case m := <-pc.Messages():
			wk, _ := encoded(want.Key)
			wv, _ := encoded(want.Value)
			if m.Offset != int64(i) || string(m.Key) != string(wk) || string(m.Value) != string(wv) {
				t.Fatalf("offset %d: got %d %q=%q, want %q=%q", i, m.Offset, m.Key, m.Value, wk, wv)
			}
			if len(m.Headers) != len(want.Headers) {
				t.Fatalf("offset %d: %d headers, want %d", i, len(m.Headers), len(want.Headers))
			}
			for j, h := range m.Headers {
				if string(h.Key) != string(want.Headers[j].Key) || string(h.Value) != string(want.Headers[j].Value) {
					t.Fatalf("offset %d: header %q=%q, want %q=%q", i, h.Key, h.Value, want.Headers[j].Key, want.Headers[j].Value)
				}
			}
		case err := <-pc.Errors():
			t.Fatalf("consume: %v", err)
		case <-time.After(20 * time.Second):
			t.Fatalf("consumed %d of %d messages before the deadline", i, len(sent))
		}
	}
	if hw := pc.HighWaterMarkOffset(); hw != int64(len(sent)) {
		t.Fatalf("high watermark %d, want %d", hw, len(sent))
	}
}

func encoded(e sarama.Encoder) ([]byte, error) {
	if e == nil {
		return nil, nil
	}
	return e.Encode()
}

// handler is a sarama group member that marks every message it is given and remembers its claims.
type handler struct {
	mu     sync.Mutex
	claims []int32
	got    []*sarama.ConsumerMessage
	setups int
}

func (h *handler) Setup(s sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.setups++
	h.claims = append([]int32(nil), s.Claims()[topicOf(s)]...)
	sort.Slice(h.claims, func(i, j int) bool { return h.claims[i] < h.claims[j] })
	return nil
}

func topicOf(s sarama.ConsumerGroupSession) string {
	for topic := range s.Claims() {
		return topic
	}
	return ""
}

func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.mu.Lock()
		h.got = append(h.got, m)
		h.mu.Unlock()
		s.MarkMessage(m, "")
	}
	return nil
}

func (h *handler) state() ([]int32, int, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int32(nil), h.claims...), len(h.got), h.setups
}

// joinGroup runs a sarama consumer group member until the test ends.
func joinGroup(t *testing.T, b *broker, group, topic string, version sarama.KafkaVersion) (*handler, sarama.ConsumerGroup) {
	t.Helper()
	cg, err := sarama.NewConsumerGroup([]string{b.addr}, group, saramaConfigAt(version))
	if err != nil {
		t.Fatalf("consumer group: %v", err)
	}
	h := &handler{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			err := cg.Consume(ctx, []string{topic}, h)
			if errors.Is(err, sarama.ErrClosedConsumerGroup) {
				return // the test made the member leave
			}
			if err != nil && ctx.Err() == nil {
				t.Errorf("consume: %v", err)
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = cg.Close() // closed already by the test when it leaves on purpose
	})
	return h, cg
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sendEach(t *testing.T, p sarama.SyncProducer, topic string, partitions int32, rounds int) {
	t.Helper()
	var msgs []*sarama.ProducerMessage
	for r := 0; r < rounds; r++ {
		for part := int32(0); part < partitions; part++ {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: part, Value: sarama.StringEncoder("v")})
		}
	}
	if err := p.SendMessages(msgs); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// Two sarama group members (range assignor) over four partitions: the second member joining
// splits them [0 1] / [2 3]; each consumes exactly its partitions' new records; auto-commit puts
// every committed offset at the end, and the group is described as it is. With the request
// versions of Kafka 4.0 and of sarama's default (2.8).
func TestSaramaConsumerGroup(t *testing.T) {
	// Waits on sessions and heartbeats, not the CPU: runs beside the other tests.
	t.Parallel()
	b := startBroker(t)
	for _, v := range []sarama.KafkaVersion{sarama.V4_0_0_0, sarama.DefaultVersion} {
		t.Run(v.String(), func(t *testing.T) { saramaGroup(t, b, v) })
	}
}

func saramaGroup(t *testing.T, b *broker, version sarama.KafkaVersion) {
	adm := saramaAdmin(t, b)
	topic, group := name(t, "topic"), name(t, "group")
	saramaTopic(t, adm, topic, 4)
	p := syncProducer(t, b, sarama.CompressionNone)
	sendEach(t, p, topic, 4, 5)

	first, _ := joinGroup(t, b, group, topic, version)
	waitFor(t, "the first member to consume 20", func() bool { _, n, _ := first.state(); return n == 20 })
	second, secondGroup := joinGroup(t, b, group, topic, version)
	waitFor(t, "the split", func() bool {
		c1, _, _ := first.state()
		c2, _, _ := second.state()
		return len(c1) == 2 && len(c2) == 2
	})
	c1, _, _ := first.state()
	c2, _, _ := second.state()
	if fmt.Sprint(c1, c2) != "[0 1] [2 3]" && fmt.Sprint(c1, c2) != "[2 3] [0 1]" {
		t.Fatalf("claims %v and %v, want [0 1] and [2 3]", c1, c2)
	}
	assertSaramaGroup(t, adm, group, "Stable", 2)
	sendEach(t, p, topic, 4, 5)
	waitFor(t, "the second member to consume 10", func() bool { _, n, _ := second.state(); return n == 10 })
	waitFor(t, "the first member to consume 30", func() bool { _, n, _ := first.state(); return n == 30 })
	assertClaimed(t, second, c2, 0)
	assertClaimed(t, first, c1, 20)
	waitCommitted(t, adm, group, topic, 4, 10)

	if err := secondGroup.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	waitFor(t, "the first member to claim all four", func() bool { c, _, _ := first.state(); return len(c) == 4 })
	assertSaramaGroup(t, adm, group, "Stable", 1)
}

// assertClaimed checks the records a member got after its first `skip` all come from its claims.
func assertClaimed(t *testing.T, h *handler, claims []int32, skip int) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.got[skip:] {
		if m.Partition != claims[0] && m.Partition != claims[1] {
			t.Fatalf("member claiming %v got a record of partition %d", claims, m.Partition)
		}
		if m.Offset < 5 || m.Offset > 9 {
			t.Fatalf("member got offset %d of partition %d, want only 5..9", m.Offset, m.Partition)
		}
	}
	if n := len(h.got) - skip; n != 10 {
		t.Fatalf("member claiming %v got %d new records, want 10", claims, n)
	}
}

func assertSaramaGroup(t *testing.T, adm sarama.ClusterAdmin, group, state string, members int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("group %s %s with %d members", group, state, members), func() bool {
		ds, err := adm.DescribeConsumerGroups([]string{group})
		if err != nil || len(ds) != 1 {
			t.Fatalf("describe groups: %v", err)
		}
		d := ds[0]
		return d.State == state && d.ProtocolType == "consumer" && d.Protocol == "range" && len(d.Members) == members
	})
	listed, err := adm.ListConsumerGroups()
	if err != nil || listed[group] != "consumer" {
		t.Fatalf("list groups: %v, %s is %q", err, group, listed[group])
	}
}

func waitCommitted(t *testing.T, adm sarama.ClusterAdmin, group, topic string, partitions int32, want int64) {
	t.Helper()
	var last string
	waitFor(t, fmt.Sprintf("commits at %d", want), func() bool {
		resp, err := adm.ListConsumerGroupOffsets(group, nil)
		if err != nil {
			t.Fatalf("list group offsets: %v", err)
		}
		last = ""
		ok := len(resp.Blocks[topic]) == int(partitions)
		for p, blk := range resp.Blocks[topic] {
			last += fmt.Sprintf(" %d:%d", p, blk.Offset)
			ok = ok && blk.Err == sarama.ErrNoError && blk.Offset == want
		}
		return ok
	})
}

// sarama's offset manager: a marked offset and its metadata are committed and read back by a
// fresh manager; ResetOffset moves it back.
func TestSaramaOffsetManager(t *testing.T) {
	b := startBroker(t)
	adm := saramaAdmin(t, b)
	topic, group := name(t, "topic"), name(t, "group")
	saramaTopic(t, adm, topic, 1)
	p := syncProducer(t, b, sarama.CompressionNone)
	sendEach(t, p, topic, 1, 10)

	next, meta := managedOffset(t, b, group, topic, func(pom sarama.PartitionOffsetManager) {
		pom.MarkOffset(7, "seven")
	})
	if next != sarama.OffsetOldest || meta != "" {
		t.Fatalf("before any commit, next offset %d %q, want OffsetOldest", next, meta)
	}
	next, meta = managedOffset(t, b, group, topic, func(pom sarama.PartitionOffsetManager) {
		pom.ResetOffset(3, "three")
	})
	if next != 7 || meta != "seven" {
		t.Fatalf("after marking 7, next offset %d %q, want 7 \"seven\"", next, meta)
	}
	next, meta = managedOffset(t, b, group, topic, nil)
	if next != 3 || meta != "three" {
		t.Fatalf("after resetting to 3, next offset %d %q, want 3 \"three\"", next, meta)
	}
	resp, err := adm.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0}})
	if err != nil || resp.Blocks[topic][0] == nil || resp.Blocks[topic][0].Offset != 3 {
		t.Fatalf("list group offsets: %v / %+v", err, resp)
	}
}

// managedOffset opens a fresh client and offset manager, reads the partition's next offset, lets
// change act on it, commits and closes everything.
func managedOffset(t *testing.T, b *broker, group, topic string, change func(sarama.PartitionOffsetManager)) (int64, string) {
	t.Helper()
	cl, err := sarama.NewClient([]string{b.addr}, saramaConfig())
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	defer cl.Close()
	om, err := sarama.NewOffsetManagerFromClient(group, cl)
	if err != nil {
		t.Fatalf("offset manager: %v", err)
	}
	pom, err := om.ManagePartition(topic, 0)
	if err != nil {
		t.Fatalf("manage partition: %v", err)
	}
	next, meta := pom.NextOffset()
	if change != nil {
		change(pom)
		om.Commit()
	}
	if err := pom.Close(); err != nil {
		t.Fatalf("close partition manager: %v", err)
	}
	if err := om.Close(); err != nil {
		t.Fatalf("close offset manager: %v", err)
	}
	return next, meta
}
