package evaluator

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/haproxy-agent/agent/rules/ruleset"
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
	// vals and missing are the server's metric values by index, and
	// boxed the same values boxed for the expression environment, boxed
	// again only when they change: the worker deciding the server loads
	// them into its own environment (a map per server would be most of a
	// fleet's memory). All three are nil until the server is first
	// evaluated (see newValues).
	vals    []float64
	missing []string
	boxed   []any
	// gen is the evaluation that last listed the server; seen its time.
	gen  uint64
	seen time.Time
	// named is the evaluation whose discovery list, as admit read it,
	// last named the server (before admit decides whether to take it).
	named uint64
	// out is whether HAProxy may hold the server out of rotation: from
	// the first decision that takes it out until it is told a restore
	// (up ready at a weight above 0), which without AwaitPolls is at once
	// and with it when Polled says HAProxy was answered one.
	out bool
	// polled is when HAProxy last polled the server (Polled), or when
	// the server became known; without AwaitPolls, every evaluation.
	polled time.Time
	// rulesOut is whether HAProxy may hold the server out because of the
	// rules: from a decision of theirs that takes it out until it is told
	// a reply that is not (a restore, or an override's). forced is
	// whether an override takes it out in the last decision.
	rulesOut, forced bool
	// resumed: out by its rules before a restart, the server keeps its
	// place while they still want it out, pending or firing.
	resumed bool
	// wantSince is since when the rules have wanted the server out,
	// without a break; zero when they do not.
	wantSince time.Time
	// last is the last decision, kept for a server no longer listed.
	last *Decision
}

func (e *Evaluator) newServer(name string) *fleetServer {
	srv := &fleetServer{
		name:   name,
		states: make([]ruleState, len(e.file.Services[0].Rules)),
		reply:  newReplyState(),
	}
	for j := range srv.states {
		srv.states[j] = ruleState{state: Inactive, weight: ruleset.Unset}
	}
	if line, ok := e.told[name]; ok {
		srv.reply.resume(line)
	}
	// A server HAProxy may have held out before a restart is out again,
	// and keeps its place under the guardrail while its rules want it.
	if why := e.toldOut[name]; why != "" || srv.reply.out {
		srv.out, srv.rulesOut = true, why != OutByOverride
		srv.resumed = srv.rulesOut
	}
	return srv
}

// nan is NaN boxed once, for the expression environments: a value missing
// for many servers, or not yet read, is not boxed for each.
var nan any = math.NaN()

// newValues gives srv its values, every metric missing. It is left to the
// first evaluation of the server, on the worker deciding it: a fleet's
// servers are made one after the other.
func (e *Evaluator) newValues(srv *fleetServer) {
	n := len(e.file.Metrics)
	srv.vals, srv.missing, srv.boxed = make([]float64, n), make([]string, n), make([]any, n)
	for i := range n {
		srv.vals[i], srv.boxed[i] = math.NaN(), nan
	}
}

// loadEnv loads srv's boxed values into w's expression environment, and
// returns it.
func (e *Evaluator) loadEnv(w *worker, srv *fleetServer) map[string]any {
	if w.env == nil {
		w.env = make(map[string]any, len(e.file.Metrics))
	}
	for i, m := range e.file.Metrics {
		w.env[m.Name] = srv.boxed[i]
	}
	return w.env
}

// serverValues sets the values of the server k of the list: its own sample
// of every metric whose query returned a vector by server (from t), the
// shared value of the others, in its own expression environment.
func (e *Evaluator) serverValues(srv *fleetServer, k int, vecs []*Sample, t *vectorTable) {
	if srv.vals == nil {
		e.newValues(srv)
	}
	for i := range e.file.Metrics {
		v, missing := e.last[i], e.missing[i]
		if s := vecs[i]; s != nil {
			var ok bool
			missing = ""
			if v, ok = t.value(i, k); !ok {
				v = math.NaN()
				if missing = s.ServerMissing[srv.name]; missing == "" {
					missing = e.noSample[i]
				}
			} else if math.IsNaN(v) {
				missing = "value is NaN"
			}
		}
		if srv.missing[i] != missing {
			srv.missing[i] = missing
		}
		if missing != "" {
			v = math.NaN()
		}
		if v != srv.vals[i] && !(math.IsNaN(v) && math.IsNaN(srv.vals[i])) {
			srv.vals[i] = v
			if math.IsNaN(v) {
				srv.boxed[i] = nan
			} else {
				srv.boxed[i] = v
			}
		}
	}
}

