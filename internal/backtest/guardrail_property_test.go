package backtest

import (
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/rules"
)

// The property test's size: the suite runs a few thousand steps; a long
// run is `go test -run TestGuardrailProperty -guardrail.steps=2000000
// ./internal/backtest` (a few minutes), and -guardrail.seed replays a
// failure.
var (
	propSteps = flag.Int("guardrail.steps", 6000, "steps of the guardrail property test, over runs of propRun steps")
	propSeed  = flag.Uint64("guardrail.seed", 0, "seed of the guardrail property test (0: from the clock)")
)

// propRun is the steps of one run: one history, one fleet of propServers.
const (
	propRun     = 1000
	propServers = 10
)

// propRules is the rule file of the property test: a drain with a for:
// window, a computed weight that reaches 0% (min_weight 0%), and a down,
// over a discovered fleet with a count limit.
const propRules = `interval: 1s
stale_after: 3s
sources:
  prom:
    prometheus: http://127.0.0.1:9
fleet:
  servers:
    source: prom
    query: up{job="web"}
    label: instance
  max_unavailable: %d
  forget_after: 20s
reply:
  min_weight: 0%%
  ramp: %s
metrics:
  queue: prom:queue
  util: prom:util
  errs: prom:errs
rules:
  - name: deep
    when: queue > 500
    then: drain
    for: %ds
  - name: hot
    when: util > 0.5
    weight: 100 * (1 - util)
  - name: broken
    when: errs > 0.9
    then: down
`

// TestGuardrailProperty checks the guardrail's promise against a simulated
// HAProxy, which keeps each server's last reply (an empty line changes
// nothing) and polls at random: at no moment does it hold more than
// max_unavailable servers out because of the rules. The agent reads its
// values through the replay machinery backtests use, from random histories
// where values flap (to exactly 1, weight 0%, too), servers drop out of
// discovery for a while, leave for good (and HAProxy stops polling some of
// them), and new ones come; overrides come and go, and the agent restarts
// from its state file.
func TestGuardrailProperty(t *testing.T) {
	seed := *propSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	runs := max(1, *propSteps/propRun)
	t.Logf("seed %d: %d runs of %d steps (replay with -guardrail.seed=%d)", seed, runs, propRun, seed)
	for run := range runs {
		if t.Failed() {
			return
		}
		s := seed + uint64(run)
		if err := guardrailRun(s); err != nil {
			t.Fatalf("run %d, seed %d (replay: go test -run TestGuardrailProperty -guardrail.seed=%d -guardrail.steps=%d ./internal/backtest): %v",
				run, s, seed, (run+1)*propRun, err)
		}
	}
}

// guardrailRun is one run: it returns the first step at which HAProxy
// held too many servers out because of the rules, with what led there.
func guardrailRun(seed uint64) error {
	rnd := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	limit := rnd.IntN(3) + 1
	ramp := []string{"0s", "3s"}[rnd.IntN(2)]
	f, err := rules.Parse(fmt.Appendf(nil, propRules, limit, ramp, rnd.IntN(3)), "prop.yaml")
	if err != nil {
		return err
	}
	h := newPropHistory(rnd)
	rp, err := h.replayer(f)
	if err != nil {
		return err
	}
	sim := &simHAProxy{servers: map[string]*simServer{}}
	var (
		ev    *evaluator.Evaluator
		told  map[string]string
		outBy map[string]string
		table map[string]evaluator.Decision
		down  int // steps the agent has left before it serves again
		ovs   []evaluator.Override
		trail []propEvent        // what happened, for the failure message
		next  = map[string]int{} // the step of each server's next poll
	)
	start := func() {
		ev = evaluator.New(f)
		ev.AwaitPolls()
		ev.Resume(told, outBy)
	}
	start()
	note := func(ev propEvent) {
		if len(trail) == 40 {
			trail = trail[1:]
		}
		trail = append(trail, ev)
	}
	for k := range rp.Steps() {
		now, servers, snap := rp.Step(k)
		switch {
		case down > 0:
			down--
			if down == 0 {
				start()
				note(propEvent{k: k, what: "agent restarted"})
			}
		case rnd.IntN(150) == 0:
			// The agent stops: HAProxy's polls get no reply (no change).
			down, table = rnd.IntN(3)+1, nil
			note(propEvent{k: k, what: "agent stopped"})
		}
		if rnd.IntN(25) == 0 {
			ovs = h.changeOverrides(rnd, ovs, now)
			note(propEvent{k: k, what: "overrides", ovs: ovs})
		}
		if down == 0 {
			res := ev.EvaluateServers(now, servers, snap, ovs)
			table = make(map[string]evaluator.Decision, len(res.Servers))
			told, outBy = make(map[string]string, len(res.Servers)), map[string]string{}
			for _, d := range res.Servers {
				table[d.Server] = *d
				told[d.Server] = strings.TrimSuffix(d.Reply, "\n")
				if d.OutBy != "" {
					outBy[d.Server] = d.OutBy
				}
			}
			note(propEvent{k: k, what: "evaluated", servers: servers, outBy: outBy, held: res.Guardrail.Held})
		}
		// HAProxy polls each server it has, each at its own agent-inter
		// (1 to 10 steps, give or take one: always well within
		// forget_after), in random order, between this evaluation and the
		// next.
		for _, name := range rnd.Perm(len(h.names)) {
			srv := h.names[name]
			if !h.polls(srv, k) || next[srv] > k {
				continue
			}
			next[srv] = k + max(1, h.inter[srv]+rnd.IntN(3)-1)
			at := now.Add(time.Duration(rnd.IntN(1000)) * time.Millisecond)
			d, ok := table[srv]
			if !ok {
				continue // no reply, or an empty line: no change
			}
			sim.server(srv).apply(d.Reply, lineCause(&d))
			ev.Polled(at, srv)
			if n, who := sim.rulesOut(h, k); n > limit {
				var b strings.Builder
				for _, ev := range trail {
					ev.write(&b)
				}
				return fmt.Errorf("step %d: HAProxy holds %d servers out because of the rules (%v), max_unavailable %d; %s was just told %q; HAProxy holds out %v. Before:\n%s",
					k, n, who, limit, srv, strings.TrimSuffix(d.Reply, "\n"), sim.outList(h, k), b.String())
			}
		}
	}
	return nil
}

