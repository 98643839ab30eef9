package evaluator

import (
	"testing"
	"time"

	"github.com/haproxy-agent/agent/rules"
)

// step is one evaluation over simulated time and what must come of it.
type step struct {
	at    time.Duration
	x     float64
	ovs   []Override
	reply string
	phase Phase
}

func runSteps(t *testing.T, e *Evaluator, steps []step) []*Decision {
	t.Helper()
	var out []*Decision
	for _, s := range steps {
		d := e.Evaluate(t0.Add(s.at), snap("x", s.x), s.ovs).Service("")
		if d.Reply != s.reply || s.phase != "" && d.Phase != s.phase {
			t.Errorf("t=%v x=%v: reply %q phase %s, want %q %s", s.at, s.x, d.Reply, d.Phase, s.reply, s.phase)
		}
		out = append(out, d)
	}
	return out
}

func TestPhasesOverTime(t *testing.T) {
	b := newBuilder(t, "x")
	b.rule("default", rules.Rule{Name: "hot", Expr: "x > 1", Action: act("", "drain", rules.Unset, rules.Unset)})
	b.rule("default", rules.Rule{Name: "warm", Expr: "x > 0.5", Action: act("", "", 50, rules.Unset)})
	e := New(b.file)
	s := 1 * time.Second
	ds := runSteps(t, e, []step{
		// A fresh start restores ready 100% for restore_for (30s).
		{0, 0, nil, "up ready 100%\n", Restoring},
		{29 * s, 0, nil, "up ready 100%\n", Restoring},
		{30 * s, 0, nil, "up\n", Quiet},
		{40 * s, 0, nil, "up\n", Quiet},
		{50 * s, 2, nil, "up drain 50% #hot; warm\n", Acting},
		{60 * s, 0.7, nil, "up ready 50% #warm\n", Acting},
		// The agent's action ends at 70s: ready 100% until 100s.
		{70 * s, 0, nil, "up ready 100%\n", Restoring},
		{99 * s, 0, nil, "up ready 100%\n", Restoring},
		{100 * s, 0, nil, "up\n", Quiet},
	})
	if !ds[0].QuietAt.Equal(t0.Add(30*s)) || !ds[7].QuietAt.Equal(t0.Add(100*s)) {
		t.Errorf("quiet at %v and %v, want t0+30s and t0+100s", ds[0].QuietAt, ds[7].QuietAt)
	}
	if !ds[2].QuietAt.IsZero() || !ds[4].QuietAt.IsZero() {
		t.Errorf("quiet_at set outside the restoring phase: %v %v", ds[2].QuietAt, ds[4].QuietAt)
	}
	// A quiet decision still says what the agent wants.
	if d := ds[2]; d.Admin != rules.Ready || d.Weight != 100 || d.Maxconn != rules.Unset {
		t.Errorf("quiet decision %+v", d)
	}
}

func TestRestoreAlways(t *testing.T) {
	b := newBuilder(t, "x")
	b.rule("default", rules.Rule{Name: "hot", Expr: "x > 1", Action: act("", "drain", rules.Unset, 20)})
	b.file.Reply.RestoreFor, b.file.Reply.RestoreAlways = 0, true
	ds := runSteps(t, New(b.file), []step{
		{0, 0, nil, "up ready 100% maxconn:0\n", Restoring},
		{time.Hour, 0, nil, "up ready 100% maxconn:0\n", Restoring},
		{time.Hour + time.Second, 2, nil, "up drain 100% maxconn:20 #hot\n", Acting},
		{2 * time.Hour, 0, nil, "up ready 100% maxconn:0\n", Restoring},
	})
	if !ds[3].QuietAt.IsZero() {
		t.Errorf("restore_for always: quiet at %v", ds[3].QuietAt)
	}
}

