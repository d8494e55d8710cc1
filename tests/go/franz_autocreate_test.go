package e2e

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Topic auto-creation follows the client's Metadata flag: a producer that allows it creates the
// topic (one partition, the broker's num.partitions) by producing; one that does not (franz-go's
// default) is told the topic does not exist and nothing is created.
func TestFranzAutoTopicCreation(t *testing.T) {
	b := startBroker(t)
	adm := newKadm(t, b)
	allowed, refused := name(t, "allowed"), name(t, "refused")

	prod := newKgo(t, b, kgo.AllowAutoTopicCreation())
	res := prod.ProduceSync(testContext(t), &kgo.Record{Topic: allowed, Value: []byte("v")})
	if err := res.FirstErr(); err != nil || res[0].Record.Offset != 0 {
		t.Fatalf("produce to a new topic: %v", err)
	}
	waitTopic(t, adm, allowed, 1)

	strict := newKgo(t, b, kgo.RecordDeliveryTimeout(2*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := strict.ProduceSync(ctx, &kgo.Record{Topic: refused, Value: []byte("v")}).FirstErr()
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("produce to a missing topic without auto-creation: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
	listed, err := adm.ListTopics(testContext(t))
	if err != nil || listed.Has(refused) {
		t.Fatalf("list topics: %v; %s created: %v", err, refused, listed.Has(refused))
	}
}
