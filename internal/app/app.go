// Package app runs `agent serve`: it loads the rule file, evaluates it on a
// ticker, publishes each decision to the agent-port responder, reloads the
// rule file when it changes, and serves /metrics, /status and /healthz.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"

	toolkitweb "github.com/prometheus/exporter-toolkit/web"

	"github.com/haproxy-agent/agent/internal/clock"
	"github.com/haproxy-agent/agent/internal/override"
	"github.com/haproxy-agent/agent/internal/replica"
	"github.com/haproxy-agent/agent/internal/responder"
	"github.com/haproxy-agent/agent/internal/sample"
	"golang.org/x/sync/errgroup"
)

// Defaults of Options, which serve's flags show: a zero field takes the
// default. The agent port's own (poll read timeout, connection cap) are
// the responder's, and the reload debounce the watcher's.
const (
	DefaultListen               = ":9999"
	DefaultWebListen            = ":9898"
	DefaultWebMaxConnections    = 64
	DefaultWebIdleTimeout       = 30 * time.Second
	DefaultWebReadHeaderTimeout = 5 * time.Second
)

// Options configure Run.
type Options struct {
	// RulesPath is the rule file. Empty runs DefaultRules, which is not
	// watched for changes.
	RulesPath    string
	DefaultRules []byte
	DefaultName  string

	// Listen is the agent port's address (default DefaultListen).
	Listen string
	// WebListen is the HTTP address of /metrics, /status, /healthz
	// (default DefaultWebListen).
	WebListen string
	// EnableLifecycle mounts the mutating endpoints: POST /-/reload and
	// the overrides API.
	EnableLifecycle bool
	// WebConfigFile is an exporter-toolkit web configuration (TLS, basic
	// auth) applied to every HTTP endpoint; empty serves plain HTTP.
	WebConfigFile string
	// WebMaxConnections caps the web port's open connections (default
	// 64), so that idle or slow HTTP clients cannot use up the process's
	// file descriptors and starve the agent port. Connections past it wait
	// in the kernel's accept queue.
	WebMaxConnections int
	// WebIdleTimeout closes idle keep-alive connections (default 30s);
	// WebReadHeaderTimeout bounds reading a request's headers, and a TLS
	// handshake (default 5s).
	WebIdleTimeout       time.Duration
	WebReadHeaderTimeout time.Duration
	// StateFile persists operator overrides; empty keeps them in memory.
	StateFile string
	// Etcd, when it names endpoints, makes the agent a replica of a group
	// sharing overrides and the fleet guardrail's out-set through etcd.
	// Its callbacks and ID are the agent's own.
	Etcd replica.Options

	// Responder tunes the agent port (read and write deadlines, the
	// connection cap, the allow-list).
	PollReadTimeout time.Duration
	MaxConnections  int
	Allow           []netip.Prefix

	// ReloadDebounce is how long a burst of file events is collapsed
	// (zero: reload.DefaultDebounce).
	ReloadDebounce time.Duration
	// ReloadRecheck is the period of the watcher's fallback check of the
	// rule file (reload.Options.Recheck): zero is the default, negative
	// turns it off.
	ReloadRecheck time.Duration

	// Clock is where the loop takes the time of each evaluation and its
	// ticker from; nil is the wall clock. Durations (how long a cycle took)
	// are always measured on the wall clock.
	Clock clock.Clock
	// Publishers receive each evaluation's result after the agent's own
	// (the poll table, then the state file, /status, /metrics and the
	// status page).
	Publishers []Publisher

	// NewReader builds the reader of each source.
	NewReader sample.NewReaderFunc
	// Reload delivers reload requests (SIGHUP).
	Reload <-chan struct{}
	Logger *slog.Logger
	// Registry receives the agent's metrics; nil makes a new one.
	Registry *prometheus.Registry
	// HAProxyRuntimeAPI are the Runtime API addresses of the HAProxys
	// that poll this agent: each is read every interval, off the loop, to
	// show HAProxy's view of each server and report drift.
	HAProxyRuntimeAPI []string
	// HAProxyDriftAfter is how long HAProxy may disagree with a reply
	// before it is drift when HAProxy does not show agent-inter (zero:
	// haproxyview.DefaultDriftAfter).
	HAProxyDriftAfter time.Duration

	// Started, if set, is called with the bound addresses once both
	// listeners accept connections.
	Started func(poll, web net.Addr)
}