// vectorTable holds, for one evaluation, the value of every vector metric
// for every listed server, by metric index and place in the list. Each
// vector is read once, in its own order, and its names looked up in one
// small table of places: ten vectors of ten thousand servers looked up by
// name, server after server, miss the processor's caches at nearly every
// lookup.
type vectorTable struct {
	n     int // servers listed
	vals  []float64
	found []bool
	// places is each listed server's place in the list, by name, for the
	// servers of listed, the list it was made for: kept while the list
	// stays the same.
	places map[string]int32
	listed []*fleetServer
}

// value returns server k's value of metric i, and whether its vector has
// one.
func (t *vectorTable) value(i, k int) (float64, bool) {
	return t.vals[i*t.n+k], t.found[i*t.n+k]
}

// vectorTable fills e.table for the servers batch, by their place in it,
// from vecs, one metric per worker, and returns it. A vector much longer
// than the list is looked up by name instead of read whole.
func (e *Evaluator) vectorTable(batch []*fleetServer, vecs []*Sample) *vectorTable {
	t := &e.table
	t.n = len(batch)
	cells := len(vecs) * t.n
	if cap(t.vals) < cells {
		t.vals, t.found = make([]float64, cells), make([]bool, cells)
	}
	t.vals, t.found = t.vals[:cells], t.found[:cells]
	clear(t.found)
	if t.places == nil {
		t.places = make(map[string]int32, len(batch))
	}
	places := t.places
	if !slices.Equal(t.listed, batch) {
		clear(places)
		for k, srv := range batch {
			places[srv.name] = int32(k)
		}
		t.listed = append(t.listed[:0], batch...)
	}
	metrics := 0
	if len(batch) >= 2*chunk {
		metrics = len(vecs) // a small fleet's metrics are not worth a goroutine
	}
	e.parallelBy(len(vecs), metrics, func(_ *worker, lo, hi int) {
		for i := lo; i < hi; i++ {
			e.readVector(batch, places, vecs[i], t.vals[i*t.n:(i+1)*t.n], t.found[i*t.n:(i+1)*t.n])
		}
	})
	return t
}

// readVector sets vals[k] and found[k] to server batch[k]'s value in the
// vector s, if any (s nil: none); places is where each server is in batch.
func (e *Evaluator) readVector(batch []*fleetServer, places map[string]int32, s *Sample, vals []float64, found []bool) {
	if s == nil {
		return
	}
	if len(s.Servers) > 2*len(batch) {
		for k, srv := range batch {
			vals[k], found[k] = s.Servers[srv.name]
		}
		return
	}
	for name, v := range s.Servers {
		if k, ok := places[name]; ok {
			vals[k], found[k] = v, true
		}
	}
}

// fleetCycle is what one fleet evaluation gathers on its way to the
// guardrail.
type fleetCycle struct {
	res *Result
	// listed are the servers listed this time, candidates those of them
	// whose rules want them out; unlisted are those no longer listed that
	// HAProxy may hold out. forced counts the servers out because an
	// override says so.
	listed, candidates, unlisted []*fleetServer
	forced                       int
}

// evaluateFleet runs the default service's rules once per server, then the
// guardrail. e.load has run.
func (e *Evaluator) evaluateFleet(now time.Time, servers []string, snap Snapshot, overrides *overrideSet) *Result {
	if e.fleet == nil {
		e.fleet = make(map[string]*fleetServer, len(servers))
		e.resumeGone(now)
	}
	e.gen++
	servers, refused := e.admit(now, servers)
	c := e.evaluateListed(now, servers, e.serverVectors(snap), overrides)
	c.res.DiscoveryRefused = refused
	e.keepUnlisted(now, &c)
	// What was told before a restart is for the servers known at the
	// first evaluation (resumeGone remembered those out): a server
	// forgotten and discovered again later starts afresh.
	e.told, e.toldOut = nil, nil
	g := e.guard(now, &c, overrides)
	for _, srv := range c.listed {
		e.publishedTo(now, srv)
		srv.last.prev = nil // keep one decision per server alive, not a chain
		if srv.out {
			g.Out++
		}
	}
	for _, srv := range c.unlisted {
		e.publishedTo(now, srv)
		if srv.out {
			g.Out++
		}
	}
	c.res.Guardrail = g
	c.res.Overrides = overrides.wide.in
	slices.SortFunc(c.res.Servers, func(a, b *Decision) int { return strings.Compare(a.Server, b.Server) })
	return c.res
}

