package e2e

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// member is one franz-go group consumer that records what it owns, as the client reports it.
type member struct {
	cl    *kgo.Client
	mu    sync.Mutex
	owned map[int32]bool
}

func (m *member) partitions() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ps []int32
	for p := range m.owned {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

func newMember(t *testing.T, b *broker, group, topic string) *member {
	m := &member{owned: map[int32]bool{}}
	m.cl = newKgo(t, b,
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Kafka's smallest allowed session timeout by default; short heartbeats make a
		// rebalance reach the other member quickly.
		kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(200*time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range a[topic] {
				m.owned[p] = true
			}
		}),
		kgo.OnPartitionsRevoked(m.drop(topic)),
		kgo.OnPartitionsLost(m.drop(topic)),
	)
	return m
}

func (m *member) drop(topic string) func(context.Context, *kgo.Client, map[string][]int32) {
	return func(ctx context.Context, cl *kgo.Client, r map[string][]int32) {
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, p := range r[topic] {
			delete(m.owned, p)
		}
	}
}

// pollUntil polls the members in turn until `want` records arrived in all, failing after 30 s.
func pollUntil(t *testing.T, want int, members ...*member) map[*member][]*kgo.Record {
	t.Helper()
	got := map[*member][]*kgo.Record{}
	total := 0
	deadline := time.Now().Add(30 * time.Second)
	for total < want {
		if time.Now().After(deadline) {
			t.Fatalf("consumed %d of %d records before the deadline", total, want)
		}
		for _, m := range members {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			fs := m.cl.PollFetches(ctx)
			cancel()
			fs.EachError(func(topic string, p int32, err error) {
				if err != context.DeadlineExceeded {
					t.Fatalf("fetch %s/%d: %v", topic, p, err)
				}
			})
			got[m] = append(got[m], fs.Records()...)
			total += len(fs.Records())
		}
	}
	if total != want {
		t.Fatalf("consumed %d records, want %d", total, want)
	}
	return got
}

// waitOwned waits until each member owns the number of partitions given, in order.
func waitOwned(t *testing.T, members []*member, counts ...int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := true
		for i, m := range members {
			// Polling drives nothing in the group itself, but keeps fetches flowing as a real
			// application would while a rebalance happens.
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			m.cl.PollFetches(ctx)
			cancel()
			if len(m.partitions()) != counts[i] {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			for i, m := range members {
				t.Logf("member %d owns %v", i, m.partitions())
			}
			t.Fatalf("members never owned %v partitions", counts)
		}
	}
}

