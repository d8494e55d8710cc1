package e2e

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Across a clean restart of the broker (SIGTERM, exit 0, started again on the same data): the
// records, the group's committed offsets and the idempotent producer carry on. A new member of
// the group reads exactly what was produced after the commit; a direct read finds every record
// at its offset. BlazeMQ only: it restarts the binary.
func TestFranzAcrossBrokerRestart(t *testing.T) {
	if external() {
		t.Skip("restarts the broker binary: BlazeMQ only")
	}
	b := startBroker(t)
	adm := newKadm(t, b)
	topic, group := name(t, "topic"), name(t, "group")
	createTopic(t, adm, topic, 2)
	prod := newKgo(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceTo(t, prod, topic, 2, 10, 0)

	first := newMember(t, b, group, topic)
	assertEachPartitionFrom(t, pollUntil(t, 20, first)[first], 0, 10)
	commit(t, first)
	first.cl.Close()
	produceTo(t, prod, topic, 2, 5, 10)

	b.restart(t)
	// A fresh admin client: the old one's connections died with the broker, and kgo does not
	// resend an admin request that was cut off.
	assertOffsets(t, newKadm(t, b), group, topic, map[int32]int64{0: 10, 1: 10})
	// The same producer goes on after the restart.
	produceTo(t, prod, topic, 2, 5, 15)
	second := newMember(t, b, group, topic)
	assertEachPartitionFrom(t, pollUntil(t, 20, second)[second], 10, 10)

	direct := newKgo(t, b, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {
		0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart(),
	}}))
	assertEachPartitionFrom(t, consumeN(t, direct, 40), 0, 20)
}
