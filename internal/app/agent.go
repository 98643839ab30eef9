package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/clock"
	"github.com/haproxy-agent/agent/internal/collect"
	"github.com/haproxy-agent/agent/internal/fileio"
	"github.com/haproxy-agent/agent/internal/haproxypush"
	"github.com/haproxy-agent/agent/internal/haproxyview"
	"github.com/haproxy-agent/agent/internal/override"
	"github.com/haproxy-agent/agent/internal/replica"
	"github.com/haproxy-agent/agent/internal/responder"
	"github.com/haproxy-agent/agent/internal/statuspage"
	"github.com/haproxy-agent/agent/rules"
)

// agent is one running `agent serve`.
type agent struct {
	o         Options
	log       *slog.Logger
	resp      *responder.Server
	clock     clock.Clock
	overrides *override.Store
	metrics   *metrics

	// reloading serializes loads, whatever asked for them: a one-slot
	// semaphore rather than a mutex, so that a reload waiting for another
	// gives up when its context ends (shutdown, a client gone).
	reloading chan struct{}
	// loaded is the rule set serving now; the loop reads it, reload
	// replaces it after the loop has taken it over.
	loaded atomic.Pointer[ruleSet]
	// swaps hands a freshly loaded rule set to the loop.
	swaps chan swap
	// kicks asks the loop to evaluate again at once, over the last values
	// read; it closes the channel sent once the result is published.
	kicks chan chan struct{}
	// status is the latest published evaluation, for /status and /metrics.
	status atomic.Pointer[Status]
	// statusJSON is /status encoded, shared by its readers.
	statusJSON statusCache
	// reloadState is the outcome of the last load.
	reloadState atomic.Pointer[ReloadStatus]
	// history keeps the status page's charts and reply changes.
	history *statuspage.History
	// view reads what HAProxy made of the replies, and pusher applies a
	// push-mode fleet's decisions; both nil without --haproxy.runtime-api.
	view   *haproxyview.View
	pusher *haproxypush.Pusher
	// group is the etcd replica group, nil without one; groupChanged
	// asks the loop to evaluate again when its gate changes.
	group        *replica.Group
	groupChanged chan struct{}
	// lastGate is the group's gate the last evaluation ran under.
	lastGate *replica.Gate

	// Owned by the loop goroutine (and by Run before the loop starts).
	eval     *evaluator.Evaluator
	lastSnap *collect.Result
	replies  map[string]string
	// changes are the reply changes of the evaluation being published,
	// from stateRecorder to statusPublisher.
	changes []statuspage.Change
	// polls publishes the replies to the responder; publishers are all
	// that each evaluation is handed to, in order: the state file, the
	// poll table, then the rest (see agent.publish).
	polls      *pollTable
	publishers []Publisher
	// took is how long the cycle being published took.
	took cycleTook
	// outBy is, in fleet mode, why HAProxy may hold each server out, as
	// last recorded in the state file.
	outBy    map[string]string
	sourceUp map[string]bool
	stale    map[string]bool // metrics logged as stale
	// guardrailHeld is how many servers the guardrail held last cycle.
	guardrailHeld int
	// discoveryRefused is whether the last cycle refused discovery's list.
	discoveryRefused bool
}

// cycleTook is how long one cycle took to read the sources and to run
// the rules.
type cycleTook struct{ collect, evaluate time.Duration }

// ruleSet is everything built from one version of the rule file: all of it
// is made before anything is swapped, so a failed load changes nothing.
type ruleSet struct {
	file *rules.File
	coll *collect.Collector
}

// swap is a rule set handed to the loop; done is closed once it serves.
// why and name are what the loop logs when it takes it over, before the
// first evaluation by the new rules (and the reply changes they cause).
type swap struct {
	rs        *ruleSet
	why, name string
	done      chan struct{}
}

func newAgent(o Options) (*agent, error) {
	if o.Clock == nil {
		o.Clock = clock.Wall()
	}
	a := &agent{
		o:            o,
		log:          o.Logger,
		swaps:        make(chan swap),
		reloading:    make(chan struct{}, 1),
		kicks:        make(chan chan struct{}),
		replies:      map[string]string{},
		clock:        o.Clock,
		outBy:        map[string]string{},
		sourceUp:     map[string]bool{},
		stale:        map[string]bool{},
		groupChanged: make(chan struct{}, 1),
	}
	a.resp = newResponder(o)
	a.polls = newPollTable(a.resp)
	a.publishers = append([]Publisher{stateRecorder{a}, a.polls, statusPublisher{a}}, o.Publishers...)
	a.metrics = newMetrics(a, o.Registry)
	data, name, err := a.read()
	if err != nil {
		return nil, err
	}
	rs, err := a.build(data, name)
	if err != nil {
		a.logLoadError(err)
		return nil, fmt.Errorf("load %s: %w", name, err)
	}
	a.loaded.Store(rs)
	a.eval = evaluator.New(rs.file)
	// Polls are answered from what the loop publishes: a fleet server is
	// back in rotation only once HAProxy was answered its restore. A
	// replica of an etcd group sees only the polls that reach it (HAProxy
	// may send a server's polls to another replica for good); there the
	// group's leader waits instead, for every replica to answer by the
	// out-set and twice the interval more, before it reuses a place.
	if len(o.Etcd.Endpoints) == 0 {
		a.eval.AwaitPolls()
	}
	a.history = statuspage.NewHistory(rs.file.Interval)
	a.setReloaded(rs.file, nil)
	if len(o.HAProxyRuntimeAPI) > 0 {
		if a.view, err = newView(a, o); err != nil {
			return nil, err
		}
		if a.pusher, err = haproxypush.New(haproxypush.Options{
			Addresses: o.HAProxyRuntimeAPI,
			Backend:   func() string { return pushBackend(a.current().file) },
			Interval:  func() time.Duration { return a.current().file.Interval },
			Logger:    o.Logger.With("component", "haproxypush"),
		}); err != nil {
			return nil, err
		}
		// Both only take the decisions here; they read and push on
		// goroutines of their own.
		a.publishers = append(a.publishers, a.view, a.pusher)
	}
	return a, nil
}