// admit returns the servers to evaluate: servers, unless with the servers
// the fleet remembers besides them (out and not yet released, or gone
// less than stale_after) they pass the fleet's limit; then, as for a
// failed discovery read, the last list admitted until stale_after, and
// none after it, with why. Churn in discovery thus cannot grow the fleet,
// its memory, /metrics or /status.
func (e *Evaluator) admit(now time.Time, servers []string) ([]string, string) {
	limit := ruleset.MaxFleetServers
	if n := len(e.file.Services[0].Rules); n > 0 {
		limit = min(limit, ruleset.MaxFleetRuleStates/n)
	}
	// The servers the fleet knows are marked as named, not gathered into
	// a set of names: only the names it does not know yet are.
	listed := 0
	var fresh map[string]struct{}
	for k, name := range servers {
		if srv := e.fleet[name]; srv != nil {
			if srv.named != e.gen {
				srv.named = e.gen
				listed++
			}
			continue
		}
		if fresh == nil {
			fresh = make(map[string]struct{}, len(servers)-k)
		}
		fresh[name] = struct{}{}
	}
	listed += len(fresh)
	total := listed
	for _, srv := range e.fleet {
		if srv.named != e.gen && e.kept(now, srv) {
			total++
		}
	}
	if total <= limit {
		e.admitted, e.admittedAt = servers, now
		return servers, ""
	}
	why := fmt.Sprintf("discovery lists %d servers; with those the fleet remembers (out and not yet released, or gone less than stale_after) that is %d, over the limit of %d: the last list is kept", listed, total, limit)
	if now.Sub(e.admittedAt) > e.file.StaleAfter {
		return nil, why
	}
	return e.admitted, why
}

// kept reports whether srv, not listed now, is still remembered: see
// keepUnlisted.
func (e *Evaluator) kept(now time.Time, srv *fleetServer) bool {
	if srv.out {
		return now.Sub(srv.polled) <= e.forgetAfter()
	}
	return srv.last != nil && now.Sub(srv.seen) <= e.file.StaleAfter
}

// publishedTo updates what HAProxy may hold of srv once its last decision is
// published: out from a decision that takes it out; back in when it is
// told a restore, at once without AwaitPolls (else see Polled).
func (e *Evaluator) publishedTo(now time.Time, srv *fleetServer) {
	if srv.last.Out() {
		srv.out = true
		srv.rulesOut = srv.rulesOut || !srv.forced
	}
	if !e.await {
		srv.polled = now
		srv.toldLast()
	}
	srv.last.OutBy = srv.outBy()
}

// toldLast records that HAProxy was told srv's last decision: a restore
// puts it back in rotation, an override's out reply makes it out by the
// override.
func (srv *fleetServer) toldLast() {
	switch {
	case restores(srv.last):
		srv.out, srv.rulesOut = false, false
	case srv.last.Out() && srv.forced:
		srv.rulesOut = false
	}
}

// outBy is why HAProxy may hold srv out (Decision.OutBy).
func (srv *fleetServer) outBy() string {
	switch {
	case srv.rulesOut:
		return OutByRules
	case srv.out:
		return OutByOverride
	}
	return ""
}

// stillWanted reports whether the rules of a server that was out by them
// before a restart still want it out: a rule that takes it out is firing
// for the first time since (the server then goes on as any other), or is
// pending, or cannot tell (a value missing, with on_missing: keep, which
// keeps the state the rule had: firing).
func (e *Evaluator) stillWanted(svc *ruleset.Service, d *Decision) bool {
	wanted := false
	for j, r := range svc.Rules {
		rr := &d.Rules[j]
		if !e.takesOut(r, rr) {
			continue
		}
		switch {
		case rr.State == Firing:
			return false
		case rr.State == Pending, rr.Outcome == Unknown && r.OnMissing == ruleset.Keep:
			wanted = true
		}
	}
	return wanted
}

// takesOut reports whether rule r, firing, takes the server out of
// rotation: down, drain, maint or a weight of 0%.
func (e *Evaluator) takesOut(r *ruleset.Rule, rr *RuleResult) bool {
	a := r.Action
	a.Weight = e.ruleWeight(r, rr)
	return a.Out()
}

