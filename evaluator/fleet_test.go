package evaluator

import (
	"fmt"
	"maps"
	"math"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/rules"
)

// fleetFile is a fleet of n static servers web01... with the rule
// queue > 500 => drain and the shared rule region > 2 => weight 50%.
func fleetFile(t testing.TB, n int, limit rules.Limit) *rules.File {
	b := newBuilder(t, "queue", "region")
	b.rule("default", rules.Rule{Expr: "queue > 500", Action: act("", "drain", rules.Unset, rules.Unset)})
	b.rule("default", rules.Rule{Expr: "region > 2", Action: act("", "", 50, rules.Unset)})
	fl := &rules.Fleet{Label: "server", MaxUnavailable: limit}
	for i := 1; i <= n; i++ {
		fl.Static = append(fl.Static, fmt.Sprintf("web%02d", i))
	}
	b.file.Fleet = fl
	return b.file
}

// queues gives each server's queue; servers not named have 0.
func queues(servers []string, deep map[string]float64, region float64) Snapshot {
	q := make(map[string]float64, len(servers))
	for _, s := range servers {
		q[s] = deep[s]
	}
	return Snapshot{"queue": {Value: math.NaN(), Servers: q}, "region": {Value: region}}
}

func replies(res *Result) map[string]string {
	out := map[string]string{}
	for _, d := range res.Servers {
		out[d.Server] = strings.TrimSuffix(d.Reply, "\n")
	}
	return out
}

func TestFleetPerServerValues(t *testing.T) {
	f := fleetFile(t, 3, rules.Limit{})
	e := New(f)
	res := e.Evaluate(t0, queues(f.Fleet.Static, map[string]float64{"web02": 900}, 1), nil)
	got := replies(res)
	want := map[string]string{"web01": "up ready 100%", "web02": "up drain 100% #queue > 500", "web03": "up ready 100%"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("replies %v, want %v", got, want)
	}
	if len(res.Services) != 0 {
		t.Errorf("fleet result has services: %v", res.Services)
	}
	// A shared value applies to every server.
	res = e.Evaluate(t0.Add(time.Second), queues(f.Fleet.Static, nil, 3), nil)
	for _, d := range res.Servers {
		if d.Weight != 50 || d.Admin != rules.Ready {
			t.Errorf("%s: %q, want ready at 50%%", d.Server, d.Reply)
		}
	}
	// A server the vector does not name is missing; on_missing keep leaves
	// web02 as it was (not draining since the last cycle).
	snap := Snapshot{"queue": {Servers: map[string]float64{"web01": 1000}}, "region": {Value: 1}}
	res = e.Evaluate(t0.Add(2*time.Second), snap, nil)
	d := res.Server("web03")
	if d.Rules[0].Outcome != Unknown || !strings.Contains(d.Rules[0].Values[0].Missing, "no sample with server") {
		t.Errorf("web03 rule 0: %+v, want unknown with a missing reason", d.Rules[0])
	}
	if res.Server("web01").Admin != rules.Drain {
		t.Errorf("web01: %q, want drain", res.Server("web01").Reply)
	}
}

func TestFleetGuardrail(t *testing.T) {
	f := fleetFile(t, 12, rules.Limit{Set: true, N: 25, Percent: true})
	servers := f.Fleet.Static
	e := New(f)
	// One deep server drains alone.
	res := e.Evaluate(t0, queues(servers, map[string]float64{"web05": 900}, 1), nil)
	if g := res.Guardrail; g.Out != 1 || len(g.Held) != 0 || g.Allowed != 3 {
		t.Fatalf("guardrail %+v, want 1 out of 3 allowed, none held", g)
	}
	// Six deep: web05 keeps its place; then the earliest, then by name.
	deep := map[string]float64{"web05": 900}
	for _, s := range []string{"web09", "web02", "web11", "web07", "web03"} {
		deep[s] = 900
	}
	res = e.Evaluate(t0.Add(time.Second), queues(servers, deep, 1), nil)
	var out []string
	for _, d := range res.Servers {
		if d.Out() {
			out = append(out, d.Server)
		}
	}
	if want := []string{"web02", "web03", "web05"}; !slices.Equal(out, want) {
		t.Errorf("out %v, want %v", out, want)
	}
	if want := []string{"web07", "web09", "web11"}; !slices.Equal(res.Guardrail.Held, want) {
		t.Errorf("held %v, want %v", res.Guardrail.Held, want)
	}
	h := res.Server("web07")
	if !h.Held || h.Reply != "up ready 100% #held by guardrail (3 of 12 out); queue > 500\n" {
		t.Errorf("held server: held=%v reply %q", h.Held, h.Reply)
	}
	// The earliest to want out goes next, before a name that sorts first.
	deep["web01"] = 900
	delete(deep, "web02")
	res = e.Evaluate(t0.Add(2*time.Second), queues(servers, deep, 1), nil)
	if d := res.Server("web07"); !d.Out() {
		t.Errorf("web07 (waiting since 1s) not out: %q", d.Reply)
	}
	if d := res.Server("web01"); d.Out() || !d.Held {
		t.Errorf("web01 (new) not held: %q", d.Reply)
	}
	// Overrides are not limited, and count as out.
	ov := []Override{{ID: "1", Service: "web12", Action: act("", "maint", rules.Unset, rules.Unset), Reason: "disk"}}
	res = e.Evaluate(t0.Add(3*time.Second), queues(servers, deep, 1), ov)
	if d := res.Server("web12"); d.Admin != rules.Maint {
		t.Errorf("override not applied: %q", d.Reply)
	}
	if g := res.Guardrail; g.Out != 3 {
		t.Errorf("guardrail %+v, want 3 out (one by override)", g)
	}
	// All recover.
	res = e.Evaluate(t0.Add(4*time.Second), queues(servers, nil, 1), nil)
	if g := res.Guardrail; g.Out != 0 || len(g.Held) != 0 {
		t.Errorf("after recovery: %+v", g)
	}
}

