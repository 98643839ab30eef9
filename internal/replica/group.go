package replica

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/override"
)

// Defaults of the etcd flags.
const (
	DefaultPrefix   = "/haproxy-agent/"
	DefaultLeaseTTL = 10 * time.Second
)

// Options configure a Group.
type Options struct {
	// Endpoints are etcd's client URLs.
	Endpoints []string
	// Prefix is the key prefix the group shares (DefaultPrefix when empty).
	Prefix string
	// LeaseTTL is the TTL of the replica's lease: how long a replica that
	// died keeps its leadership and its place among the live replicas.
	LeaseTTL time.Duration
	// ID names this replica in the group; it must be unique in the group.
	ID     string
	Client *ClientConfig
	Logger *slog.Logger
	// OnOverrides receives every override in etcd, oldest first, each time
	// they change. It must not block for long.
	OnOverrides func([]evaluator.Override)
	// OnChange is called when the gate changes (a new out-set read,
	// leadership won or lost, etcd lost or back), so that the agent
	// re-evaluates. It must not block.
	OnChange func()
}

// Gate is what the group lets the guardrail do, as of one moment: an
// immutable snapshot the evaluation loop reads without waiting.
type Gate struct {
	set     map[string]bool
	servers []string
	// rev is the etcd revision of the out-set the gate was made from.
	rev int64
	// adds is whether servers outside the set may be let out: only the
	// leader, in touch with etcd, once every replica answers by the
	// latest set.
	adds bool
	// leading is whether this replica leads and reads etcd: its wishes
	// are published.
	leading bool
}

// May reports whether the rules may hold server out of rotation. A nil
// Gate (no group) allows everything the guardrail allows.
func (g *Gate) May(server string) bool {
	return g == nil || g.adds || g.set[server]
}

// Reserved names the servers of the latest out-set read: other replicas
// may hold them out until they have read a set without them.
func (g *Gate) Reserved() []string {
	if g == nil {
		return nil
	}
	return g.servers
}

// Leading reports whether the gate is a leader's: its decisions are the
// ones to publish.
func (g *Gate) Leading() bool { return g != nil && g.leading }

// Status is the group as this replica sees it, for /status and the page.
type Status struct {
	ID       string `json:"id"`
	Up       bool   `json:"up"`
	Error    string `json:"error,omitempty"`
	Leader   string `json:"leader"`
	IsLeader bool   `json:"is_leader"`
	// Replicas are the live replicas' IDs, sorted.
	Replicas []string `json:"replicas"`
	// OutSet is the latest out-set read, sorted; Revision is etcd's
	// revision of it and PublishedAt when the leader wrote it.
	OutSet      []string  `json:"out_set"`
	Revision    int64     `json:"revision"`
	PublishedAt time.Time `json:"published_at,omitzero"`
	// AddsAllowed is whether this replica may let further servers out.
	AddsAllowed bool `json:"adds_allowed"`
}

// outSet is the value of PREFIX/outset.
type outSet struct {
	Leader  string    `json:"leader"`
	Time    time.Time `json:"time"`
	Servers []string  `json:"servers"`
}

// presence is the value of PREFIX/replicas/ID.
type presence struct {
	Acked int64     `json:"acked"`
	Time  time.Time `json:"time"`
}

// Group is this replica's membership of a group. Its methods are safe for
// concurrent use.
type Group struct {
	o      Options
	cli    *clientv3.Client
	log    *slog.Logger
	gate   atomic.Pointer[Gate]
	wishes chan []string
	// applied carries the revision of the latest gate whose decisions
	// the agent has published; acked is the last one written to etcd.
	applied chan int64
	acked   atomic.Int64
	// settle is how long the leader waits, once every replica answers by
	// a set, before it lets a further server out (SetSettle).
	settle atomic.Int64
	cancel context.CancelFunc
	done   chan struct{}
	// synced is closed once the group's state was first read.
	synced     chan struct{}
	syncedOnce sync.Once

	mu sync.Mutex
	// The state below is guarded by mu; run's goroutine changes it.
	up       bool
	err      string
	leading  bool
	leader   string
	replicas map[string]int64 // live replica → revision of the out-set it acknowledged
	set      outSet
	setRev   int64
	// seenRev is the etcd revision this replica's view (the replicas and
	// their acknowledgements) is complete up to: the leader learns the
	// revision of a set it writes before its watch has brought the
	// presence of replicas that joined just before it.
	seenRev   int64
	overrides map[string]evaluator.Override
	// ackedRev is the latest out-set every replica has applied, since
	// ackedAt.
	ackedRev    int64
	ackedAt     time.Time
	settleTimer *time.Timer
}