// resumeGone remembers, at the first evaluation, every server HAProxy may
// have held out before a restart, listed or not: one no longer discovered
// is then answered its restore rather than forgotten.
func (e *Evaluator) resumeGone(now time.Time) {
	for name, why := range e.toldOut {
		if why != "" && e.fleet[name] == nil {
			srv := e.newServer(name)
			srv.polled = now
			e.fleet[name] = srv
		}
	}
}

// serverVectors returns, by metric index, the sample of each metric whose
// query returned a vector by server, nil for the others: those have one
// value shared by every server.
func (e *Evaluator) serverVectors(snap Snapshot) []*Sample {
	vecs := make([]*Sample, len(e.file.Metrics))
	samples := make([]Sample, len(e.file.Metrics)) // one allocation, not one per metric
	for i, m := range e.file.Metrics {
		if s, ok := snap[m.Name]; ok && s.Servers != nil && s.Missing == "" {
			samples[i] = s
			vecs[i] = &samples[i]
		}
	}
	return vecs
}

// evaluateListed decides for every listed server (once for one listed
// twice), as if the guardrail did not exist. The decisions, rule results
// and values of a run of servers share a few allocations, since a fleet
// has thousands. Servers are independent until the guardrail: a large
// fleet's are decided in parallel (see parallel), each into its own
// places, and gathered in the order listed.
func (e *Evaluator) evaluateListed(now time.Time, servers []string, vecs []*Sample, overrides *overrideSet) fleetCycle {
	svc := e.file.Services[0]
	nr := len(svc.Rules)
	batch := make([]*fleetServer, 0, len(servers))
	for _, name := range servers {
		srv := e.fleet[name]
		if srv == nil {
			srv = e.newServer(name)
			srv.polled = now
			e.fleet[name] = srv
		}
		if srv.gen == e.gen {
			continue // listed twice
		}
		srv.gen, srv.seen = e.gen, now
		batch = append(batch, srv)
	}
	table := e.vectorTable(batch, vecs)
	c := fleetCycle{
		res:    &Result{Time: now, Services: []*Decision{}, Servers: make([]*Decision, len(batch), len(e.fleet))}, // room for those no longer listed
		listed: batch,
	}
	vc := e.valueCap
	e.parallel(len(batch), func(w *worker, lo, hi int) {
		// Each run of servers has its own few allocations, zeroed by the
		// worker that fills them rather than all up front.
		n := hi - lo
		decisions := make([]Decision, n)
		results := make([]RuleResult, n*nr)
		values := make([]Value, n*vc)
		for k := range n {
			d := &decisions[k]
			d.Rules = results[k*nr : (k+1)*nr : (k+1)*nr]
			e.evaluateServer(now, w, batch[lo+k], lo+k, vecs, table, d, values[k*vc:k*vc:(k+1)*vc], overrides)
			c.res.Servers[lo+k] = d
		}
	})
	for k, srv := range batch {
		d := c.res.Servers[k]
		c.classify(now, srv, d, d.byOverride)
		srv.last = d
	}
	return c
}

// evaluateServer decides for srv, the server k of the list, over vecs
// (their values in t) into d (its Rules in place), appending the values
// its rules read to values, on worker w: it touches nothing another
// server's evaluation does.
func (e *Evaluator) evaluateServer(now time.Time, w *worker, srv *fleetServer, k int, vecs []*Sample, t *vectorTable, d *Decision, values []Value, overrides *overrideSet) {
	svc := e.file.Services[0]
	e.serverValues(srv, k, vecs, t)
	d.Service, d.Server, d.prev = svc.Name, srv.name, srv.last
	e.evalService(now, 0, srv.states, d, values, srv.vals, srv.missing, &w.machine, e.loadEnv(w, srv))
	srv.resumed = srv.resumed && srv.out && e.stillWanted(svc, d)
	d.kept = srv.resumed
	// While HAProxy may hold it out, its reply carries the restore.
	srv.reply.unrestored = srv.out
	srv.saved = srv.reply
	d.byOverride = e.decide(now, svc, d, overrides, &srv.reply, srv.name, "")
}