// propEvent is one step of a run's trail, written out on failure.
type propEvent struct {
	k       int
	what    string
	servers []string
	outBy   map[string]string
	held    []string
	ovs     []evaluator.Override
}

func (ev propEvent) write(b *strings.Builder) {
	switch ev.what {
	case "evaluated":
		fmt.Fprintf(b, "%d: listed %v, out %v, held %v\n", ev.k, ev.servers, ev.outBy, ev.held)
	case "overrides":
		fmt.Fprintf(b, "%d: overrides %v\n", ev.k, overrideList(ev.ovs))
	default:
		fmt.Fprintf(b, "%d: %s\n", ev.k, ev.what)
	}
}

// lineCause is why a reply takes its server out: an override in force
// that takes it out, or else the rules.
func lineCause(d *evaluator.Decision) string {
	for _, o := range d.Overrides {
		if o.Action.Out() {
			return evaluator.OutByOverride
		}
	}
	return evaluator.OutByRules
}

func overrideList(ovs []evaluator.Override) []string {
	var out []string
	for _, o := range ovs {
		out = append(out, o.Service+":"+o.Action.String())
	}
	return out
}

// propHistory is a run's random history: the metric values of every
// server, and when discovery lists it and HAProxy polls it.
type propHistory struct {
	rng   Range
	names []string
	// listed[srv][k] is whether discovery lists srv at step k; gone[srv]
	// the step from which HAProxy no longer has srv (-1: never).
	listed map[string][]bool
	born   map[string]int
	gone   map[string]int
	// inter is how many steps apart, on average, HAProxy polls a server.
	inter map[string]int
	vals  map[string]map[string][]float64 // metric → server → value by step (NaN: no sample)
}

var propBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newPropHistory(rnd *rand.Rand) *propHistory {
	r, err := NewRange(propBase, propBase.Add(propRun*time.Second), time.Second)
	if err != nil {
		panic(err)
	}
	h := &propHistory{rng: r, listed: map[string][]bool{}, born: map[string]int{}, gone: map[string]int{}, inter: map[string]int{}, vals: map[string]map[string][]float64{}}
	// The servers: propServers from the start, and others coming in, some
	// of the first ones leaving for good.
	for i := range propServers + 4 {
		name := "web" + strconv.Itoa(i)
		born, end := 0, propRun
		if i >= propServers {
			born = rnd.IntN(propRun)
		}
		if rnd.IntN(3) == 0 {
			end = born + rnd.IntN(propRun-born+1)
		}
		h.names = append(h.names, name)
		h.born[name] = born
		h.inter[name] = []int{1, 2, 2, 5, 10}[rnd.IntN(5)]
		h.gone[name] = -1
		if end < propRun && rnd.IntN(2) == 0 {
			// HAProxy's configuration loses it too, a little later.
			h.gone[name] = min(propRun, end+rnd.IntN(10))
		}
		listed := make([]bool, propRun)
		for k := born; k < end; k++ {
			listed[k] = true
		}
		// Dropouts: discovery misses it for a few steps.
		for range rnd.IntN(6) {
			at := rnd.IntN(propRun)
			for k := at; k < min(propRun, at+1+rnd.IntN(6)); k++ {
				listed[k] = false
			}
		}
		h.listed[name] = listed
	}
	// Values flap between calm and bad, each server and metric on its own
	// rhythm; a sample goes missing now and then.
	for _, m := range []string{"queue", "util", "errs"} {
		h.vals[m] = map[string][]float64{}
		for _, name := range h.names {
			vs := make([]float64, propRun)
			bad := false
			for k := range vs {
				if rnd.IntN(8) == 0 {
					bad = !bad
				}
				switch {
				case rnd.IntN(30) == 0:
					vs[k] = -1 // no sample
				case m == "queue" && bad:
					vs[k] = 900
				case m == "queue":
					vs[k] = 10
				case m == "util" && bad:
					vs[k] = []float64{0.7, 0.996, 1}[rnd.IntN(3)]
				case m == "util":
					vs[k] = 0.2
				case m == "errs" && bad && rnd.IntN(4) == 0:
					vs[k] = 1
				default:
					vs[k] = 0
				}
			}
			h.vals[m][name] = vs
		}
	}
	return h
}

