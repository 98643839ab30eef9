package evaluator

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/haproxy-agent/agent/rules"
)

// fleetServer is the state one fleet server carries between evaluations:
// what one agent in per-host mode keeps for its default service, one per
// server.
type fleetServer struct {
	name string
	// states[r] is the state of rule r of the default service, and reply
	// the state of its reply (phase, restore window, ramp): what one
	// agent keeps for its default service, one per server.
	states []ruleState
	reply  replyState
	// saved is reply as it was before this evaluation, for a decision
	// made again under the guardrail.
	saved replyState
	// vals and missing are the server's metric values by index; env is
	// its expression environment, where a value is boxed again only when
	// it changes.
	vals    []float64
	missing []string
	env     map[string]any
	// gen is the evaluation that last listed the server; seen its time.
	gen  uint64
	seen time.Time
	// out is whether the last decision took the server out of rotation.
	out bool
	// wantSince is since when the rules have wanted the server out,
	// without a break; zero when they do not.
	wantSince time.Time
	// last is the last decision, kept for a server no longer listed.
	last *Decision
}

func (e *Evaluator) newServer(name string) *fleetServer {
	n := len(e.file.Metrics)
	srv := &fleetServer{
		name:    name,
		states:  make([]ruleState, len(e.file.Services[0].Rules)),
		reply:   newReplyState(),
		vals:    make([]float64, n),
		missing: make([]string, n),
		env:     make(map[string]any, n),
	}
	for j := range srv.states {
		srv.states[j] = ruleState{state: Inactive, weight: rules.Unset}
	}
	if line, ok := e.told[name]; ok {
		srv.reply.resume(line)
		// A server HAProxy was told to take out before a restart keeps
		// its place under the guardrail.
		srv.out = srv.reply.out
	}
	for i, m := range e.file.Metrics {
		srv.vals[i] = math.NaN()
		srv.env[m.Name] = math.NaN()
	}
	return srv
}

// serverValues sets the server's values: its own sample of every metric
// whose query returned a vector by server, the shared value of the others,
// in its own expression environment.
func (e *Evaluator) serverValues(srv *fleetServer, vecs []*Sample) {
	for i, m := range e.file.Metrics {
		v, missing := e.last[i], e.missing[i]
		if s := vecs[i]; s != nil {
			var ok bool
			missing = ""
			if v, ok = s.Servers[srv.name]; !ok {
				v = math.NaN()
				if missing = s.ServerMissing[srv.name]; missing == "" {
					missing = e.noSample[i]
				}
			} else if math.IsNaN(v) {
				missing = "value is NaN"
			}
		}
		srv.missing[i] = missing
		if missing != "" {
			v = math.NaN()
		}
		if v != srv.vals[i] && !(math.IsNaN(v) && math.IsNaN(srv.vals[i])) {
			srv.vals[i] = v
			srv.env[m.Name] = v
		}
	}
}

