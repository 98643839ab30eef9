package replica

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/testutil"
	"github.com/haproxy-agent/agent/rules"
)

// member is one replica under test, with what it was handed.
type member struct {
	*Group
	mu        sync.Mutex
	overrides []evaluator.Override
}

func (m *member) Overrides() []evaluator.Override {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.overrides)
}

func join(t *testing.T, endpoints []string, id string, ttl time.Duration) *member {
	t.Helper()
	m := &member{}
	g, err := Start(Options{
		Endpoints: endpoints, Prefix: "/test/", LeaseTTL: ttl, ID: id,
		OnOverrides: func(ovs []evaluator.Override) {
			m.mu.Lock()
			m.overrides = ovs
			m.mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	m.Group = g
	t.Cleanup(func() { g.Close() })
	return m
}

func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !ok() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

func leaderOf(ms ...*member) *member {
	for _, m := range ms {
		if m.Gate().Leading() {
			return m
		}
	}
	return nil
}

func TestGroupSharesOutSetAndOverrides(t *testing.T) {
	cluster := testutil.StartEtcdCluster(t, 3)
	const ttl = 2 * time.Second
	a := join(t, cluster.Endpoints(), "a", ttl)
	b := join(t, cluster.Endpoints(), "b", ttl)
	waitFor(t, "a leader with adds allowed", 10*time.Second, func() bool { return leaderOf(a, b) != nil })
	lead := leaderOf(a, b)
	follow := a
	if lead == a {
		follow = b
	}
	if follow.Gate().May("s1") {
		t.Fatal("a follower may let out a server no out-set names")
	}

	// The leader publishes; every replica reads it and only then may the
	// leader add again.
	lead.Publish([]string{"s1"})
	waitFor(t, "the follower reads the out-set", 5*time.Second, func() bool { return follow.Gate().May("s1") })
	if follow.Gate().May("s2") {
		t.Fatal("the follower may let out s2, which the out-set does not name")
	}
	// The leader may add only once every replica answers by the set.
	// By its gate, not its status: the status takes a new revision a
	// moment before the gate built from it.
	waitFor(t, "the leader knows what it wrote", 5*time.Second, func() bool { return lead.Gate().rev == follow.Gate().rev })
	if lead.Gate().May("s2") {
		t.Fatal("the leader may add before any replica applied the set")
	}
	follow.Applied(follow.Gate())
	time.Sleep(200 * time.Millisecond)
	if lead.Gate().May("s2") {
		t.Fatal("the leader may add before it applied the set itself")
	}
	lead.Applied(lead.Gate())
	waitFor(t, "both replicas acknowledge", 5*time.Second, func() bool { return lead.Gate().May("s2") })
	st := follow.Status()
	if !st.Up || st.Leader != lead.o.ID || !slices.Equal(st.OutSet, []string{"s1"}) || len(st.Replicas) != 2 {
		t.Fatalf("follower status = %+v", st)
	}

	// An override written through one replica reaches the other, and
	// etcd's lease expires it on both.
	o := evaluator.Override{ID: "abcd0001", Reason: "test", Action: rules.Action{Admin: rules.Drain, Weight: rules.Unset, Maxconn: rules.Unset}, Created: time.Now().UTC(), Expires: time.Now().Add(2 * time.Second).UTC()}
	if err := a.PutOverride(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, "b reads a's override", 5*time.Second, func() bool { return len(b.Overrides()) == 1 })
	t.Logf("override propagation: %s", took)
	waitFor(t, "etcd expires the override on both", 10*time.Second, func() bool { return len(a.Overrides()) == 0 && len(b.Overrides()) == 0 })
	o.ID, o.Expires = "abcd0002", time.Time{}
	if err := b.PutOverride(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a reads b's override", 5*time.Second, func() bool { return len(a.Overrides()) == 1 })
	if err := a.DeleteOverrides(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "clear on a clears b", 5*time.Second, func() bool { return len(b.Overrides()) == 0 })

	// The leader leaves: the other takes over with the stored out-set.
	start := time.Now()
	lead.Close()
	waitFor(t, "the other replica leads", ttl+5*time.Second, func() bool { return follow.Gate().Leading() })
	t.Logf("leader change after a clean exit: %s", time.Since(start))
	if !follow.Gate().May("s1") || !slices.Equal(follow.Status().OutSet, []string{"s1"}) {
		t.Fatalf("the new leader lost the out-set: %+v", follow.Status())
	}
}

func TestGroupFailStatic(t *testing.T) {
	cluster := testutil.StartEtcdCluster(t, 3)
	const ttl = 2 * time.Second
	a := join(t, cluster.Endpoints(), "a", ttl)
	b := join(t, cluster.Endpoints(), "b", ttl)
	waitFor(t, "a leader", 10*time.Second, func() bool { return leaderOf(a, b) != nil })
	lead := leaderOf(a, b)
	lead.Publish([]string{"s1"})
	waitFor(t, "both read the out-set", 5*time.Second, func() bool { return a.Gate().May("s1") && b.Gate().May("s1") })

	// Quorum lost: both replicas go fail-static, keeping the set.
	cluster.Stop(0)
	cluster.Stop(1)
	waitFor(t, "both report etcd down", 3*ttl, func() bool { return !a.Status().Up && !b.Status().Up })
	for _, m := range []*member{a, b} {
		g := m.Gate()
		if g.Leading() || g.May("s2") || !g.May("s1") {
			t.Fatalf("%s: fail-static gate lets out s2=%v, keeps s1=%v, leading=%v", m.o.ID, g.May("s2"), g.May("s1"), g.Leading())
		}
	}
	lead.Publish([]string{"s1", "s2"}) // ignored: not leading any more
	cluster.Stop(2)
	time.Sleep(ttl)
	if a.Gate().May("s2") || b.Gate().May("s2") {
		t.Fatal("a replica without etcd let a new server out")
	}

	// The members come back: the replicas recover by themselves.
	for i := range 3 {
		cluster.Start(i)
	}
	cluster.WaitHealthy(t, 30*time.Second)
	waitFor(t, "both up again with a leader", 30*time.Second, func() bool {
		return a.Status().Up && b.Status().Up && leaderOf(a, b) != nil
	})
	if !a.Gate().May("s1") || !b.Gate().May("s1") {
		t.Fatal("the out-set was lost across the outage")
	}
}
