// Package haproxypush applies a fleet's decisions to an HAProxy backend
// through the Runtime API (push mode), for backends whose servers cannot
// be told apart by agent-send (server-template with DNS or SRV discovery).
//
// It keeps the rule of polled replies: while a server's decision is quiet
// (the agent has nothing to say) nothing is sent, so an operator's state
// stays; while it acts or restores, what HAProxy shows is brought to the
// decision, so a change of decision, an HAProxy reload or a lost command
// is applied again, and only the parts that differ are sent.
package haproxypush

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/haproxyapi"
	"github.com/haproxy-agent/agent/rules"
)

// maxBackoff bounds the wait between attempts on a failing socket.
const maxBackoff = time.Minute

// Options configure a Pusher.
type Options struct {
	// Addresses are the Runtime API addresses of every HAProxy to push to.
	Addresses []string
	// Backend returns the backend to push to under the rule file in force
	// ("" when it does not push).
	Backend func() string
	// Interval returns how often to compare HAProxy with the decisions
	// even without a new one (the rule file's interval).
	Interval func() time.Duration
	Logger   *slog.Logger
}

// Pusher applies decisions to every HAProxy of Options.Addresses, each on
// its own goroutine: a slow or failing socket delays no other, and never
// the evaluation loop (Publish only stores and signals).
type Pusher struct {
	opts    Options
	targets []*target

	mu      sync.Mutex
	backend string
	want    map[string]State // by server; quiet servers absent
}

// State is what the agent wants HAProxy to hold for one server.
type State struct {
	// Admin is ready, drain or maint (a down decision is applied as
	// maint: the Runtime API sets the operational state only through
	// checks).
	Admin rules.Admin
	// Weight is "N%" or, for an absolute weight, "N".
	Weight string
	// Maxconn is the limit, 0 for none, or rules.Unset to leave it.
	Maxconn int
}

// target is one HAProxy.
type target struct {
	addr   string
	client *haproxyapi.Client
	wake   chan struct{}

	mu     sync.Mutex
	status Status
}

// Status is one HAProxy's push state, for /status.
type Status struct {
	Address string `json:"address"`
	Up      bool   `json:"up"`
	Error   string `json:"error,omitempty"`
	// Commands counts the set commands sent and accepted; Failed those
	// HAProxy refused.
	Commands int       `json:"commands"`
	Failed   int       `json:"failed"`
	LastPush time.Time `json:"last_push,omitzero"`
	failures int
}

// New returns a pusher to the HAProxys at opts.Addresses.
func New(opts Options) (*Pusher, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Pusher{opts: opts}
	for _, addr := range opts.Addresses {
		c, err := haproxyapi.New(addr)
		if err != nil {
			return nil, err
		}
		p.targets = append(p.targets, &target{addr: addr, client: c, wake: make(chan struct{}, 1), status: Status{Address: addr}})
	}
	return p, nil
}

// Want turns a fleet decision into the state to push; ok is false for a
// quiet decision, which pushes nothing.
func Want(d *evaluator.Decision) (s State, ok bool) {
	if d.Phase == evaluator.Quiet {
		return State{}, false
	}
	s = State{Admin: d.Admin, Maxconn: d.Maxconn}
	if d.Op.IsDown() {
		s.Admin = rules.Maint
	}
	if s.Admin == rules.NoAdmin {
		s.Admin = rules.Ready
	}
	s.Weight = strconv.Itoa(d.Weight)
	if !d.Absolute {
		s.Weight += "%"
	}
	return s, true
}

// Publish takes an evaluation's decisions and wakes every HAProxy's
// goroutine. It never blocks.
func (p *Pusher) Publish(res *evaluator.Result) {
	backend := p.opts.Backend()
	want := make(map[string]State, len(res.Servers))
	if backend != "" {
		for _, d := range res.Servers {
			if s, ok := Want(d); ok {
				want[d.Server] = s
			}
		}
	}
	p.mu.Lock()
	p.backend, p.want = backend, want
	p.mu.Unlock()
	for _, t := range p.targets {
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

// Run pushes until ctx ends.
func (p *Pusher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, t := range p.targets {
		wg.Go(func() { p.run(ctx, t) })
	}
	wg.Wait()
}

// run pushes to one HAProxy on each new decision and every interval;
// after a failure it waits 2, 4 … 64 intervals (at most a minute).
func (p *Pusher) run(ctx context.Context, t *target) {
	timer := time.NewTimer(p.opts.Interval())
	defer timer.Stop()
	wait := 1
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.wake:
			if wait > 1 {
				continue // backing off: the timer decides
			}
		case <-timer.C:
		}
		p.mu.Lock()
		backend, want := p.backend, p.want
		p.mu.Unlock()
		wait = 1
		if backend != "" && want != nil {
			wait = p.push(ctx, t, backend, want)
		}
		interval := p.opts.Interval()
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(min(interval*time.Duration(wait), maxBackoff))
	}
}

// push brings one HAProxy's backend to want; it returns how many
// intervals to wait before the next attempt (more after a failure).
func (p *Pusher) push(ctx context.Context, t *target, backend string, want map[string]State) int {
	ctx, cancel := context.WithTimeout(ctx, max(p.opts.Interval(), time.Second))
	defer cancel()
	cur, err := Read(ctx, t.client, backend)
	sent, failed := 0, 0
	if err == nil {
		sent, failed, err = p.apply(ctx, t, backend, want, cur)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.status.Commands += sent
	t.status.Failed += failed
	if sent > 0 {
		t.status.LastPush = time.Now()
	}
	if err != nil {
		if t.status.failures == 0 {
			p.opts.Logger.Warn("cannot push to haproxy; retrying with backoff", "haproxy", t.addr, "backend", backend, "err", err)
		}
		t.status.failures++
		t.status.Up, t.status.Error = false, err.Error()
		return 1 << min(t.status.failures, 6)
	}
	if t.status.failures > 0 {
		p.opts.Logger.Info("pushing to haproxy again", "haproxy", t.addr, "failures", t.status.failures)
	}
	t.status.failures, t.status.Up, t.status.Error = 0, true, ""
	return 1
}

// apply sends the commands that bring cur to want. A command HAProxy
// refuses is logged and counted; the others are still sent.
func (p *Pusher) apply(ctx context.Context, t *target, backend string, want map[string]State, cur map[string]Current) (sent, failed int, err error) {
	for server, w := range want {
		c, ok := cur[server]
		if !ok {
			continue // not in this HAProxy's backend (yet)
		}
		for _, cmd := range c.diff(w) {
			err := cmd.run(ctx, t.client, backend, server)
			if err == nil {
				sent++
				p.opts.Logger.Info("pushed to haproxy", "haproxy", t.addr, "backend", backend, "server", server, "set", cmd.String())
				continue
			}
			if ctx.Err() != nil {
				return sent, failed, err
			}
			failed++
			p.opts.Logger.Warn("haproxy refused a push", "haproxy", t.addr, "backend", backend, "server", server, "set", cmd.String(), "err", err)
		}
	}
	return sent, failed, nil
}

// Status returns each HAProxy's push state.
func (p *Pusher) Status() []Status {
	out := make([]Status, len(p.targets))
	for i, t := range p.targets {
		t.mu.Lock()
		out[i] = t.status
		t.mu.Unlock()
	}
	return out
}