// evaluateFleet runs the default service's rules once per server, then the
// guardrail. e.load has run.
func (e *Evaluator) evaluateFleet(now time.Time, servers []string, snap Snapshot, overrides []Override) *Result {
	fl := e.file.Fleet
	svc := e.file.Services[0]
	if e.fleet == nil {
		e.fleet = make(map[string]*fleetServer, len(servers))
	}
	vecs := make([]*Sample, len(e.file.Metrics))
	for i, m := range e.file.Metrics {
		if s, ok := snap[m.Name]; ok && s.Servers != nil && s.Missing == "" {
			vecs[i] = &s
		}
	}
	e.gen++
	nr := len(svc.Rules)
	decisions := make([]Decision, len(servers))
	results := make([]RuleResult, len(servers)*nr)
	values := make([]Value, 0, len(servers)*e.valueCap)
	listed := make([]*fleetServer, 0, len(servers))
	res := &Result{Time: now, Services: []*Decision{}, Servers: make([]*Decision, 0, len(servers))}
	forced := 0 // servers out because an override says so
	var candidates []*fleetServer
	for k, name := range servers {
		srv := e.fleet[name]
		if srv == nil {
			srv = e.newServer(name)
			e.fleet[name] = srv
		}
		if srv.gen == e.gen {
			continue // listed twice
		}
		srv.gen, srv.seen = e.gen, now
		e.serverValues(srv, vecs)
		d := &decisions[k]
		d.Service, d.Server, d.prev = svc.Name, name, srv.last
		d.Rules = results[k*nr : (k+1)*nr : (k+1)*nr]
		e.env = srv.env
		values = e.evalService(now, 0, srv.states, d, values, srv.vals, srv.missing)
		srv.saved = srv.reply
		overrideOut := e.decide(now, svc, d, overrides, &srv.reply, name, "")
		switch {
		case overrideOut:
			forced++
			srv.wantSince = time.Time{}
		case d.Out():
			if srv.wantSince.IsZero() {
				srv.wantSince = now
			}
			candidates = append(candidates, srv)
		default:
			srv.wantSince = time.Time{}
		}
		srv.last = d
		listed = append(listed, srv)
		res.Servers = append(res.Servers, d)
	}
	e.env = e.sharedEnv
	// Servers no longer listed keep their last decision until stale_after.
	for name, srv := range e.fleet {
		if srv.gen == e.gen {
			continue
		}
		if srv.last == nil || now.Sub(srv.seen) > e.file.StaleAfter {
			delete(e.fleet, name)
			continue
		}
		d := *srv.last
		d.Stale = true
		if d.Out() {
			forced++
		}
		res.Servers = append(res.Servers, &d)
	}

	total := len(res.Servers)
	g := &Guardrail{MaxUnavailable: fl.MaxUnavailable.String(), Allowed: fl.MaxUnavailable.Allowed(total), Servers: total, Held: []string{}}
	budget := max(0, g.Allowed-forced)
	if len(candidates) > budget {
		// Those already out keep their place, then the earliest to want
		// out, then by name: replicas given the same data agree.
		slices.SortFunc(candidates, func(a, b *fleetServer) int {
			if a.out != b.out {
				if a.out {
					return -1
				}
				return 1
			}
			if c := a.wantSince.Compare(b.wantSince); c != 0 {
				return c
			}
			return strings.Compare(a.name, b.name)
		})
		held := candidates[budget:]
		hold := "held by guardrail (" + strconv.Itoa(forced+budget) + " of " + strconv.Itoa(total) + " out)"
		for _, srv := range held {
			d := srv.last
			srv.reply = srv.saved
			e.decide(now, svc, d, overrides, &srv.reply, srv.name, hold)
			d.Held = true
			g.Held = append(g.Held, srv.name)
		}
		slices.Sort(g.Held)
	}
	for _, srv := range listed {
		srv.out = srv.last.Out()
		srv.last.prev = nil // keep one decision per server alive, not a chain
	}
	for _, d := range res.Servers {
		if d.Out() {
			g.Out++
		}
	}
	res.Guardrail = g
	slices.SortFunc(res.Servers, func(a, b *Decision) int { return strings.Compare(a.Server, b.Server) })
	return res
}

// carryFleet gives n, built for a new rule file, the fleet servers of e
// with the state of every rule whose name and expressions are unchanged.
func (e *Evaluator) carryFleet(n *Evaluator) {
	if e.fleet == nil || n.file.Fleet == nil {
		return
	}
	old := make(map[string]int) // rule key → index in the old default service
	for j, r := range e.file.Services[0].Rules {
		old[r.Name+"\x00"+r.Expr+"\x00"+r.WeightExpr] = j
	}
	n.fleet = make(map[string]*fleetServer, len(e.fleet))
	for name, os := range e.fleet {
		srv := n.newServer(name)
		srv.seen, srv.out, srv.wantSince, srv.reply = os.seen, os.out, os.wantSince, os.reply
		srv.last = os.last
		for j, r := range n.file.Services[0].Rules {
			if i, ok := old[r.Name+"\x00"+r.Expr+"\x00"+r.WeightExpr]; ok {
				srv.states[j] = os.states[i]
			}
		}
		n.fleet[name] = srv
	}
}