// polls reports whether HAProxy has srv at step k.
func (h *propHistory) polls(srv string, k int) bool {
	return k >= h.born[srv] && (h.gone[srv] < 0 || k < h.gone[srv])
}

// replayer returns a Replayer of f over the history, as if Prometheus had
// answered its range queries with it.
func (h *propHistory) replayer(f *rules.File) (*Replayer, error) {
	p, err := NewPlan(f, nil)
	if err != nil {
		return nil, err
	}
	fe := &Fetcher{Range: h.rng, got: map[string]*History{}}
	for _, q := range p.Queries() {
		hist := newHistory(h.rng)
		var m model.Matrix
		for _, name := range h.names {
			ss := &model.SampleStream{Metric: model.Metric{"instance": model.LabelValue(name)}}
			for k := range propRun {
				v := 1.0
				switch q.Expr {
				case `up{job="web"}`:
					if !h.listed[name][k] {
						continue
					}
				default:
					if v = h.vals[q.Expr][name][k]; v < 0 {
						continue
					}
				}
				ss.Values = append(ss.Values, model.SamplePair{Timestamp: stamp(h.rng.At(k)), Value: model.SampleValue(v)})
			}
			m = append(m, ss)
		}
		hist.add(m)
		fe.got[q.key()] = hist
	}
	return NewReplayer(p, fe)
}

// changeOverrides adds or removes one override: on one server or, now and
// then, on every server; taking it out or not.
func (h *propHistory) changeOverrides(rnd *rand.Rand, ovs []evaluator.Override, now time.Time) []evaluator.Override {
	if len(ovs) > 0 && rnd.IntN(2) == 0 {
		i := rnd.IntN(len(ovs))
		return append(ovs[:i:i], ovs[i+1:]...)
	}
	actions := []string{"maint", "drain", "weight 0%", "up, ready", "weight 50%", "down"}
	a, err := rules.ParseAction(actions[rnd.IntN(len(actions))])
	if err != nil {
		panic(err)
	}
	svc := h.names[rnd.IntN(len(h.names))]
	if rnd.IntN(10) == 0 {
		svc = ""
	}
	o := evaluator.Override{ID: strconv.Itoa(rnd.Int()), Service: svc, Action: a, Reason: "op", Created: now}
	return append(append([]evaluator.Override{}, ovs...), o)
}

// simHAProxy keeps, per server, the state its agent replies left: HAProxy
// applies each part a reply carries and keeps the others; an empty line
// changes nothing.
type simHAProxy struct {
	servers map[string]*simServer
}

type simServer struct {
	down   bool
	admin  string
	weight int
	// why is the cause of the last reply that took it out (lineCause).
	why string
}

func (s *simHAProxy) server(name string) *simServer {
	srv := s.servers[name]
	if srv == nil {
		srv = &simServer{admin: "ready", weight: 100}
		s.servers[name] = srv
	}
	return srv
}

// apply takes one reply line, as HAProxy's agent check does.
func (s *simServer) apply(line, why string) {
	line, _, _ = strings.Cut(strings.TrimSuffix(line, "\n"), "#")
	for _, w := range strings.Fields(line) {
		switch {
		case w == "up":
			s.down = false
		case w == "down" || w == "fail" || w == "stopped":
			s.down = true
		case w == "ready" || w == "drain" || w == "maint":
			s.admin = w
		case strings.HasSuffix(w, "%"):
			if n, err := strconv.Atoi(strings.TrimSuffix(w, "%")); err == nil {
				s.weight = n
			}
		}
	}
	if s.out() {
		s.why = why
	}
}

func (s *simServer) out() bool {
	return s.down || s.admin == "drain" || s.admin == "maint" || s.weight == 0
}

// rulesOut counts the servers HAProxy has at step k that it holds out
// because of the agent's rules.
func (s *simHAProxy) rulesOut(h *propHistory, k int) (int, []string) {
	var who []string
	for _, name := range sortedKeys(s.servers) {
		srv := s.servers[name]
		if h.polls(name, k) && srv.out() && srv.why == evaluator.OutByRules {
			who = append(who, name)
		}
	}
	return len(who), who
}

// outList names the servers HAProxy has at step k that it holds out, and why.
func (s *simHAProxy) outList(h *propHistory, k int) []string {
	var who []string
	for _, name := range sortedKeys(s.servers) {
		if srv := s.servers[name]; h.polls(name, k) && srv.out() {
			who = append(who, name+":"+srv.why)
		}
	}
	return who
}

func sortedKeys(m map[string]*simServer) []string {
	keys := make([]string, 0, len(m))
	for k := range maps.Keys(m) {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