func TestFleetReplicasAgree(t *testing.T) {
	f := fleetFile(t, 40, rules.Limit{Set: true, N: 5})
	a, b := New(f), New(f)
	servers := f.Fleet.Static
	for step := range 30 {
		deep := map[string]float64{}
		for i, s := range servers {
			if (i*7+step*3)%11 < 4 {
				deep[s] = 1000
			}
		}
		now := t0.Add(time.Duration(step) * time.Second)
		// The second replica is given the servers in another order.
		rev := slices.Clone(servers)
		slices.Reverse(rev)
		ra := a.EvaluateServers(now, servers, queues(servers, deep, 1), nil)
		rb := b.EvaluateServers(now, rev, queues(servers, deep, 1), nil)
		if !reflect.DeepEqual(replies(ra), replies(rb)) {
			t.Fatalf("step %d: replicas differ:\n%v\n%v", step, replies(ra), replies(rb))
		}
		if ra.Guardrail.Out > 5 {
			t.Fatalf("step %d: %d out, limit 5", step, ra.Guardrail.Out)
		}
	}
}

func TestFleetServerGoneKeepsLastReplyUntilStale(t *testing.T) {
	f := fleetFile(t, 2, rules.Limit{})
	e := New(f)
	all := []string{"web01", "web02"}
	e.EvaluateServers(t0, all, queues(all, map[string]float64{"web02": 900}, 3), nil)
	res := e.EvaluateServers(t0.Add(2*time.Second), all[1:], queues(all[1:], map[string]float64{"web02": 900}, 3), nil)
	d := res.Server("web01")
	if d == nil || !d.Stale || d.Reply != "up ready 50% #region > 2\n" {
		t.Fatalf("gone server within stale_after: %+v", d)
	}
	res = e.EvaluateServers(t0.Add(4*time.Second), all[1:], queues(all[1:], map[string]float64{"web02": 900}, 3), nil)
	if d := res.Server("web01"); d != nil {
		t.Errorf("gone server past stale_after still there: %q", d.Reply)
	}
}

// TestFleetServerGoneWhileOutIsRestored: a server that leaves discovery
// while drained is answered its restore, not its drain nor an empty line;
// told at once (no AwaitPolls), it is then forgotten after stale_after.
func TestFleetServerGoneWhileOutIsRestored(t *testing.T) {
	f := fleetFile(t, 2, rules.Limit{})
	e := New(f)
	all := []string{"web01", "web02"}
	e.EvaluateServers(t0, all, queues(all, map[string]float64{"web02": 900}, 1), nil)
	res := e.EvaluateServers(t0.Add(2*time.Second), all[:1], queues(all[:1], nil, 1), nil)
	d := res.Server("web02")
	if d == nil || !d.Stale || d.Out() || d.Reply != "up ready 100% #no longer discovered: restored\n" {
		t.Fatalf("gone server that was out: %+v", d)
	}
	if g := res.Guardrail; g.Out != 0 {
		t.Errorf("guardrail %+v: the restore is told as it is decided, want 0 out", g)
	}
	res = e.EvaluateServers(t0.Add(6*time.Second), all[:1], queues(all[:1], nil, 1), nil)
	if d := res.Server("web02"); d != nil {
		t.Errorf("gone server told its restore, past stale_after, still there: %q", d.Reply)
	}
}

