package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const testTimeout = 60 * time.Second

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func newKgo(t *testing.T, b *broker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{kgo.SeedBrokers(b.addr), kgo.ClientID("blazemq-go-test")}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func newKadm(t *testing.T, b *broker) *kadm.Client {
	// kgo answers a metadata request from its cache while the cache is younger than this (5 s
	// by default): an admin listing right after a change must ask the broker.
	return kadm.NewClient(newKgo(t, b, kgo.MetadataMinAge(10*time.Millisecond)))
}

// createTopic creates a topic with `partitions` partitions and fails the test unless it worked.
func createTopic(t *testing.T, adm *kadm.Client, topic string, partitions int32) {
	t.Helper()
	createTopicWith(t, adm, topic, partitions, nil)
}

// createTopicWith creates a topic with configs, then waits until the broker's metadata shows
// it: Kafka answers CreateTopics before every request sees the topic.
func createTopicWith(t *testing.T, adm *kadm.Client, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	resp, err := adm.CreateTopic(testContext(t), partitions, 1, configs, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v / %v (%s)", topic, err, resp.Err, resp.ErrMessage)
	}
	waitTopic(t, adm, topic, int(partitions))
}

func waitTopic(t *testing.T, adm *kadm.Client, topic string, partitions int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		md, err := adm.Metadata(testContext(t), topic)
		if err != nil {
			t.Fatalf("metadata: %v", err)
		}
		td := md.Topics[topic]
		if td.Err == nil && len(td.Partitions) == partitions {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic %s not in the metadata with %d partitions: %+v", topic, partitions, td)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// consumeN reads exactly n records with a direct (non-group) consumer, failing on a timeout.
func consumeN(t *testing.T, cl *kgo.Client, n int) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []*kgo.Record
	for len(got) < n {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before the deadline", len(got), n)
		}
		fetches.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s/%d: %v", topic, p, err)
		})
		got = append(got, fetches.Records()...)
	}
	if len(got) != n {
		t.Fatalf("consumed %d records, want %d", len(got), n)
	}
	return got
}

var codecs = []struct {
	name  string
	codec kgo.CompressionCodec
}{
	{"none", kgo.NoCompression()},
	{"gzip", kgo.GzipCompression()},
	{"snappy", kgo.SnappyCompression()},
	{"lz4", kgo.Lz4Compression()},
	{"zstd", kgo.ZstdCompression()},
}

// Every codec franz-go has, through its idempotent producer (its default) with acks=all: the
// offsets the broker acknowledges are 0..n-1 in order, and a consumer reads back the same keys,
// values, headers and timestamps, with the producer id the broker handed out.
func TestFranzProduceEveryCodec(t *testing.T) {
	b := startBroker(t)
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			topic := name(t, "topic")
			createTopic(t, newKadm(t, b), topic, 1)
			prod := newKgo(t, b, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()),
				kgo.ProducerBatchCompression(c.codec), kgo.ProducerLinger(5*time.Millisecond))
			sent := produceBatch(t, prod, topic, 200)
			cons := newKgo(t, b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
				topic: {0: kgo.NewOffset().AtStart()},
			}))
			got := consumeN(t, cons, len(sent))
			for i, r := range got {
				assertSameRecord(t, sent[i], r, int64(i))
			}
		})
	}
}

// produceBatch sends n records at once (so they share batches) and checks each acknowledgement.
func produceBatch(t *testing.T, prod *kgo.Client, topic string, n int) []*kgo.Record {
	t.Helper()
	base := time.Now().Truncate(time.Millisecond)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{
			Topic:     topic,
			Key:       []byte(fmt.Sprintf("key-%d", i)),
			Value:     []byte(fmt.Sprintf("value-%d-%s", i, "0123456789abcdef")),
			Headers:   []kgo.RecordHeader{{Key: "i", Value: []byte(fmt.Sprint(i))}, {Key: "empty"}},
			Timestamp: base.Add(time.Duration(i) * time.Millisecond),
		}
	}
	results := prod.ProduceSync(testContext(t), recs...)
	if err := results.FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	for i, res := range results {
		if res.Record.Offset != int64(i) || res.Record.Partition != 0 {
			t.Fatalf("record %d acknowledged at %d/%d, want 0/%d", i, res.Record.Partition, res.Record.Offset, i)
		}
		if res.Record.ProducerID < 0 || res.Record.ProducerEpoch < 0 {
			t.Fatalf("idempotent producer got no producer id: %d/%d", res.Record.ProducerID, res.Record.ProducerEpoch)
		}
	}
	return recs
}

