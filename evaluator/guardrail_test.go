package evaluator

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/rules"
)

// utilFleet is a fleet of n static servers web01... whose one rule gives
// each a weight of 100*(1-util) once util > 0.5, with reply.min_weight
// minWeight.
func utilFleet(t testing.TB, n, minWeight int, limit rules.Limit) *rules.File {
	b := newBuilder(t, "util")
	b.rule("default", rules.Rule{Name: "shed", Expr: "util > 0.5", WeightExpr: "100 * (1 - util)"})
	b.file.Reply.MinWeight = minWeight
	fl := &rules.Fleet{Label: "server", MaxUnavailable: limit}
	for i := 1; i <= n; i++ {
		fl.Static = append(fl.Static, fmt.Sprintf("web%02d", i))
	}
	b.file.Fleet = fl
	return b.file
}

func utils(servers []string, v float64) Snapshot {
	u := make(map[string]float64, len(servers))
	for _, s := range servers {
		u[s] = v
	}
	return Snapshot{"util": {Value: math.NaN(), Servers: u}}
}

// TestFleetZeroWeightIsOut: with reply.min_weight 0% and every server's
// computed weight 0, a 0% weight takes a server out as a drain does: the
// guardrail lets max_unavailable of them go to 0% and holds the others at
// a weight above 0, so that the backend keeps serving.
func TestFleetZeroWeightIsOut(t *testing.T) {
	f := utilFleet(t, 4, 0, rules.Limit{Set: true, N: 25, Percent: true})
	e := New(f)
	res := e.Evaluate(t0, utils(f.Fleet.Static, 1), nil)
	zero := 0
	for _, d := range res.Servers {
		switch {
		case d.Weight == 0:
			zero++
			if !d.Out() || d.Held {
				t.Errorf("%s at 0%%: out=%v held=%v, want out", d.Server, d.Out(), d.Held)
			}
		case d.Held:
			if d.Weight != 1 || d.Out() || !strings.HasPrefix(d.Reply, "up ready 1% #held by guardrail") {
				t.Errorf("%s held: %q, want up ready 1%%", d.Server, d.Reply)
			}
		default:
			t.Errorf("%s neither out nor held: %q", d.Server, d.Reply)
		}
	}
	if g := res.Guardrail; zero != 1 || g.Out != 1 || len(g.Held) != 3 {
		t.Errorf("%d servers at 0%%, guardrail %+v; want 1 out and 3 held", zero, g)
	}

	// With a min_weight above 0 a computed 0 floors there: nothing is out
	// and nothing held.
	f = utilFleet(t, 4, 5, rules.Limit{Set: true, N: 1})
	res = New(f).Evaluate(t0, utils(f.Fleet.Static, 1), nil)
	for _, d := range res.Servers {
		if d.Weight != 5 || d.Out() || d.Held {
			t.Errorf("min_weight 5%%: %s %q, want up ready 5%%", d.Server, d.Reply)
		}
	}
}

// TestRampStartsAboveZero: a server back from a drain with reply.min_weight
// 0% climbs from 1%, not from 0%, which would take it out again.
func TestRampStartsAboveZero(t *testing.T) {
	b := newBuilder(t, "queue")
	b.rule("default", rules.Rule{Expr: "queue > 500", Action: act("", "drain", rules.Unset, rules.Unset)})
	b.file.Reply.MinWeight = 0
	b.file.Reply.Ramp = 10 * time.Second
	e := New(b.file)
	e.Evaluate(t0, snap("queue", 900), nil)
	d := e.Evaluate(t0.Add(time.Second), snap("queue", 1), nil).Services[0]
	if d.Weight != 1 || d.Out() {
		t.Errorf("first ramp step: %q, want up ready 1%%", d.Reply)
	}
}

// outOf lists the servers whose decision takes them out, and the held.
func outOf(res *Result) (out, held []string) {
	for _, d := range res.Servers {
		if d.Out() {
			out = append(out, d.Server)
		}
		if d.Held {
			held = append(held, d.Server)
		}
	}
	return out, held
}