func TestFleetStateCarriedOverReload(t *testing.T) {
	f := fleetFile(t, 2, rules.Limit{})
	f.Services[0].Rules[0].For = 2 * time.Second
	e := New(f)
	s := queues(f.Fleet.Static, map[string]float64{"web01": 900}, 1)
	e.Evaluate(t0, s, nil)
	e = e.Reload(f)
	res := e.Evaluate(t0.Add(2*time.Second), s, nil)
	if d := res.Server("web01"); d.Admin != rules.Drain {
		t.Errorf("pending state lost over reload: %q", d.Reply)
	}
}

func TestFleetResumeKeepsPlace(t *testing.T) {
	f := fleetFile(t, 4, rules.Limit{Set: true, N: 1})
	e := New(f)
	// Before the restart web03 was drained; now web01 and web03 are deep.
	e.Resume(map[string]string{"web03": "up drain 100% #queue > 500", "web01": "up"}, nil)
	res := e.Evaluate(t0, queues(f.Fleet.Static, map[string]float64{"web01": 900, "web03": 900}, 1), nil)
	if d := res.Server("web03"); !d.Out() || d.Held {
		t.Errorf("web03 lost its place after a restart: %q", d.Reply)
	}
	if d := res.Server("web01"); !d.Held {
		t.Errorf("web01 not held: %q", d.Reply)
	}
}

// TestFleetOverridesForAllAppliedOnce puts the most overrides allowed
// (1,000) in force for every server of a 2,000-server fleet, and one
// naming web07: every other server shares one list and one combination
// (no copy per server), the evaluation allocates about what it does with
// one override (a ratio in the same run), and the result lists those for
// all once (a server's JSON lists only those naming it: see
// internal/decisionjson).
func TestFleetOverridesForAllAppliedOnce(t *testing.T) {
	f := fleetFile(t, 2000, rules.Limit{})
	ovs := make([]Override, 0, 1000)
	for i := range 999 {
		ovs = append(ovs, Override{ID: fmt.Sprintf("%08x", i), Action: act("", "", 60+i%40, rules.Unset), Reason: fmt.Sprintf("all %d", i), Created: t0})
	}
	ovs = append(ovs, Override{ID: "web07own", Service: "web07", Action: act("", "maint", rules.Unset, rules.Unset), Reason: "disk", Created: t0})
	snap := queues(f.Fleet.Static, nil, 1)

	bytesPerCycle := func(ovs []Override) uint64 {
		e := New(f)
		e.Evaluate(t0, snap, ovs)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := range 5 {
			e.Evaluate(t0.Add(time.Duration(i+1)*time.Second), snap, ovs)
		}
		runtime.ReadMemStats(&after)
		return (after.TotalAlloc - before.TotalAlloc) / 5
	}
	one, with := bytesPerCycle(ovs[:1]), bytesPerCycle(ovs)
	t.Logf("bytes per cycle: %d with one override, %d with 1,000", one, with)
	if with > one+one/2 {
		t.Errorf("1,000 overrides: %d bytes per cycle, %.1f times the %d with one: copied per server", with, float64(with)/float64(one), one)
	}

	e := New(f)
	res := e.Evaluate(t0, snap, ovs)
	if len(res.Overrides) != 999 {
		t.Errorf("result lists %d overrides for all servers, want 999", len(res.Overrides))
	}
	first := res.Server("web01")
	for _, d := range res.Servers {
		switch d.Server {
		case "web07":
			if len(d.Overrides) != 1000 || d.Admin != rules.Maint {
				t.Errorf("web07: %d overrides, admin %v; want 1000 and maint", len(d.Overrides), d.Admin)
			}
		default:
			if len(d.Overrides) != 999 || &d.Overrides[0] != &first.Overrides[0] {
				t.Fatalf("%s: %d overrides, not the list web01 has", d.Server, len(d.Overrides))
			}
			if d.Weight != 60 || !strings.Contains(d.Reply, "#override: all 0") {
				t.Errorf("%s: %q, want the lowest weight (60%%) and the first override named", d.Server, d.Reply)
			}
		}
	}
}