func assertSameRecord(t *testing.T, want, got *kgo.Record, offset int64) {
	t.Helper()
	if got.Offset != offset || got.Partition != want.Partition || got.Topic != want.Topic {
		t.Fatalf("record at %s/%d/%d, want %s/%d/%d", got.Topic, got.Partition, got.Offset,
			want.Topic, want.Partition, offset)
	}
	if string(got.Key) != string(want.Key) || string(got.Value) != string(want.Value) {
		t.Fatalf("offset %d: key/value %q/%q, want %q/%q", offset, got.Key, got.Value, want.Key, want.Value)
	}
	if !got.Timestamp.Equal(want.Timestamp) {
		t.Fatalf("offset %d: timestamp %v, want %v", offset, got.Timestamp, want.Timestamp)
	}
	if len(got.Headers) != len(want.Headers) {
		t.Fatalf("offset %d: %d headers, want %d", offset, len(got.Headers), len(want.Headers))
	}
	for i, h := range got.Headers {
		if h.Key != want.Headers[i].Key || string(h.Value) != string(want.Headers[i].Value) {
			t.Fatalf("offset %d: header %d is %q=%q, want %q=%q", offset, i, h.Key, h.Value,
				want.Headers[i].Key, want.Headers[i].Value)
		}
	}
	if got.ProducerID != want.ProducerID || got.ProducerEpoch != want.ProducerEpoch {
		t.Fatalf("offset %d: producer %d/%d, want %d/%d", offset, got.ProducerID, got.ProducerEpoch,
			want.ProducerID, want.ProducerEpoch)
	}
}

// A read_committed consumer that starts at a timestamp: with no transactions the last stable
// offset is the high watermark, so it reads every record from the first one at or after the
// timestamp to the end.
func TestFranzReadCommittedFromTimestamp(t *testing.T) {
	b := startBroker(t)
	topic := name(t, "topic")
	createTopic(t, newKadm(t, b), topic, 1)
	prod := newKgo(t, b, kgo.DefaultProduceTopic(topic))
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	for i := 0; i < 10; i++ {
		r := &kgo.Record{Value: []byte(fmt.Sprint(i)), Timestamp: base.Add(time.Duration(i) * time.Second)}
		if err := prod.ProduceSync(testContext(t), r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	from := kgo.NewOffset().AfterMilli(base.Add(4500 * time.Millisecond).UnixMilli())
	cons := newKgo(t, b, kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: from}}))
	got := consumeN(t, cons, 5)
	for i, r := range got {
		if r.Offset != int64(5+i) || string(r.Value) != fmt.Sprint(5+i) {
			t.Fatalf("record %d: offset %d %q, want offset %d", i, r.Offset, r.Value, 5+i)
		}
	}
}

// A consumer long-polling an empty partition (franz-go waits up to 5 s per fetch) gets a record
// as soon as it is produced, not when the poll times out.
func TestFranzLongPollWakesOnProduce(t *testing.T) {
	b := startBroker(t)
	topic := name(t, "topic")
	createTopic(t, newKadm(t, b), topic, 1)
	cons := newKgo(t, b, kgo.FetchMaxWait(5*time.Second),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	prod := newKgo(t, b, kgo.DefaultProduceTopic(topic))
	got := make(chan time.Time, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for ctx.Err() == nil {
			if len(cons.PollFetches(ctx).Records()) > 0 {
				got <- time.Now()
				return
			}
		}
	}()
	// Let the consumer's first fetch reach the broker and wait there.
	time.Sleep(500 * time.Millisecond)
	sent := time.Now()
	if err := prod.ProduceSync(testContext(t), &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	select {
	case at := <-got:
		if wait := at.Sub(sent); wait > 2*time.Second {
			t.Fatalf("the record arrived %v after it was produced: the parked fetch was not woken", wait)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the record never arrived")
	}
}