func TestMaxconnLeftBehindIsLifted(t *testing.T) {
	s := time.Second
	t.Run("override on a file without maxconn rules", func(t *testing.T) {
		b := newBuilder(t, "x")
		b.rule("default", rules.Rule{Name: "hot", Expr: "x > 1", Action: act("", "drain", rules.Unset, rules.Unset)})
		ov := []Override{{ID: "1", Action: act("", "drain", rules.Unset, 10), Reason: "deploy", Expires: t0.Add(60 * s)}}
		runSteps(t, New(b.file), []step{
			{0, 0, nil, "up ready 100%\n", Restoring},
			{40 * s, 0, ov, "up drain 100% maxconn:10 #override: deploy\n", Acting},
			// Expired: ready, 100% and maxconn:0 for restore_for.
			{60 * s, 0, ov, "up ready 100% maxconn:0\n", Restoring},
			{89 * s, 0, ov, "up ready 100% maxconn:0\n", Restoring},
			{90 * s, 0, ov, "up\n", Quiet},
		})
	})
	t.Run("a maxconn-only rule", func(t *testing.T) {
		b := newBuilder(t, "x")
		b.rule("default", rules.Rule{Name: "busy", Expr: "x > 1", Action: act("", "", rules.Unset, 30)})
		b.file.Reply.Maxconn = 500
		runSteps(t, New(b.file), []step{
			{0, 0, nil, "up ready 100% maxconn:500\n", Restoring},
			{30 * s, 0, nil, "up\n", Quiet},
			// Only the limit is said: an operator's drain or weight stays.
			{40 * s, 2, nil, "up maxconn:30 #busy\n", Acting},
			{50 * s, 0, nil, "up maxconn:500\n", Restoring},
			{80 * s, 0, nil, "up\n", Quiet},
		})
	})
	t.Run("maxconn 0 does not beat a real limit", func(t *testing.T) {
		b := newBuilder(t, "x")
		b.rule("default", rules.Rule{Name: "unlimited", Expr: "x > 1", Action: act("", "", rules.Unset, 0)})
		b.rule("default", rules.Rule{Name: "limit", Expr: "x > 2", Action: act("", "", rules.Unset, 40)})
		b.rule("default", rules.Rule{Name: "tighter", Expr: "x > 3", Action: act("", "", rules.Unset, 25)})
		runSteps(t, New(b.file), []step{
			{0, 1.5, nil, "up ready 100% maxconn:0 #unlimited\n", Acting},
			{s, 2.5, nil, "up ready 100% maxconn:40 #unlimited; limit\n", Acting},
			{2 * s, 3.5, nil, "up ready 100% maxconn:25 #unlimited; limit; tighter\n", Acting},
		})
	})
}

func TestRamp(t *testing.T) {
	s := time.Second
	b := newBuilder(t, "x")
	b.rule("default", rules.Rule{Name: "hot", Expr: "x > 1", Action: act("", "drain", rules.Unset, rules.Unset)})
	b.rule("default", rules.Rule{Name: "warm", Expr: "x > 0.5", Action: act("", "", 50, rules.Unset)})
	b.rule("default", rules.Rule{Name: "down", Expr: "x < 0", Action: act("down", "", rules.Unset, rules.Unset)})
	b.file.Reply.MinWeight = 2
	b.file.Reply.Ramp = 100 * s
	ds := runSteps(t, New(b.file), []step{
		// No ramp at start: HAProxy's weight is whatever it was.
		{0, 0, nil, "up ready 100%\n", Restoring},
		{10 * s, 2, nil, "up drain 50% #hot; warm\n", Acting},
		// The drain ends: from min_weight (2%) to 100% over 100s.
		{20 * s, 0, nil, "up ready 2%\n", Acting},
		{70 * s, 0, nil, "up ready 51%\n", Acting},
		// A lower target mid-ramp is applied at once...
		{80 * s, 0.7, nil, "up ready 50% #warm\n", Acting},
		// ...and a rise starts a new ramp from there.
		{90 * s, 0, nil, "up ready 50%\n", Acting},
		{140 * s, 0, nil, "up ready 75%\n", Acting},
		{190 * s, 0, nil, "up ready 100%\n", Restoring},
		{220 * s, 0, nil, "up\n", Quiet},
		// Ending a down ramps too.
		{230 * s, -1, nil, "down ready 100% #down\n", Acting},
		{240 * s, 0, nil, "up ready 2%\n", Acting},
	})
	if r := ds[3].Ramp; r == nil || r.From != 2 || r.To != 100 || !r.Since.Equal(t0.Add(20*s)) || !r.Until.Equal(t0.Add(120*s)) {
		t.Errorf("ramp at 70s = %+v", r)
	}
	if ds[4].Ramp != nil || ds[7].Ramp != nil {
		t.Errorf("ramp shown when none runs: %+v %+v", ds[4].Ramp, ds[7].Ramp)
	}
}

func TestRampWithRestoreAlways(t *testing.T) {
	b := newBuilder(t, "x")
	b.rule("default", rules.Rule{Name: "hot", Expr: "x > 1", Action: act("", "maint", rules.Unset, rules.Unset)})
	b.file.Reply.RestoreFor, b.file.Reply.RestoreAlways = 0, true
	b.file.Reply.Ramp = 10 * time.Second
	runSteps(t, New(b.file), []step{
		{0, 2, nil, "up maint 100% #hot\n", Acting},
		{time.Second, 0, nil, "up ready 1%\n", Acting},
		{6 * time.Second, 0, nil, "up ready 50%\n", Acting},
		{11 * time.Second, 0, nil, "up ready 100%\n", Restoring},
	})
}