// Start connects to etcd and joins the group in the background; it does
// not wait for etcd, which may be down: the replica is then fail-static
// (lets nothing out) until it reads the group's state.
func Start(o Options) (*Group, error) {
	if len(o.Endpoints) == 0 {
		return nil, errors.New("etcd: no endpoints")
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if !strings.HasSuffix(o.Prefix, "/") {
		o.Prefix += "/"
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	tlsc, err := o.Client.tls()
	if err != nil {
		return nil, err
	}
	pass, err := o.Client.password()
	if err != nil {
		return nil, err
	}
	cfg := clientv3.Config{
		Endpoints:            o.Endpoints,
		DialTimeout:          2 * time.Second,
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
		TLS:                  tlsc,
		Password:             pass,
		Logger:               zap.NewNop(),
		// Reconnect within seconds once etcd is back: gRPC's own backoff
		// grows to two minutes while every member is down.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: 2 * time.Second,
		})},
	}
	if o.Client != nil {
		cfg.Username = o.Client.Username
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd client: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Group{
		o:         o,
		cli:       cli,
		log:       o.Logger,
		wishes:    make(chan []string, 1),
		applied:   make(chan int64, 1),
		cancel:    cancel,
		done:      make(chan struct{}),
		synced:    make(chan struct{}),
		replicas:  map[string]int64{},
		overrides: map[string]evaluator.Override{},
		err:       "not connected yet",
	}
	g.gate.Store(&Gate{})
	go g.run(ctx)
	return g, nil
}

// Close leaves the group (its lease revoked, so that another replica leads
// at once) and closes the client.
func (g *Group) Close() error {
	g.cancel()
	<-g.done
	g.mu.Lock()
	if g.settleTimer != nil {
		g.settleTimer.Stop()
	}
	g.mu.Unlock()
	return g.cli.Close()
}

// Synced is closed once the group's state has been read from etcd the
// first time, so that a starting agent can wait a moment for it.
func (g *Group) Synced() <-chan struct{} { return g.synced }

// Gate returns the latest gate. It never waits.
func (g *Group) Gate() *Gate { return g.gate.Load() }

// Publish hands the servers the rules hold out of rotation after an
// evaluation under the current gate. The leader publishes them as the new
// out-set when they differ from the latest; other replicas ignore them. It
// never waits: only the latest wish is kept.
func (g *Group) Publish(out []string) {
	if !g.Gate().Leading() {
		return
	}
	out = slices.Clone(out)
	slices.Sort(out)
	for {
		select {
		case g.wishes <- out:
			return
		default:
		}
		select {
		case <-g.wishes:
		default:
		}
	}
}

// Applied tells the group that the agent now answers every poll by
// decisions made under gate: only then does the replica acknowledge the
// out-set it was made from, so that the leader reuses a freed place only
// once no replica still answers by the older set. It never waits.
func (g *Group) Applied(gate *Gate) {
	if gate == nil || gate.rev <= g.acked.Load() {
		return
	}
	for {
		select {
		case g.applied <- gate.rev:
			return
		default:
		}
		select {
		case <-g.applied:
		default:
		}
	}
}

// SetSettle sets how long the leader waits, after every replica answers
// by the latest out-set, before it lets a further server out: long enough
// for HAProxy to have polled every server released by that set (the agent
// passes twice its interval). It never waits.
func (g *Group) SetSettle(d time.Duration) { g.settle.Store(int64(d)) }