// Run serves until ctx is cancelled, then shuts down gracefully: polls in
// flight are answered. It returns an error when the rule file cannot be
// loaded at start or a listener cannot be opened.
func Run(ctx context.Context, o Options) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
		o.Registry.MustRegister(
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			versioncollector.NewCollector("haproxy_agent"),
		)
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.WebListen == "" {
		o.WebListen = DefaultWebListen
	}
	if o.WebMaxConnections <= 0 {
		o.WebMaxConnections = DefaultWebMaxConnections
	}
	if o.WebIdleTimeout <= 0 {
		o.WebIdleTimeout = DefaultWebIdleTimeout
	}
	if o.WebReadHeaderTimeout <= 0 {
		o.WebReadHeaderTimeout = DefaultWebReadHeaderTimeout
	}
	if o.WebConfigFile != "" {
		if err := toolkitweb.Validate(o.WebConfigFile); err != nil {
			return fmt.Errorf("web config file %s: %w", o.WebConfigFile, err)
		}
	}

	a, err := newAgent(o)
	if err != nil {
		return err
	}
	// The loop has stopped by the time this runs: the serving rule set is
	// the last one.
	defer func() { a.current().coll.Close() }()

	store, err := override.Open(o.StateFile, o.Logger.With("component", "override"), override.Options{
		KnownService: a.knownService,
	})
	if err != nil {
		return fmt.Errorf("open state file: %w", err)
	}
	defer store.Close()
	a.overrides = store
	// What the agent last told HAProxy before this start: a plain "up"
	// needs no start-up restore.
	if told, outBy := store.Replies(), store.OutBy(); len(told) > 0 || len(outBy) > 0 {
		a.eval.Resume(told, outBy)
	}

	// Bind both ports first, so that a port in use is the first thing
	// reported, before any evaluation or reply is logged; then evaluate
	// once before answering, so that the first poll (queued in the
	// listen backlog until then) already gets a real answer.
	pollLn, webLn, err := listen(ctx, o)
	if err != nil {
		return err
	}
	if len(o.Etcd.Endpoints) > 0 {
		grp, err := a.joinGroup(store, pollLn.Addr())
		if err != nil {
			pollLn.Close()
			webLn.Close()
			return fmt.Errorf("etcd: %w", err)
		}
		defer grp.Close()
		registerGroupMetrics(o.Registry, grp)
		// Give etcd a moment before the first evaluation, so that a
		// replica starting beside others takes their out-set rather than
		// holding everything in; without etcd it starts fail-static.
		select {
		case <-grp.Synced():
		case <-time.After(groupStartWait):
		case <-ctx.Done():
		}
	}
	a.cycle(ctx)
	f := a.current().file
	o.Logger.Info("serving", "agent_port", pollLn.Addr().String(), "web", webLn.Addr().String(),
		"file", f.Path, "rules", f.RuleCount(), "hash", f.Hash[:12], "lifecycle", o.EnableLifecycle, "poll_allow", responder.AllowList(o.Allow))
	if o.Started != nil {
		o.Started(pollLn.Addr(), webLn.Addr())
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.resp.Serve(gctx, pollLn) })
	g.Go(func() error { return a.serveWeb(gctx, webLn) })
	g.Go(func() error { a.loop(gctx); return nil })
	g.Go(func() error { return a.watch(gctx) })
	if a.view != nil {
		g.Go(func() error { a.view.Run(gctx); return nil })
		g.Go(func() error { a.pusher.Run(gctx); return nil })
	}
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	o.Logger.Info("stopped")
	return err
}

// listen binds the agent port and the web port.
func listen(ctx context.Context, o Options) (poll, web net.Listener, err error) {
	if poll, err = responder.Listen(ctx, o.Listen); err != nil {
		return nil, nil, fmt.Errorf("agent port (--listen): %w", err)
	}
	if web, err = (&net.ListenConfig{}).Listen(ctx, "tcp", o.WebListen); err != nil {
		poll.Close()
		return nil, nil, fmt.Errorf("web port (--web.listen-address): %w", err)
	}
	return poll, web, nil
}

// newResponder builds the agent-port server from the options.
func newResponder(o Options) *responder.Server {
	return responder.New(responder.Options{
		Logger:         o.Logger.With("component", "responder"),
		Registerer:     o.Registry,
		ReadTimeout:    o.PollReadTimeout,
		MaxConnections: o.MaxConnections,
		Allow:          o.Allow,
	})
}
