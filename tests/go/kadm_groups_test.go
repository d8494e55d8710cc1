package e2e

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Groups through kadm: offsets committed and fetched for a group with no members, the group
// listed and described as Empty, then Stable with a member; deleting it refused while the member
// is in, OffsetDelete refused for a subscribed topic; once the member leaves, both work.
func TestKadmGroups(t *testing.T) {
	b := startBroker(t)
	adm := newKadm(t, b)
	ctx := testContext(t)
	topic, group := name(t, "topic"), name(t, "group")
	createTopic(t, adm, topic, 2)

	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 3, LeaderEpoch: -1, Metadata: "m0"})
	offs.Add(kadm.Offset{Topic: topic, Partition: 1, At: 0, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctx, group, offs); err != nil {
		t.Fatalf("commit offsets: %v", err)
	}
	fetched, err := adm.FetchOffsets(ctx, group)
	if err != nil || fetched.Error() != nil {
		t.Fatalf("fetch offsets: %v / %v", err, fetched.Error())
	}
	if o, _ := fetched.Lookup(topic, 0); o.At != 3 || o.Metadata != "m0" {
		t.Fatalf("fetched %+v, want 3 with metadata m0", o)
	}
	if o, _ := fetched.Lookup(topic, 1); o.At != 0 || o.Metadata != "" {
		t.Fatalf("fetched %+v, want 0 with no metadata", o)
	}
	assertListedGroup(t, adm, group, "Empty", "")
	assertDescribed(t, adm, group, "Empty", 0)

	m := newMember(t, b, group, topic)
	waitOwned(t, []*member{m}, 2)
	assertListedGroup(t, adm, group, "Stable", "consumer")
	assertDescribed(t, adm, group, "Stable", 1)
	assertDeleteGroup(t, adm, group, kerr.NonEmptyGroup)
	assertDeleteOffsets(t, adm, group, topic, kerr.GroupSubscribedToTopic)

	m.cl.Close()
	assertDescribed(t, adm, group, "Empty", 0)
	assertDeleteOffsets(t, adm, group, topic, nil)
	// A partition the topic does not have is answered by the broker, not the group.
	missing, err := adm.DeleteOffsets(ctx, group, kadm.TopicsSet{topic: {9: {}}})
	if got, ok := missing.Lookup(topic, 9); err != nil || !ok || !errors.Is(got, kerr.UnknownTopicOrPartition) {
		t.Fatalf("deleting the offset of %s/9: %v / %v (found %v), want UNKNOWN_TOPIC_OR_PARTITION", topic, err, got, ok)
	}
	after, err := adm.FetchOffsets(ctx, group)
	if _, ok := after.Lookup(topic, 0); err != nil || ok {
		t.Fatalf("after OffsetDelete, fetched %+v (%v), want no offset for partition 0", after, err)
	}
	assertDeleteGroup(t, adm, group, nil)
	listed, err := adm.ListGroups(ctx)
	if err != nil || listed[group].Group != "" {
		t.Fatalf("after delete, listed %+v (%v)", listed[group], err)
	}
	assertDeleteGroup(t, adm, group, kerr.GroupIDNotFound)
}

func assertListedGroup(t *testing.T, adm *kadm.Client, group, state, protocolType string) {
	t.Helper()
	listed, err := adm.ListGroups(testContext(t))
	if err != nil {
		t.Fatalf("list groups: %v", err)
	}
	g, ok := listed[group]
	if !ok || g.State != state || g.ProtocolType != protocolType {
		t.Fatalf("listed %+v (found %v), want state %s protocol type %q", g, ok, state, protocolType)
	}
	filtered, err := adm.ListGroups(testContext(t), state)
	if _, ok := filtered[group]; err != nil || !ok {
		t.Fatalf("list groups in state %s: %v, found %v", state, err, ok)
	}
}

// assertDescribed waits (a leaving member is seen after its LeaveGroup lands) for the group to
// be described with the state and member count given.
func assertDescribed(t *testing.T, adm *kadm.Client, group, state string, members int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		described, err := adm.DescribeGroups(testContext(t), group)
		if err != nil {
			t.Fatalf("describe groups: %v", err)
		}
		d := described[group]
		if d.Err == nil && d.State == state && len(d.Members) == members {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("group described as %+v, want %s with %d members", d, state, members)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func assertDeleteGroup(t *testing.T, adm *kadm.Client, group string, want error) {
	t.Helper()
	resp, err := adm.DeleteGroups(testContext(t), group)
	if err != nil {
		t.Fatalf("delete groups: %v", err)
	}
	if got := resp[group].Err; !errors.Is(got, want) && !(want == nil && got == nil) {
		t.Fatalf("deleting group %s: %v, want %v", group, got, want)
	}
}

func assertDeleteOffsets(t *testing.T, adm *kadm.Client, group, topic string, want error) {
	t.Helper()
	resp, err := adm.DeleteOffsets(testContext(t), group, kadm.TopicsSet{topic: {0: {}}})
	if err != nil {
		t.Fatalf("delete offsets: %v", err)
	}
	got, ok := resp.Lookup(topic, 0)
	if !ok || (want == nil && got != nil) || (want != nil && !errors.Is(got, want)) {
		t.Fatalf("deleting the offset of %s/0: %v (found %v), want %v", topic, got, ok, want)
	}
}