// Status returns the group as this replica sees it now.
func (g *Group) Status() Status {
	g.mu.Lock()
	defer g.mu.Unlock()
	return Status{
		ID: g.o.ID, Up: g.up, Error: g.err, Leader: g.leader, IsLeader: g.leading && g.up,
		Replicas: slices.Sorted(maps.Keys(g.replicas)), OutSet: slices.Clone(g.set.Servers),
		Revision: g.setRev, PublishedAt: g.set.Time, AddsAllowed: g.Gate().adds,
	}
}

// run keeps the replica in the group until ctx ends: a session (a lease
// kept alive, the presence key, the election) is made again whenever it is
// lost, with a growing pause.
func (g *Group) run(ctx context.Context) {
	defer close(g.done)
	pause := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := g.session(ctx)
		if ctx.Err() != nil {
			return
		}
		g.setDown(err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 2*time.Second)
		if err == nil {
			pause = 100 * time.Millisecond
		}
	}
}

// session runs one lease's life: it returns when the lease is lost (etcd
// unreachable for longer than its TTL) or ctx ends.
func (g *Group) session(ctx context.Context) error {
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	defer g.setLeading(false)
	ttl := int64(math.Ceil(g.o.LeaseTTL.Seconds()))
	gctx, gcancel := context.WithTimeout(sctx, 2*time.Second)
	lease, err := g.cli.Grant(gctx, ttl)
	gcancel()
	if err != nil {
		return fmt.Errorf("etcd lease: %w", err)
	}
	defer func() {
		// Leave at once on shutdown, so that another replica leads
		// without waiting for the TTL; best effort.
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, _ = g.cli.Revoke(rctx, lease.ID)
		cancel()
	}()
	ka, err := g.cli.KeepAlive(sctx, lease.ID)
	if err != nil {
		return fmt.Errorf("etcd keepalive: %w", err)
	}
	sess, err := concurrency.NewSession(g.cli, concurrency.WithLease(lease.ID), concurrency.WithContext(sctx))
	if err != nil {
		return fmt.Errorf("etcd session: %w", err)
	}
	defer sess.Orphan()
	el := concurrency.NewElection(sess, g.o.Prefix+"leader")
	won := make(chan error, 1)
	go func() { won <- el.Campaign(sctx, g.o.ID) }()

	s := &watchState{g: g, lease: lease.ID, el: el}
	lastKA := time.Now()
	check := time.NewTicker(g.o.LeaseTTL / 6)
	defer check.Stop()
	for {
		wch, err := s.resync(sctx)
		if err != nil {
			g.setDown(err)
		}
	events:
		for wch != nil {
			select {
			case <-ctx.Done():
				return nil
			case _, ok := <-ka:
				if !ok {
					return errors.New("etcd lease lost: etcd was unreachable for longer than the lease TTL")
				}
				lastKA = time.Now()
			case err := <-won:
				if err != nil {
					return fmt.Errorf("etcd election: %w", err)
				}
				g.setLeading(true)
				g.log.Info("this replica leads the group now", "replica", g.o.ID)
			case wr, ok := <-wch:
				if !ok || wr.Err() != nil {
					err := errors.New("etcd watch closed")
					if ok {
						err = fmt.Errorf("etcd watch: %w", wr.Err())
					}
					g.setDown(err)
					break events
				}
				s.apply(sctx, wr.Events)
			case wish := <-g.wishes:
				s.publish(sctx, wish)
			case rev := <-g.applied:
				if rev > g.acked.Load() {
					g.acked.Store(rev)
					s.ack(sctx)
				}
			case <-check.C:
				// Keepalives come every TTL/3 while etcd has quorum.
				if time.Since(lastKA) > g.o.LeaseTTL*2/3+time.Second {
					g.setDown(errors.New("etcd does not answer keepalives: no quorum or unreachable"))
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-ka:
			if !ok {
				return errors.New("etcd lease lost: etcd was unreachable for longer than the lease TTL")
			}
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// watchState is what one session reads from and writes to etcd.
type watchState struct {
	g     *Group
	lease clientv3.LeaseID
	el    *concurrency.Election
}

// resync reads the whole prefix, marks the replica up, acknowledges the
// out-set and watches from the revision read.
func (s *watchState) resync(ctx context.Context) (clientv3.WatchChan, error) {
	g := s.g
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	resp, err := g.cli.Get(rctx, g.o.Prefix, clientv3.WithPrefix())
	cancel()
	if err != nil {
		return nil, fmt.Errorf("etcd read: %w", err)
	}
	g.mu.Lock()
	g.replicas = map[string]int64{}
	g.overrides = map[string]evaluator.Override{}
	g.mu.Unlock()
	evs := make([]*clientv3.Event, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		evs = append(evs, &clientv3.Event{Type: clientv3.EventTypePut, Kv: kv})
	}
	g.mu.Lock()
	g.up, g.err = true, ""
	g.seenRev = max(g.seenRev, resp.Header.Revision)
	g.mu.Unlock()
	s.apply(ctx, evs)
	s.ack(ctx) // the presence key, with the last revision applied
	g.syncedOnce.Do(func() { close(g.synced) })
	wctx := clientv3.WithRequireLeader(ctx)
	return g.cli.Watch(wctx, g.o.Prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1)), nil
}

// apply takes in changes read from etcd.
func (s *watchState) apply(ctx context.Context, evs []*clientv3.Event) {
	g := s.g
	var overridesChanged, leaderChanged bool
	g.mu.Lock()
	for _, ev := range evs {
		g.seenRev = max(g.seenRev, ev.Kv.ModRevision)
		key := strings.TrimPrefix(string(ev.Kv.Key), g.o.Prefix)
		del := ev.Type == clientv3.EventTypeDelete
		switch {
		case strings.HasPrefix(key, "overrides/"):
			overridesChanged = true
			id := strings.TrimPrefix(key, "overrides/")
			if del {
				delete(g.overrides, id)
				continue
			}
			var r override.Record
			err := json.Unmarshal(ev.Kv.Value, &r)
			var o evaluator.Override
			if err == nil {
				o, err = r.Override()
			}
			if err != nil {
				g.log.Warn("ignoring an override in etcd that does not parse", "key", string(ev.Kv.Key), "err", err)
				continue
			}
			g.overrides[id] = o
		case strings.HasPrefix(key, "replicas/"):
			id := strings.TrimPrefix(key, "replicas/")
			if del {
				delete(g.replicas, id)
				continue
			}
			var p presence
			if json.Unmarshal(ev.Kv.Value, &p) == nil {
				g.replicas[id] = p.Acked
			}
		case key == "outset":
			var set outSet
			if !del {
				if err := json.Unmarshal(ev.Kv.Value, &set); err != nil {
					g.log.Warn("ignoring an out-set in etcd that does not parse", "key", string(ev.Kv.Key), "err", err)
					continue
				}
			}
			g.set, g.setRev = set, ev.Kv.ModRevision
		case strings.HasPrefix(key, "leader/"):
			leaderChanged = true
		}
	}
	var ovs []evaluator.Override
	if overridesChanged {
		ovs = slices.SortedFunc(maps.Values(g.overrides), func(a, b evaluator.Override) int {
			if c := a.Created.Compare(b.Created); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
	}
	g.mu.Unlock()
	if leaderChanged {
		// The election's keys: the lowest create revision leads.
		leader := s.currentLeader(ctx)
		g.mu.Lock()
		g.leader = leader
		g.mu.Unlock()
	}
	g.refreshGate()
	if overridesChanged && g.o.OnOverrides != nil {
		g.o.OnOverrides(ovs)
	}
}

// currentLeader asks etcd who leads.
func (s *watchState) currentLeader(ctx context.Context) string {
	lctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	resp, err := s.el.Leader(lctx)
	if err != nil || len(resp.Kvs) == 0 {
		return ""
	}
	return string(resp.Kvs[0].Value)
}

// ack writes the replica's presence key with the revision of the latest
// out-set whose decisions it answers polls by.
func (s *watchState) ack(ctx context.Context) {
	g := s.g
	p := presence{Acked: g.acked.Load(), Time: time.Now().UTC()}
	b, _ := json.Marshal(p)
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := g.cli.Put(actx, g.o.Prefix+"replicas/"+g.o.ID, string(b), clientv3.WithLease(s.lease)); err != nil {
		g.log.Warn("cannot acknowledge the out-set in etcd", "err", err)
	}
}

// publish writes wish as the out-set if this replica still leads and it
// differs from the latest.
func (s *watchState) publish(ctx context.Context, wish []string) {
	g := s.g
	g.mu.Lock()
	same := slices.Equal(wish, g.set.Servers) || len(wish) == 0 && len(g.set.Servers) == 0 && g.setRev != 0
	leading := g.leading
	g.mu.Unlock()
	if same || !leading {
		return
	}
	set := outSet{Leader: g.o.ID, Time: time.Now().UTC(), Servers: wish}
	b, _ := json.Marshal(set)
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	// Only while this replica's election key still leads.
	resp, err := g.cli.Txn(pctx).
		If(clientv3.Compare(clientv3.CreateRevision(s.el.Key()), "=", s.el.Rev())).
		Then(clientv3.OpPut(g.o.Prefix+"outset", string(b))).
		Commit()
	switch {
	case err != nil:
		g.log.Warn("cannot publish the out-set to etcd", "err", err)
	case !resp.Succeeded:
		g.log.Warn("not publishing the out-set: this replica no longer leads")
		g.setLeading(false)
	default:
		// The leader knows what it wrote before its watch reads it back:
		// no further server out until every replica has applied it.
		g.mu.Lock()
		if resp.Header.Revision > g.setRev {
			g.set, g.setRev = set, resp.Header.Revision
		}
		g.mu.Unlock()
		g.refreshGate()
	}
}

// setLeading records a won or lost election.
func (g *Group) setLeading(on bool) {
	g.mu.Lock()
	g.leading = on
	if on {
		g.leader = g.o.ID
	}
	g.mu.Unlock()
	g.refreshGate()
}

// setDown records that etcd cannot be read: fail-static.
func (g *Group) setDown(err error) {
	g.mu.Lock()
	was := g.up
	g.up = false
	if err != nil {
		g.err = err.Error()
	}
	g.mu.Unlock()
	if was {
		g.log.Warn("etcd unreachable: keeping the last out-set and overrides, letting no further server out", "err", err)
	}
	g.refreshGate()
}

// refreshGate builds the gate from the state and tells the agent when it
// changed.
func (g *Group) refreshGate() {
	g.mu.Lock()
	next := &Gate{set: make(map[string]bool, len(g.set.Servers)), servers: slices.Clone(g.set.Servers), rev: g.setRev}
	for _, s := range g.set.Servers {
		next.set[s] = true
	}
	if g.up && g.leading {
		next.leading = true
		// Every replica's acknowledgement counts only once the view has
		// caught up with the set: a replica whose presence etcd holds
		// from before it must not be missed.
		all := g.seenRev >= g.setRev
		for _, acked := range g.replicas {
			all = all && acked >= g.setRev
		}
		if all {
			if g.ackedRev != g.setRev || g.ackedAt.IsZero() {
				g.ackedRev, g.ackedAt = g.setRev, time.Now()
			}
			if wait := time.Duration(g.settle.Load()) - time.Since(g.ackedAt); wait > 0 {
				// Look again once the wait is over.
				if g.settleTimer == nil {
					g.settleTimer = time.AfterFunc(wait, g.refreshGate)
				} else {
					g.settleTimer.Reset(wait)
				}
			} else {
				next.adds = true
			}
		}
	}
	wasUp := g.up
	g.mu.Unlock()
	prev := g.gate.Swap(next)
	if prev.adds != next.adds || prev.leading != next.leading || prev.rev != next.rev || !maps.Equal(prev.set, next.set) {
		if wasUp && !prev.adds && next.adds {
			g.log.Debug("every replica has read the out-set; the leader may let servers out")
		}
		if g.o.OnChange != nil {
			g.o.OnChange()
		}
	}
}
