package e2e

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The idempotent producer at volume: 30,000 records sent asynchronously to three partitions,
// with several produce requests in flight per broker (franz-go's default with idempotence) and
// one record of almost 1 MiB among them; each partition holds its records exactly once, in the
// order sent, at offsets 0..n-1.
func TestFranzIdempotentVolume(t *testing.T) {
	b := startBroker(t)
	topic := name(t, "topic")
	createTopic(t, newKadm(t, b), topic, 3)
	prod := newKgo(t, b, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(1_048_576), kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	const perPartition = 10_000
	big := bytes.Repeat([]byte("0123456789abcdef"), 1_000_000/16)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i := 0; i < perPartition; i++ {
		for p := int32(0); p < 3; p++ {
			value := []byte(fmt.Sprintf("p%d-%d", p, i))
			if p == 1 && i == perPartition/2 {
				value = big
			}
			wg.Add(1)
			prod.Produce(context.Background(), &kgo.Record{Partition: p, Value: value}, func(r *kgo.Record, err error) {
				defer wg.Done()
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("produce: %v", firstErr)
	}
	cons := newKgo(t, b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {
		0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart(), 2: kgo.NewOffset().AtStart(),
	}}), kgo.FetchMaxBytes(4<<20), kgo.FetchMaxPartitionBytes(2<<20))
	next := map[int32]int64{}
	for _, r := range consumeN(t, cons, 3*perPartition) {
		want := fmt.Sprintf("p%d-%d", r.Partition, next[r.Partition])
		if r.Partition == 1 && next[1] == perPartition/2 {
			if !bytes.Equal(r.Value, big) {
				t.Fatalf("partition 1 offset %d: %d bytes, want the large record", r.Offset, len(r.Value))
			}
		} else if string(r.Value) != want {
			t.Fatalf("partition %d offset %d: %q, want %q", r.Partition, r.Offset, r.Value, want)
		}
		if r.Offset != next[r.Partition] {
			t.Fatalf("partition %d: offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
		}
		next[r.Partition]++
	}
}