// produceTo writes one record to each of the partitions, `rounds` times, and returns them.
func produceTo(t *testing.T, prod *kgo.Client, topic string, partitions int32, rounds, from int) {
	t.Helper()
	var recs []*kgo.Record
	for r := 0; r < rounds; r++ {
		for p := int32(0); p < partitions; p++ {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p,
				Value: []byte(fmt.Sprintf("p%d-r%d", p, from+r))})
		}
	}
	if err := prod.ProduceSync(testContext(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func assertOffsets(t *testing.T, adm *kadm.Client, group, topic string, want map[int32]int64) {
	t.Helper()
	offs, err := adm.FetchOffsets(testContext(t), group)
	if err != nil {
		t.Fatalf("fetch offsets: %v", err)
	}
	if err := offs.Error(); err != nil {
		t.Fatalf("fetch offsets: %v", err)
	}
	for p, o := range want {
		got, ok := offs.Lookup(topic, p)
		if !ok || got.At != o {
			t.Fatalf("committed offset of %s/%d is %+v (found %v), want %d", topic, p, got, ok, o)
		}
	}
	if n := len(offs[topic]); n != len(want) {
		t.Fatalf("%d committed partitions, want %d", n, len(want))
	}
}

// A group of two franz-go members over four partitions: the first member takes all four, a
// second one joining splits them two and two (cooperative-sticky), the second leaving gives all
// four back; every record is consumed once, by the member that owns its partition, and the
// commits land exactly where the members stopped.
func TestFranzGroupRebalance(t *testing.T) {
	b := startBroker(t)
	adm := newKadm(t, b)
	topic, group := name(t, "topic"), name(t, "group")
	createTopic(t, adm, topic, 4)
	prod := newKgo(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceTo(t, prod, topic, 4, 5, 0)

	a := newMember(t, b, group, topic)
	first := pollUntil(t, 20, a)
	assertEachPartitionFrom(t, first[a], 0, 5)
	commit(t, a)
	assertOffsets(t, adm, group, topic, map[int32]int64{0: 5, 1: 5, 2: 5, 3: 5})

	second := newMember(t, b, group, topic)
	waitOwned(t, []*member{a, second}, 2, 2)
	assertGroup(t, adm, group, topic, a, second)
	produceTo(t, prod, topic, 4, 5, 5)
	split := pollUntil(t, 20, a, second)
	for _, m := range []*member{a, second} {
		assertOwnedOnly(t, m, split[m])
		commit(t, m)
	}
	assertOffsets(t, adm, group, topic, map[int32]int64{0: 10, 1: 10, 2: 10, 3: 10})

	second.cl.Close() // leaves the group (LeaveGroup), so the first member gets all back now
	waitOwned(t, []*member{a}, 4)
	produceTo(t, prod, topic, 4, 1, 10)
	last := pollUntil(t, 4, a)
	assertEachPartitionFrom(t, last[a], 10, 1)
	commit(t, a)
	assertOffsets(t, adm, group, topic, map[int32]int64{0: 11, 1: 11, 2: 11, 3: 11})
	assertLag(t, adm, group, topic)
}

func commit(t *testing.T, m *member) {
	t.Helper()
	if err := m.cl.CommitUncommittedOffsets(testContext(t)); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

// assertEachPartitionFrom checks that recs hold offsets from..from+n-1 of every partition they
// touch, in order per partition, with the values produceTo wrote.
func assertEachPartitionFrom(t *testing.T, recs []*kgo.Record, from, n int) {
	t.Helper()
	next := map[int32]int64{}
	for _, r := range recs {
		want, ok := next[r.Partition]
		if !ok {
			want = int64(from)
		}
		if r.Offset != want || string(r.Value) != fmt.Sprintf("p%d-r%d", r.Partition, want) {
			t.Fatalf("partition %d: offset %d value %q, want offset %d", r.Partition, r.Offset, r.Value, want)
		}
		next[r.Partition] = want + 1
	}
	for p, o := range next {
		if o != int64(from+n) {
			t.Fatalf("partition %d stopped at %d, want %d", p, o, from+n)
		}
	}
}

func assertOwnedOnly(t *testing.T, m *member, recs []*kgo.Record) {
	t.Helper()
	owned := m.partitions()
	if len(recs) != 5*len(owned) {
		t.Fatalf("member owning %v consumed %d records, want %d", owned, len(recs), 5*len(owned))
	}
	set := map[int32]bool{}
	for _, p := range owned {
		set[p] = true
	}
	for _, r := range recs {
		if !set[r.Partition] {
			t.Fatalf("member owning %v got a record of partition %d", owned, r.Partition)
		}
	}
	assertEachPartitionFrom(t, recs, 5, 5)
}

// assertGroup checks DescribeGroups against what the two members say they own.
func assertGroup(t *testing.T, adm *kadm.Client, group, topic string, members ...*member) {
	t.Helper()
	described, err := adm.DescribeGroups(testContext(t), group)
	if err != nil {
		t.Fatalf("describe groups: %v", err)
	}
	d := described[group]
	if d.Err != nil || d.State != "Stable" || d.ProtocolType != "consumer" ||
		d.Protocol != "cooperative-sticky" || len(d.Members) != len(members) {
		t.Fatalf("group is %+v, want Stable consumer/cooperative-sticky with %d members", d, len(members))
	}
	want := map[string][]int32{}
	for _, m := range members {
		id, _ := m.cl.GroupMetadata()
		want[id] = m.partitions()
	}
	for _, dm := range d.Members {
		got := []int32{}
		if a, ok := dm.Assigned.AsConsumer(); ok {
			for _, tp := range a.Topics {
				got = append(got, tp.Partitions...)
			}
		}
		sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
		if fmt.Sprint(got) != fmt.Sprint(want[dm.MemberID]) || dm.ClientID != "blazemq-go-test" {
			t.Fatalf("member %s (%s) assigned %v, want %v", dm.MemberID, dm.ClientID, got, want[dm.MemberID])
		}
	}
}

func assertLag(t *testing.T, adm *kadm.Client, group, topic string) {
	t.Helper()
	lags, err := adm.Lag(testContext(t), group)
	if err != nil {
		t.Fatalf("lag: %v", err)
	}
	l := lags[group]
	if l.Error() != nil || l.Lag.Total() != 0 || len(l.Lag[topic]) != 4 {
		t.Fatalf("group lag %+v (err %v), want 0 over 4 partitions", l.Lag, l.Error())
	}
}