// classify counts srv, just decided as d, among the servers an override
// forces out or among the candidates the guardrail may hold, and tracks
// since when its rules have wanted it out: the guardrail lets the earliest
// go first.
func (c *fleetCycle) classify(now time.Time, srv *fleetServer, d *Decision, overrideOut bool) {
	srv.forced = overrideOut
	switch {
	case overrideOut:
		c.forced++
		srv.wantSince = time.Time{}
	case d.Out():
		if srv.wantSince.IsZero() {
			srv.wantSince = now
		}
		c.candidates = append(c.candidates, srv)
	default:
		srv.wantSince = time.Time{}
	}
}

// lingering counts the servers neither forced out nor candidates that
// HAProxy may still hold out until they are told their restore: none
// without AwaitPolls, where the restore is told as it is decided.
func (e *Evaluator) lingering(c *fleetCycle) int {
	if !e.await {
		return 0
	}
	n := len(c.unlisted)
	for _, srv := range c.listed {
		if srv.out && !srv.last.Out() {
			n++
		}
	}
	return n
}

// keepUnlisted adds the servers no longer listed. One that HAProxy may
// still hold out of rotation stays counted, and is answered its restore
// (up ready at reply.default's weight), never an empty line, until it has
// been told that or has not polled for fleet.forget_after. Any other keeps
// its last decision, marked stale, until stale_after, then is forgotten.
func (e *Evaluator) keepUnlisted(now time.Time, c *fleetCycle) {
	for name, srv := range e.fleet {
		if srv.gen == e.gen {
			continue
		}
		switch {
		case srv.out && now.Sub(srv.polled) > e.forgetAfter():
			delete(e.fleet, name)
		case srv.out:
			d := e.unlistedRestore(now, srv)
			c.unlisted = append(c.unlisted, srv)
			c.res.Servers = append(c.res.Servers, d)
		case srv.last == nil || now.Sub(srv.seen) > e.file.StaleAfter:
			delete(e.fleet, name)
		default:
			d := *srv.last
			d.Stale = true
			c.res.Servers = append(c.res.Servers, &d)
		}
	}
}

// forgetAfter is fleet.forget_after, its default for a file made in code.
func (e *Evaluator) forgetAfter() time.Duration {
	if fa := e.file.Fleet.ForgetAfter; fa > 0 {
		return fa
	}
	return ruleset.DefaultForgetAfter
}

// unlistedRestore is the decision for a server no longer listed that
// HAProxy may still hold out of rotation: its restore, whatever its rules
// last wanted, since the agent no longer answers for it. It becomes the
// server's last decision, the one Polled reports as told.
func (e *Evaluator) unlistedRestore(now time.Time, srv *fleetServer) *Decision {
	def := e.file.Reply.Default
	svc := e.file.Services[0]
	d := &Decision{
		Service: svc.Name, Server: srv.name,
		Op: ruleset.Up, Admin: ruleset.Ready, Weight: max(def.Weight, 1), Maxconn: ruleset.Unset,
		Phase: Restoring, full: true, Firing: noneFiring, Rules: []RuleResult{},
		Description: "no longer discovered: restored", Stale: true, Restore: true, prev: srv.last,
	}
	if svc.UsesMaxconn {
		d.Maxconn = e.file.Reply.Maxconn
	}
	d.Reply = reuseReply(d)
	d.prev = nil
	srv.last = d
	srv.resumed = false
	return d
}

// restores reports whether d, once HAProxy is told it, puts the server
// back in rotation: up ready at a weight above 0.
func restores(d *Decision) bool {
	return d.full && !d.Out() && d.Admin == ruleset.Ready
}

// AwaitPolls makes a fleet server that HAProxy may hold out of rotation
// count as out until Polled reports that HAProxy was answered its restore
// (the agent serving polls calls it once, before the first evaluation).
// Without it every reply is taken as told when it is decided, as if
// HAProxy polled each server right after each evaluation: what backtest,
// rule tests and eval assume.
func (e *Evaluator) AwaitPolls() { e.await = true }

// Polled records that HAProxy polled the fleet server name at now and was
// answered the reply of its last decision. A server unknown is ignored.
func (e *Evaluator) Polled(now time.Time, name string) {
	srv := e.fleet[name]
	if srv == nil {
		return
	}
	srv.polled = now
	if srv.last != nil {
		srv.toldLast()
	}
}