// pushBackend is the backend f's fleet pushes to, "" when it does not.
func pushBackend(f *rules.File) string {
	if f.Fleet == nil {
		return ""
	}
	return f.Fleet.PushBackend
}

// newView builds the reader of HAProxy's view from the options.
func newView(a *agent, o Options) (*haproxyview.View, error) {
	_, port, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("agent port (--listen) %q: %w", o.Listen, err)
	}
	n, _ := strconv.Atoi(port)
	v, err := haproxyview.New(haproxyview.Options{
		Addresses:  o.HAProxyRuntimeAPI,
		Port:       n,
		DriftAfter: o.HAProxyDriftAfter,
		Interval:   func() time.Duration { return a.current().file.Interval },
		Logger:     o.Logger.With("component", "haproxyview"),
	})
	if err != nil {
		return nil, fmt.Errorf("--haproxy.runtime-api: %w", err)
	}
	o.Registry.MustRegister(v)
	return v, nil
}

func (a *agent) current() *ruleSet { return a.loaded.Load() }

// knownService says whether the serving rule file has the service, for
// validating overrides.
func (a *agent) knownService(name string) bool {
	if a.current().file.Fleet != nil {
		if st := a.status.Load(); st != nil {
			for _, d := range st.Servers {
				if d.Server == name {
					return true
				}
			}
		}
	}
	return a.current().file.Service(name) != nil
}

// read returns the rule file's bytes and the name to show in messages,
// read as every command reads a rule file (rules.ReadFile: bounded, a
// regular file only, never blocking). Bytes returned with an error are
// the refused prefix of an oversized file, for hashing.
func (a *agent) read() ([]byte, string, error) {
	if a.o.RulesPath == "" {
		return a.o.DefaultRules, a.o.DefaultName, nil
	}
	data, err := rules.ReadFile(a.o.RulesPath)
	return data, a.o.RulesPath, err
}

// build does all the fallible work of a load: parse, compile, readers.
func (a *agent) build(data []byte, name string) (*ruleSet, error) {
	f, err := rules.Parse(data, name)
	if err != nil {
		return nil, err
	}
	if fl := f.Fleet; fl != nil && (fl.PushBackend != "" || fl.HAProxyBackend != "" || fl.CountsAll) && len(a.o.HAProxyRuntimeAPI) == 0 {
		return nil, fmt.Errorf("%s: fleet.push, fleet.servers.haproxy and fleet.guardrail_counts: all need serve's --haproxy.runtime-api", name)
	}
	coll, err := collect.New(f, a.o.NewReader)
	if err != nil {
		return nil, err
	}
	return &ruleSet{file: f, coll: coll}, nil
}

// reload loads the rule file again and, if it loads, hands it to the loop
// and waits until it serves. A file that fails to load leaves the old rules
// serving; every error is logged with its position and returned. The hash
// is that of the bytes read, loaded or not (fileio.Hash, as the watcher
// computes it), and "" when nothing could be read. Every wait ends with
// ctx, so that a reload never holds up shutdown.
func (a *agent) reload(ctx context.Context, why string) (hash string, err error) {
	select {
	case a.reloading <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-a.reloading }()
	data, name, err := a.read()
	if data != nil {
		hash = fileio.Hash(data)
	}
	if err != nil {
		a.failReload(why, err)
		return hash, err
	}
	if hash == a.current().file.Hash {
		a.log.Info("rule file unchanged, not reloading", "trigger", why, "file", name, "hash", hash[:12])
		a.setReloaded(a.current().file, nil)
		return hash, nil
	}
	rs, err := a.build(data, name)
	if err != nil {
		a.failReload(why, err)
		return hash, err
	}
	done := make(chan struct{})
	select {
	case a.swaps <- swap{rs: rs, why: why, name: name, done: done}:
	case <-ctx.Done():
		rs.coll.Close()
		return hash, ctx.Err()
	}
	select {
	case <-done:
	case <-ctx.Done():
		return hash, ctx.Err()
	}
	a.setReloaded(rs.file, nil)
	return hash, nil
}

func (a *agent) failReload(why string, err error) {
	a.log.Error("rule file reload failed, the previous rules keep serving", "trigger", why, "file", a.o.RulesPath)
	a.logLoadError(err)
	a.setReloaded(nil, err)
}

func (a *agent) logLoadError(err error) {
	var errs rules.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			a.log.Error("rule file error", "err", e.Error())
		}
		return
	}
	a.log.Error("rule file error", "err", err)
}

// setReloaded records the outcome of a load for /status and /metrics.
func (a *agent) setReloaded(f *rules.File, err error) {
	st := &ReloadStatus{Time: a.clock.Now()}
	if prev := a.reloadState.Load(); prev != nil {
		*st = *prev
		st.Time = a.clock.Now()
	}
	if err != nil {
		st.Success = false
		st.Errors = errorLines(err)
	} else {
		st.Success = true
		st.Errors = nil
		st.SuccessTime = st.Time
		st.Hash = f.Hash
	}
	a.reloadState.Store(st)
}

func errorLines(err error) []string {
	var errs rules.Errors
	if errors.As(err, &errs) {
		out := make([]string, len(errs))
		for i, e := range errs {
			out[i] = e.Error()
		}
		return out
	}
	return []string{err.Error()}
}
