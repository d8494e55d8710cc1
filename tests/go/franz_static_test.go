package e2e

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// staticMember is a group member with a group.instance.id and the eager range assignor.
func staticMember(t *testing.T, b *broker, group, topic, instance string, revoked *int) *member {
	m := &member{owned: map[int32]bool{}}
	m.cl = newKgo(t, b,
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.InstanceID(instance),
		kgo.Balancers(kgo.RangeBalancer()), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(200*time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range a[topic] {
				m.owned[p] = true
			}
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, r map[string][]int32) {
			m.mu.Lock()
			*revoked += len(r[topic])
			m.mu.Unlock()
			m.drop(topic)(ctx, cl, r)
		}),
	)
	return m
}

// Static membership (KIP-345) with the range assignor: two members split four partitions; one
// restarts with the same instance id within its session and gets its partitions back without
// a rebalance, so the other keeps its own and never gives any up; once it stops for longer than
// its session, the other takes all.
func TestFranzStaticMembership(t *testing.T) {
	// Waits on sessions and heartbeats, not the CPU: runs beside the other tests.
	t.Parallel()
	b := startBroker(t)
	adm := newKadm(t, b)
	topic, group := name(t, "topic"), name(t, "group")
	createTopic(t, adm, topic, 4)
	var revokedA, revokedB int
	a := staticMember(t, b, group, topic, "instance-a", &revokedA)
	waitOwned(t, []*member{a}, 4)
	bm := staticMember(t, b, group, topic, "instance-b", &revokedB)
	waitOwned(t, []*member{a, bm}, 2, 2)
	before := fmt.Sprint(a.partitions(), bm.partitions())
	if before != "[0 1] [2 3]" {
		t.Fatalf("range split %s, want [0 1] [2 3]", before)
	}
	assertStatic(t, adm, group, "instance-a", "instance-b")
	bRevokedBefore := revokedB

	a.cl.Close() // a static member's close does not leave the group
	again := staticMember(t, b, group, topic, "instance-a", &revokedA)
	waitOwned(t, []*member{again, bm}, 2, 2)
	if got := fmt.Sprint(again.partitions(), bm.partitions()); got != before {
		t.Fatalf("after the restart the split is %s, want %s", got, before)
	}
	// A moment for a rebalance that should not happen to show.
	time.Sleep(time.Second)
	waitOwned(t, []*member{again, bm}, 2, 2)
	bm.mu.Lock()
	revoked := revokedB
	bm.mu.Unlock()
	if revoked != bRevokedBefore {
		t.Fatalf("the other member gave up %d partitions during the restart", revoked-bRevokedBefore)
	}
	assertStatic(t, adm, group, "instance-a", "instance-b")

	// A static member that stops without leaving is removed when its session times out (6 s):
	// the other member then owns all four partitions.
	again.cl.Close()
	waitOwned(t, []*member{bm}, 4)
	assertStatic(t, adm, group, "instance-b")
}

// assertStatic checks the group is Stable with exactly these instance ids.
func assertStatic(t *testing.T, adm *kadm.Client, group string, instances ...string) {
	t.Helper()
	described, err := adm.DescribeGroups(testContext(t), group)
	if err != nil {
		t.Fatalf("describe groups: %v", err)
	}
	d := described[group]
	var got []string
	for _, m := range d.Members {
		if m.InstanceID != nil {
			got = append(got, *m.InstanceID)
		}
	}
	sort.Strings(got)
	if d.State != "Stable" || d.Protocol != "range" || fmt.Sprint(got) != fmt.Sprint(instances) {
		t.Fatalf("group %s/%s with instances %v, want Stable/range with %v", d.State, d.Protocol, got, instances)
	}
}