// TestFleetChurnStaysBounded lists 5,000 servers per evaluation, 2,500 of
// them new each time, for 50 evaluations a second apart, with a rule that
// takes a tenth of them out and max_unavailable 25%: the servers the fleet
// remembers (listed, out and not released, gone less than stale_after)
// never pass rules.MaxFleetServers, a list that would pass it is refused
// and the last one kept, and the percentage is of the servers listed now.
func TestFleetChurnStaysBounded(t *testing.T) {
	f := fleetFile(t, 1, rules.Limit{Set: true, N: 25, Percent: true})
	e := New(f)
	refused := 0
	for step := range 50 {
		names := make([]string, 0, 5000)
		deep := map[string]float64{}
		for i := range 5000 {
			name := fmt.Sprintf("s%07d", step*2500+i)
			names = append(names, name)
			if i%10 == 0 {
				deep[name] = 900
			}
		}
		slices.Sort(names)
		now := t0.Add(time.Duration(step) * time.Second)
		res := e.EvaluateServers(now, names, queues(names, deep, 1), nil)
		if len(e.fleet) > rules.MaxFleetServers || len(res.Servers) > rules.MaxFleetServers {
			t.Fatalf("step %d: %d servers remembered, %d in the result: over %d", step, len(e.fleet), len(res.Servers), rules.MaxFleetServers)
		}
		listed := 0
		for _, d := range res.Servers {
			if !d.Stale {
				listed++
			}
		}
		if want := max(1, listed*25/100); res.Guardrail.Allowed != want {
			t.Fatalf("step %d: allowed %d with %d servers listed and %d known, want %d", step, res.Guardrail.Allowed, listed, len(res.Servers), want)
		}
		if res.DiscoveryRefused != "" {
			refused++
			if res.Server(names[len(names)-1]) != nil && step > 0 {
				t.Fatalf("step %d: a refused list's new server is in the result", step)
			}
		}
	}
	if refused == 0 {
		t.Error("no list refused: the churn never reached the limit")
	}
	t.Logf("%d of 50 lists refused; %d servers remembered at the end", refused, len(e.fleet))
}

// setGate allows the servers it names, or every server when all is set.
type setGate struct {
	all bool
	set map[string]bool
}

func (g setGate) May(s string) bool { return g.all || g.set[s] }

func (g setGate) Reserved() []string { return slices.Sorted(maps.Keys(g.set)) }

// TestFleetGate: a gate (a replica group's out-set) narrows which servers
// the rules may take out, within max_unavailable; overrides pass it.
func TestFleetGate(t *testing.T) {
	f := fleetFile(t, 4, rules.Limit{Set: true, N: 2})
	servers := f.Fleet.Static
	e := New(f)
	deep := map[string]float64{"web01": 900, "web02": 900, "web03": 900}

	// A follower whose out-set names web03 lets out web03 alone.
	e.SetGate(setGate{set: map[string]bool{"web03": true}})
	res := e.Evaluate(t0, queues(servers, deep, 1), nil)
	var out []string
	for _, d := range res.Servers {
		if d.Out() {
			out = append(out, d.Server)
			if !d.RulesOut() {
				t.Errorf("%s out by its rules, RulesOut false", d.Server)
			}
		}
	}
	if !slices.Equal(out, []string{"web03"}) || !slices.Equal(res.Guardrail.Held, []string{"web01", "web02"}) {
		t.Fatalf("out %v held %v, want web03 out and web01, web02 held", out, res.Guardrail.Held)
	}
	// A leader's gate lets anything out, but a place the out-set still
	// reserves is not reused before a set without it is published.
	e.SetGate(setGate{all: true, set: map[string]bool{"web04": true}})
	res = e.Evaluate(t0.Add(time.Second/2), queues(servers, deep, 1), nil)
	if res.Guardrail.Out != 1 || !res.Server("web03").Out() {
		t.Fatalf("guardrail %+v: want web03 alone out, web04's place reserved", res.Guardrail)
	}
	// A gate that lets anything out still leaves max_unavailable in force.
	e.SetGate(setGate{all: true})
	res = e.Evaluate(t0.Add(time.Second), queues(servers, deep, 1), nil)
	if res.Guardrail.Out != 2 || len(res.Guardrail.Held) != 1 || !res.Server("web03").Out() {
		t.Fatalf("guardrail %+v: want 2 out, web03 keeping its place", res.Guardrail)
	}
	// A gate that allows nothing holds every rule, not an override.
	e.SetGate(setGate{})
	ov := []Override{{ID: "1", Service: "web04", Action: act("", "maint", rules.Unset, rules.Unset), Reason: "disk"}}
	res = e.Evaluate(t0.Add(2*time.Second), queues(servers, deep, 1), ov)
	if d := res.Server("web04"); !d.Out() || d.RulesOut() {
		t.Errorf("override: out=%v RulesOut=%v, want out, not by rules", d.Out(), d.RulesOut())
	}
	for _, s := range []string{"web01", "web02", "web03"} {
		if d := res.Server(s); d.Out() || !d.Held {
			t.Errorf("%s: %q, want held by a gate allowing nothing", s, d.Reply)
		}
	}
}