// TestFleetForgottenServerStaysCounted replays the forgotten-server case
// with polls: max_unavailable 1; web01 drains, then leaves discovery. It
// stays counted, is answered its restore (never an empty line) past
// stale_after, and web02, deep as well, is held until HAProxy was told
// web01's restore. A server that never polls again is forgotten after
// fleet.forget_after.
func TestFleetForgottenServerStaysCounted(t *testing.T) {
	f := fleetFile(t, 4, rules.Limit{Set: true, N: 1})
	f.Fleet.ForgetAfter = time.Minute
	all := f.Fleet.Static
	e := New(f)
	e.AwaitPolls()
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	poll := func(s int, names ...string) {
		for _, n := range names {
			e.Polled(at(s), n)
		}
	}

	res := e.EvaluateServers(at(0), all, queues(all, map[string]float64{"web01": 900}, 1), nil)
	if out, _ := outOf(res); !slices.Equal(out, []string{"web01"}) {
		t.Fatalf("out %v, want web01", out)
	}
	poll(1, all...)
	// web01 leaves discovery; web02 is deep.
	listed := all[1:]
	deep := map[string]float64{"web02": 900}
	for s := 2; s <= 10; s += 2 { // past stale_after (3s), no poll of web01
		res = e.EvaluateServers(at(s), listed, queues(listed, deep, 1), nil)
		d := res.Server("web01")
		if d == nil || d.Reply != "up ready 100% #no longer discovered: restored\n" {
			t.Fatalf("%ds: web01 (gone, not yet told its restore): %+v", s, d)
		}
		if out, held := outOf(res); len(out) != 0 || !slices.Equal(held, []string{"web02"}) {
			t.Fatalf("%ds: out %v held %v, want web02 held while HAProxy holds web01", s, out, held)
		}
		if g := res.Guardrail; g.Out != 1 {
			t.Fatalf("%ds: guardrail %+v, want 1 out (web01, in HAProxy)", s, g)
		}
		poll(s+1, listed...)
	}
	// web01 polls: told its restore, it frees its slot.
	poll(11, "web01")
	res = e.EvaluateServers(at(12), listed, queues(listed, deep, 1), nil)
	if out, held := outOf(res); !slices.Equal(out, []string{"web02"}) || len(held) != 0 {
		t.Fatalf("after web01's restore: out %v held %v, want web02 out", out, held)
	}
	if d := res.Server("web01"); d != nil {
		t.Errorf("web01 told its restore and past stale_after, still there: %q", d.Reply)
	}
	poll(13, listed...)

	// web02 leaves discovery and never polls again: forgotten after
	// forget_after, when web03 may go.
	listed = all[2:]
	deep = map[string]float64{"web03": 900}
	for s := 14; s <= 64; s += 10 {
		res = e.EvaluateServers(at(s), listed, queues(listed, deep, 1), nil)
		if out, held := outOf(res); len(out) != 0 || !slices.Equal(held, []string{"web03"}) {
			t.Fatalf("%ds: out %v held %v, want web03 held within forget_after", s, out, held)
		}
		poll(s+1, listed...)
	}
	res = e.EvaluateServers(at(80), listed, queues(listed, deep, 1), nil)
	if out, _ := outOf(res); !slices.Equal(out, []string{"web03"}) || res.Server("web02") != nil {
		t.Errorf("past forget_after: out %v, web02 %v; want web03 out, web02 forgotten", out, res.Server("web02"))
	}
}

// TestFleetReleasedServerCountsUntilTold: a server the rules release stays
// counted until HAProxy was answered its restore, even once restore_for
// has passed (its reply carries the restore until then).
func TestFleetReleasedServerCountsUntilTold(t *testing.T) {
	f := fleetFile(t, 3, rules.Limit{Set: true, N: 1})
	f.Reply.RestoreFor = 0
	all := f.Fleet.Static
	e := New(f)
	e.AwaitPolls()
	e.EvaluateServers(t0, all, queues(all, map[string]float64{"web01": 900}, 1), nil)
	e.Polled(t0.Add(time.Second), "web01")
	// web01 recovers as web02 goes deep: web02 waits for web01's restore.
	deep := map[string]float64{"web02": 900}
	for s := 2; s <= 4; s++ {
		res := e.EvaluateServers(t0.Add(time.Duration(s)*time.Second), all, queues(all, deep, 1), nil)
		if d := res.Server("web01"); d.Reply != "up ready 100%\n" {
			t.Fatalf("%ds: web01 %q, want its restore while HAProxy holds it out", s, d.Reply)
		}
		if out, held := outOf(res); len(out) != 0 || !slices.Equal(held, []string{"web02"}) {
			t.Fatalf("%ds: out %v held %v, want web02 held", s, out, held)
		}
	}
	e.Polled(t0.Add(5*time.Second), "web01")
	res := e.EvaluateServers(t0.Add(6*time.Second), all, queues(all, deep, 1), nil)
	if out, _ := outOf(res); !slices.Equal(out, []string{"web02"}) {
		t.Errorf("after web01's restore: out %v, want web02", out)
	}
	if d := res.Server("web01"); d.Reply != "up\n" {
		t.Errorf("web01 told its restore, restore_for 0: %q, want up", d.Reply)
	}
}