// guard applies fleet.max_unavailable to what HAProxy may hold out. The
// servers an override takes out, and those HAProxy may still hold out until
// told their restore, take their slots first; then the candidates, in
// order, while a slot is left. The others are decided again under hold, in
// rotation (the state of their replies first put back as it was before
// this evaluation, so that the first decision leaves no trace). A held
// candidate HAProxy may already hold out keeps its slot until it is told
// its restore, so that no other server takes it before.
func (e *Evaluator) guard(now time.Time, c *fleetCycle, overrides *overrideSet) *Guardrail {
	fl := e.file.Fleet
	total := len(c.res.Servers)
	// A percentage is of the servers listed now: those remembered after
	// they left must not inflate it.
	g := &Guardrail{MaxUnavailable: fl.MaxUnavailable.String(), Allowed: fl.MaxUnavailable.Allowed(len(c.listed)), Servers: total, Held: []string{}}
	// Servers out by override, those HAProxy may hold out until told
	// their restore, and (guardrail_counts: all) those out for other
	// causes take their slots first, and so do the places a replica
	// group's out-set reserves.
	occupied := c.forced + e.lingering(c) + e.outsideBusy(c) + e.reserved(c)
	if occupied+len(c.candidates) <= g.Allowed && e.gate == nil {
		return g
	}
	sortCandidates(c.candidates)
	var held []*fleetServer
	for _, srv := range c.candidates {
		switch {
		case occupied < g.Allowed && (e.gate == nil || e.gate.May(srv.name)):
			occupied++
		case srv.out && e.await:
			occupied++
			held = append(held, srv)
		default:
			held = append(held, srv)
		}
	}
	hold := "held by guardrail (" + strconv.Itoa(occupied) + " of " + strconv.Itoa(total) + " out)"
	svc := e.file.Services[0]
	for _, srv := range held {
		d := srv.last
		srv.reply = srv.saved
		e.decide(now, svc, d, overrides, &srv.reply, srv.name, hold)
		d.Held = true
		g.Held = append(g.Held, srv.name)
	}
	slices.Sort(g.Held)
	return g
}

// reserved counts the places the gate reserves for servers other replicas
// may hold out that this evaluation neither lets out nor counts already.
func (e *Evaluator) reserved(c *fleetCycle) int {
	if e.gate == nil {
		return 0
	}
	n := 0
	for _, name := range e.gate.Reserved() {
		srv := e.fleet[name]
		if srv == nil || srv.gen != e.gen || !srv.last.Out() {
			n++
		}
	}
	return n
}

// SetOutside names the servers HAProxy shows out of rotation for causes
// other than the agent (an operator's maint, a failed health check), for
// fleet.guardrail_counts: all: the guardrail counts them against
// max_unavailable from the next evaluation on. Nil counts none.
func (e *Evaluator) SetOutside(names []string) {
	e.outside = make(map[string]bool, len(names))
	for _, n := range names {
		e.outside[n] = true
	}
}

// outsideBusy counts the listed servers HAProxy shows out for other
// causes that no other count has: neither forced out, nor wanted out by
// their rules, nor held out by the agent.
func (e *Evaluator) outsideBusy(c *fleetCycle) int {
	if !e.file.Fleet.CountsAll || len(e.outside) == 0 {
		return 0
	}
	n := 0
	for _, srv := range c.listed {
		if e.outside[srv.name] && !srv.forced && !srv.out && !srv.last.Out() {
			n++
		}
	}
	return n
}

// sortCandidates orders the servers wanting out by who goes first: those
// HAProxy holds out because of the rules keep their place, then the
// earliest to want out, then by name, so that the same data always gives
// the same order. A server out by an override that has gone is not first:
// the rules did not take it out.
func sortCandidates(candidates []*fleetServer) {
	slices.SortFunc(candidates, func(a, b *fleetServer) int {
		if a.rulesOut != b.rulesOut {
			if a.rulesOut {
				return -1
			}
			return 1
		}
		if c := a.wantSince.Compare(b.wantSince); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
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
		srv.seen, srv.out, srv.rulesOut, srv.forced, srv.resumed = os.seen, os.out, os.rulesOut, os.forced, os.resumed
		srv.polled, srv.wantSince, srv.reply = os.polled, os.wantSince, os.reply
		srv.last = os.last
		for j, r := range n.file.Services[0].Rules {
			if i, ok := old[r.Name+"\x00"+r.Expr+"\x00"+r.WeightExpr]; ok {
				srv.states[j] = os.states[i]
			}
		}
		n.fleet[name] = srv
	}
}
