package haproxyview

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/haproxyapi"
)

// DefaultDriftAfter is how long HAProxy may disagree with the reply before
// it is drift, when HAProxy does not show its agent-inter: 2 × its
// default agent-inter (2s) plus room for a slow poll.
const DefaultDriftAfter = 10 * time.Second

// maxBackoff bounds the wait between reads of a failing socket.
const maxBackoff = time.Minute

// Options configure a View.
type Options struct {
	// Addresses are the Runtime API addresses of the HAProxys that poll
	// the agent.
	Addresses []string
	// Port is the agent's port, to tell servers that poll another one.
	Port int
	// Interval returns how often to read (the rule file's interval).
	Interval func() time.Duration
	// DriftAfter is how long HAProxy may disagree before it is drift, for
	// servers whose agent-inter HAProxy does not show (none up to 3.2
	// does); zero is DefaultDriftAfter.
	DriftAfter time.Duration
	// Now is the clock; nil is time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// View reads each HAProxy every interval, off the evaluation loop, and
// compares what it shows with the agent's latest decisions. It is a
// publisher of the loop: Publish hands it each evaluation.
type View struct {
	opts Options
	haps []*hap

	mu sync.Mutex
	// services and servers index the latest decisions by name.
	services map[string]*evaluator.Decision
	def      *evaluator.Decision
	servers  map[string]*evaluator.Decision
	fleet    bool
}

// hap is one HAProxy's side of the view.
type hap struct {
	addr   string
	client *haproxyapi.Client
	// Guarded by View.mu:
	status HAProxyStatus
	// all is every server of the last good read, for Servers.
	all      []Server
	failures int
	mismatch map[serverKey]*mismatch
}

type serverKey struct{ proxy, server string }

// mismatch is a server HAProxy disagrees about since a time, for one
// expectation.
type mismatch struct {
	want     expectation
	since    time.Time
	drifting bool
}

// HAProxyStatus is one HAProxy as last read.
type HAProxyStatus struct {
	Address string    `json:"address"`
	Up      bool      `json:"up"`
	Error   string    `json:"error,omitempty"`
	ReadAt  time.Time `json:"read_at,omitzero"`
	// Servers are the servers that answer to this agent: by name in fleet
	// mode, by service name or agent port otherwise.
	Servers []ServerView `json:"servers"`
}

// ServerView is one server as HAProxy shows it, beside the agent's reply.
type ServerView struct {
	Server
	// Target is the service or fleet server whose reply applies.
	Target string `json:"target"`
	Reply  string `json:"reply"`
	// Drift is set when HAProxy has held another state than the reply
	// for longer than 2 × agent-inter; Cause is the likely reason.
	Drift      bool      `json:"drift"`
	DriftSince time.Time `json:"drift_since,omitzero"`
	Cause      string    `json:"cause,omitempty"`
}

// New returns a view of the HAProxys at opts.Addresses.
func New(opts Options) (*View, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.DriftAfter <= 0 {
		opts.DriftAfter = DefaultDriftAfter
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	v := &View{opts: opts}
	for _, addr := range opts.Addresses {
		c, err := haproxyapi.New(addr)
		if err != nil {
			return nil, err
		}
		v.haps = append(v.haps, &hap{addr: addr, client: c, status: HAProxyStatus{Address: addr}, mismatch: map[serverKey]*mismatch{}})
	}
	return v, nil
}

// Publish takes the latest evaluation's decisions.
func (v *View) Publish(res *evaluator.Result) {
	services := make(map[string]*evaluator.Decision, len(res.Services))
	for _, d := range res.Services {
		services[d.Service] = d
	}
	var servers map[string]*evaluator.Decision
	if len(res.Servers) > 0 || res.Guardrail != nil {
		servers = make(map[string]*evaluator.Decision, len(res.Servers))
		for _, d := range res.Servers {
			servers[d.Server] = d
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.services, v.servers, v.fleet = services, servers, servers != nil
	v.def = nil
	if len(res.Services) > 0 {
		v.def = res.Services[0]
	}
}

// Run reads every HAProxy until ctx ends, each on its own goroutine: a
// slow or failing socket delays no other and never the evaluation loop.
func (v *View) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, h := range v.haps {
		wg.Go(func() { v.watch(ctx, h) })
	}
	wg.Wait()
}

// watch reads one HAProxy every interval; after a failure it waits twice
// as long each time, up to a minute.
func (v *View) watch(ctx context.Context, h *hap) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		interval := v.opts.Interval()
		rctx, cancel := context.WithTimeout(ctx, max(interval, time.Second))
		servers, err := ReadServers(rctx, h.client)
		cancel()
		if ctx.Err() != nil {
			return
		}
		wait := v.update(h, servers, err)
		timer.Reset(min(interval*time.Duration(wait), maxBackoff))
	}
}

// update records one read of h and compares it with the latest
// decisions. It returns how many intervals to wait before the next read.
func (v *View) update(h *hap, servers []Server, err error) (intervals int) {
	now := v.opts.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	if err != nil {
		if h.failures == 0 {
			v.opts.Logger.Warn("cannot read haproxy's runtime api; retrying with backoff", "haproxy", h.addr, "err", err)
		}
		h.failures++
		h.status.Up, h.status.Error = false, err.Error()
		return 1 << min(h.failures, 6)
	}
	if h.failures > 0 {
		v.opts.Logger.Info("haproxy's runtime api answers again", "haproxy", h.addr, "failures", h.failures)
	}
	h.failures = 0
	h.all = servers
	h.status = HAProxyStatus{Address: h.addr, Up: true, ReadAt: now, Servers: v.compare(h, now, servers)}
	return 1
}

// compare builds the server views of one read, with drift.
func (v *View) compare(h *hap, now time.Time, servers []Server) []ServerView {
	views := make([]ServerView, 0, len(servers))
	seen := make(map[serverKey]bool, len(servers))
	for i := range servers {
		s := &servers[i]
		d := v.target(s)
		if d == nil {
			continue
		}
		sv := ServerView{Server: *s, Target: d.Server, Reply: d.Reply}
		if sv.Target == "" {
			sv.Target = d.Service
		}
		k := serverKey{s.Proxy, s.Server}
		seen[k] = true
		e := expect(d, s)
		m := h.mismatch[k]
		if e.matches(s) {
			if m != nil && m.drifting {
				v.opts.Logger.Info("haproxy follows the agent's reply again", "haproxy", h.addr, "proxy", s.Proxy, "server", s.Server)
			}
			delete(h.mismatch, k)
			views = append(views, sv)
			continue
		}
		if m == nil || m.want != e {
			// A new decision gets HAProxy's time to apply it afresh.
			m = &mismatch{want: e, since: now}
			h.mismatch[k] = m
		}
		after := v.opts.DriftAfter
		if s.AgentInter > 0 {
			after = 2 * s.AgentInter
		}
		if now.Sub(m.since) > after {
			sv.Drift, sv.DriftSince, sv.Cause = true, m.since, cause(e, s, v.opts.Port)
			if !m.drifting {
				m.drifting = true
				v.opts.Logger.Warn("haproxy holds another state than the agent's reply", "haproxy", h.addr, "proxy", s.Proxy, "server", s.Server,
					"target", sv.Target, "want", e.String(), "status", s.Status, "weight", s.Weight, "agent_status", s.AgentStatus, "cause", sv.Cause)
			}
		}
		views = append(views, sv)
	}
	for k := range h.mismatch {
		if !seen[k] {
			delete(h.mismatch, k)
		}
	}
	return views
}

// target is the decision that applies to s: in fleet mode the server's of
// its name; otherwise the service named like the server or its backend,
// else, for a file without services, the default service when s polls
// this agent's port.
func (v *View) target(s *Server) *evaluator.Decision {
	if v.fleet {
		return v.servers[s.Server]
	}
	if d := v.services[s.Server]; d != nil {
		return d
	}
	if d := v.services[s.Proxy]; d != nil {
		return d
	}
	// With services, a server named after none polls for a service the
	// Runtime API does not show (its agent-send): no guess.
	if len(v.services) == 1 && s.AgentCheck && s.AgentPort == v.opts.Port {
		return v.def
	}
	return nil
}

// Servers returns the names of backend's servers, over every HAProxy as
// last read, sorted and without repeats.
func (v *View) Servers(backend string) []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	seen := map[string]bool{}
	var names []string
	for _, h := range v.haps {
		for _, s := range h.all {
			if s.Proxy == backend && !seen[s.Server] {
				seen[s.Server] = true
				names = append(names, s.Server)
			}
		}
	}
	slices.Sort(names)
	return names
}

// Outside returns the targets (fleet servers) that some HAProxy, as last
// read, shows out of rotation (DOWN, DRAIN or MAINT), for whatever cause.
func (v *View) Outside() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var names []string
	for _, h := range v.haps {
		for _, s := range h.status.Servers {
			switch s.state() {
			case "DOWN", "DRAIN", "MAINT":
				names = append(names, s.Target)
			}
		}
	}
	return names
}

// Status returns each HAProxy as last read, in the order of the options.
func (v *View) Status() []HAProxyStatus {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]HAProxyStatus, len(v.haps))
	for i, h := range v.haps {
		out[i] = h.status
	}
	return out
}