// TestFleetRestartKeepsTheDrain replays the restart case: a rule with
// for: 3s and max_unavailable 1; web02 was drained by it and web01 held
// when the agent restarted. From the first evaluation web02 is out again,
// through its rule's for: window, and keeps its place once both fire: web01
// stays held.
func TestFleetRestartKeepsTheDrain(t *testing.T) {
	f := fleetFile(t, 4, rules.Limit{Set: true, N: 1})
	f.Services[0].Rules[0].For = 3 * time.Second
	all := f.Fleet.Static
	e := New(f)
	e.AwaitPolls()
	e.Resume(map[string]string{
		"web01": "up ready 100% #held by guardrail (1 of 4 out); queue > 500",
		"web02": "up drain 100% #queue > 500",
	}, map[string]string{"web02": OutByRules})
	deep := map[string]float64{"web01": 900, "web02": 900}
	for s := 0; s <= 5; s++ {
		now := t0.Add(time.Duration(s) * time.Second)
		res := e.EvaluateServers(now, all, queues(all, deep, 1), nil)
		if d := res.Server("web02"); d.Admin != rules.Drain || d.Held || d.OutBy != OutByRules {
			t.Fatalf("%ds: web02 %q (out_by %q), want still drained by its rules", s, d.Reply, d.OutBy)
		}
		if d := res.Server("web01"); d.Out() || s >= 3 && !d.Held {
			t.Fatalf("%ds: web01 %q held=%v, want in rotation (pending, then held)", s, d.Reply, d.Held)
		}
		for _, name := range all {
			e.Polled(now.Add(500*time.Millisecond), name)
		}
	}
}

// TestFleetRestartReleases: a server out by its rules before a restart
// whose rules no longer want it out is restored at the first evaluation,
// and so is one out by an override that is gone, even while its rules are
// pending: it was not out because of them.
func TestFleetRestartReleases(t *testing.T) {
	f := fleetFile(t, 4, rules.Limit{Set: true, N: 2})
	f.Services[0].Rules[0].For = 3 * time.Second
	all := f.Fleet.Static
	e := New(f)
	e.Resume(map[string]string{"web03": "up drain 100% #queue > 500", "web04": "up maint 100% #override: disk"},
		map[string]string{"web03": OutByRules, "web04": OutByOverride})
	res := e.EvaluateServers(t0, all, queues(all, map[string]float64{"web04": 900}, 1), nil)
	for _, name := range []string{"web03", "web04"} {
		if d := res.Server(name); d.Out() || d.Reply != "up ready 100%\n" {
			t.Errorf("%s %q, want its restore", name, d.Reply)
		}
	}
}

// TestFleetRestartRemembersGoneServers: a server that was out before a
// restart and is no longer discovered after it is remembered, counted,
// and answered its restore.
func TestFleetRestartRemembersGoneServers(t *testing.T) {
	f := fleetFile(t, 3, rules.Limit{Set: true, N: 1})
	e := New(f)
	e.AwaitPolls()
	e.Resume(map[string]string{"web03": "up drain 100% #queue > 500"}, map[string]string{"web03": OutByRules})
	listed := f.Fleet.Static[:2]
	res := e.EvaluateServers(t0, listed, queues(listed, map[string]float64{"web01": 900}, 1), nil)
	if d := res.Server("web03"); d == nil || !d.Restore || d.Reply != "up ready 100% #no longer discovered: restored\n" {
		t.Fatalf("web03, out before the restart and gone: %+v", d)
	}
	if d := res.Server("web01"); !d.Held {
		t.Errorf("web01 %q, want held while HAProxy holds web03", d.Reply)
	}
}

// TestGuardrailCountsAll: with guardrail_counts: all, a server HAProxy
// shows out for another cause takes a slot of max_unavailable; with the
// default (agent) it does not.
func TestGuardrailCountsAll(t *testing.T) {
	for _, all := range []bool{false, true} {
		b := newBuilder(t, "util")
		b.rule("default", rules.Rule{Name: "drain", Expr: "util > 0.5", Action: act("", "drain", rules.Unset, rules.Unset)})
		b.file.Fleet = &rules.Fleet{Label: "server", MaxUnavailable: rules.Limit{Set: true, N: 1}, Static: []string{"web01", "web02", "web03"}, CountsAll: all}
		e := New(b.file)
		e.SetOutside([]string{"web03"})
		snap := Snapshot{"util": {Value: math.NaN(), Servers: map[string]float64{"web01": 1, "web02": 0, "web03": 0}}}
		res := e.Evaluate(t0, snap, nil)
		d := res.Servers[0]
		if all != d.Held || all == d.Out() {
			t.Errorf("counts all=%v: web01 held=%v out=%v (%q)", all, d.Held, d.Out(), d.Reply)
		}
	}
}