func TestResume(t *testing.T) {
	b := newBuilder(t, "x")
	b.rule("default", rules.Rule{Name: "hot", Expr: "x > 1", Action: act("", "drain", rules.Unset, rules.Unset)})
	b.rule("default", rules.Rule{Name: "busy", Expr: "x > 5", Action: act("", "", rules.Unset, 10)})
	b.file.Reply.Ramp = 10 * time.Second
	for _, tc := range []struct {
		told  string
		reply string
		phase Phase
	}{
		// HAProxy holds nothing of the agent's: no start-up restore, not
		// even of the maxconn the rules could have set.
		{"up\n", "up\n", Quiet},
		{"up maxconn:10 #busy\n", "up maxconn:0\n", Restoring},
		{"up ready 100% maxconn:0\n", "up ready 100% maxconn:0\n", Restoring},
		// The agent had drained the server: it restores, with the ramp.
		{"up drain 100% #hot\n", "up ready 1%\n", Acting},
	} {
		e := New(b.file)
		e.Resume(map[string]string{"default": tc.told, "gone": "up drain 100%"}, nil)
		d := e.Evaluate(t0, snap("x", 0), nil).Service("")
		if d.Reply != tc.reply || d.Phase != tc.phase {
			t.Errorf("told %q: reply %q phase %s, want %q %s", tc.told, d.Reply, d.Phase, tc.reply, tc.phase)
		}
	}
	// Without Resume: the full start-up restore.
	if d := New(b.file).Evaluate(t0, snap("x", 0), nil).Service(""); d.Reply != "up ready 100% maxconn:0\n" {
		t.Errorf("fresh start: %q", d.Reply)
	}
}

func TestReloadCarriesReplyState(t *testing.T) {
	b := newBuilder(t, "x")
	b.rule("default", rules.Rule{Name: "hot", Expr: "x > 1", Action: act("", "drain", rules.Unset, rules.Unset)})
	e := New(b.file)
	e.Evaluate(t0, snap("x", 0), nil)
	e.Evaluate(t0.Add(time.Minute), snap("x", 0), nil)

	b2 := newBuilder(t, "x")
	b2.rule("default", rules.Rule{Name: "other", Expr: "x > 3", Action: act("", "maint", rules.Unset, rules.Unset)})
	b2.rule("worker", rules.Rule{Name: "w", Expr: "x > 3", Action: act("", "maint", rules.Unset, rules.Unset)})
	r := e.Reload(b2.file).Evaluate(t0.Add(time.Minute+time.Second), snap("x", 0), nil)
	if d := r.Service(""); d.Reply != "up\n" || d.Phase != Quiet {
		t.Errorf("default after reload: %q %s, want quiet up", d.Reply, d.Phase)
	}
	// A service new in the file starts with its own start-up restore.
	if d := r.Service("worker"); d.Phase != Restoring {
		t.Errorf("new service after reload: %q %s", d.Reply, d.Phase)
	}
}

func TestOverridesCombine(t *testing.T) {
	b := newBuilder(t, "x")
	b.rule("default", rules.Rule{Name: "hot", Expr: "x > 1", Action: act("", "drain", 40, rules.Unset)})
	b.rule("default", rules.Rule{Name: "dead", Expr: "x > 2", Action: act("down", "", rules.Unset, rules.Unset)})
	ov := func(id, action string, service string) Override {
		a, err := rules.ParseAction(action)
		if err != nil {
			t.Fatal(err)
		}
		if a.Admin == rules.Ready && a.Op == rules.NoOp {
			a.Op = rules.Up // as override.ParseAction does
		}
		return Override{ID: id, Service: service, Action: a, Reason: "r" + id}
	}
	for _, tc := range []struct {
		name  string
		x     float64
		ovs   []Override
		reply string
	}{
		{"down wins", 0, []Override{ov("1", "drain", ""), ov("2", "down", ""), ov("3", "up", "")}, "down drain 100% #override: r1; override: r2\n"},
		{"maint over drain", 0, []Override{ov("1", "maint", ""), ov("2", "drain", "")}, "up maint 100% #override: r1\n"},
		{"lowest weight and maxconn", 0, []Override{ov("1", "weight 30%, maxconn 0", ""), ov("2", "weight 20%, maxconn 50", ""), ov("3", "maxconn 70", "")},
			"up ready 20% maxconn:50 #override: r2\n"},
		{"ready ignores the rules' admin, weight and down", 3, []Override{ov("1", "ready", "")}, "up ready 100% #override: r1\n"},
		{"ready keeps an override's weight", 1.5, []Override{ov("1", "ready", ""), ov("2", "weight 60%", "")}, "up ready 60% #override: r1; override: r2\n"},
		{"ready loses to another override's admin word", 1.5, []Override{ov("1", "ready", ""), ov("2", "drain", "")}, "up drain 40% #override: r2; hot\n"},
		{"another service's override is not in force", 1.5, []Override{ov("1", "maint", "worker")}, "up drain 40% #hot\n"},
	} {
		e := New(b.file)
		d := e.Evaluate(t0, snap("x", tc.x), tc.ovs).Service("")
		if d.Reply != tc.reply {
			t.Errorf("%s: reply %q, want %q", tc.name, d.Reply, tc.reply)
		}
	}
}

// A ready override is said on every poll, even with nothing to undo.
func TestReadyOverrideIsAlwaysSaid(t *testing.T) {
	b := newBuilder(t, "x")
	ovs := []Override{{ID: "1", Action: act("up", "ready", rules.Unset, rules.Unset), Reason: "trust me"}}
	runSteps(t, New(b.file), []step{
		{0, 0, ovs, "up ready 100% #override: trust me\n", Acting},
		{time.Hour, 0, ovs, "up ready 100% #override: trust me\n", Acting},
	})
}
