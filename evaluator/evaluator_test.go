package evaluator

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr"

	"github.com/haproxy-agent/agent/rules"
)

// builder makes rule files in code, so that these tests do not depend on the
// rule file parser.
type builder struct {
	t    testing.TB
	file *rules.File
	env  map[string]any
}

func newBuilder(t testing.TB, metrics ...string) *builder {
	b := &builder{t: t, env: map[string]any{}, file: &rules.File{
		Interval: time.Second, StaleAfter: 3 * time.Second,
		Services: []*rules.Service{{Name: rules.DefaultService}},
		Reply: rules.Reply{
			Default:    rules.Action{Op: rules.Up, Admin: rules.Ready, Weight: 100, Maxconn: rules.Unset},
			MinWeight:  1,
			RestoreFor: 30 * time.Second,
		},
	}}
	for i, m := range metrics {
		b.file.Metrics = append(b.file.Metrics, &rules.Metric{Name: m, Index: i, Source: "host", Selector: m})
		b.env[m] = 0.0
	}
	return b
}

func act(op, admin string, weight, maxconn int) rules.Action {
	o, _ := rules.LookupOp(op)
	a, _ := rules.LookupAdmin(admin)
	return rules.Action{Op: o, Admin: a, Weight: weight, Maxconn: maxconn}
}

// rule adds a rule to the named service (created on first use).
func (b *builder) rule(service string, r rules.Rule) *rules.Rule {
	b.t.Helper()
	var svc *rules.Service
	for _, s := range b.file.Services {
		if s.Name == service {
			svc = s
		}
	}
	if svc == nil {
		svc = &rules.Service{Name: service}
		b.file.Services = append(b.file.Services, svc)
	}
	if r.Name == "" {
		r.Name = r.Expr
	}
	if r.Action == (rules.Action{}) {
		r.Action = act("", "", rules.Unset, rules.Unset)
	}
	var err error
	if r.When, err = expr.Compile(r.Expr, expr.Env(b.env), expr.AsBool()); err != nil {
		b.t.Fatal(err)
	}
	if r.WeightExpr != "" {
		if r.Weight, err = expr.Compile(r.WeightExpr, expr.Env(b.env), expr.AsFloat64()); err != nil {
			b.t.Fatal(err)
		}
	}
	r.Needs = rules.MetricsRead(b.file, r.When, r.Weight)
	if r.Action.Maxconn != rules.Unset {
		svc.UsesMaxconn = true
	}
	svc.Rules = append(svc.Rules, &r)
	return &r
}

func snap(kv ...any) Snapshot {
	s := Snapshot{}
	for i := 0; i < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case float64:
			s[kv[i].(string)] = Sample{Value: v}
		case int:
			s[kv[i].(string)] = Sample{Value: float64(v)}
		case string:
			s[kv[i].(string)] = Sample{Missing: v}
		}
	}
	return s
}

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func TestSpecExamples(t *testing.T) {
	b := newBuilder(t, "queue_depth", "cpu")
	b.rule("default", rules.Rule{Expr: "queue_depth > 500", Action: act("", "drain", rules.Unset, rules.Unset)})
	b.rule("default", rules.Rule{Expr: "cpu > 0.9", Action: act("", "", 50, rules.Unset)})
	e := New(b.file)
	for _, tc := range []struct {
		s    Snapshot
		want string
	}{
		{snap("queue_depth", 600, "cpu", 0.5), "up drain 100% #queue_depth > 500\n"},
		{snap("queue_depth", 1, "cpu", 0.95), "up ready 50% #cpu > 0.9\n"},
		{snap("queue_depth", 1, "cpu", 0.1), "up ready 100%\n"},
		{snap("queue_depth", 900, "cpu", 0.99), "up drain 50% #queue_depth > 500; cpu > 0.9\n"},
	} {
		got := e.Evaluate(t0, tc.s, nil).Service("").Reply
		if got != tc.want {
			t.Errorf("reply = %q, want %q", got, tc.want)
		}
	}
}

func TestCombining(t *testing.T) {
	b := newBuilder(t, "x")
	b.rule("default", rules.Rule{Name: "w30", Expr: "x > 1", Action: act("", "", 30, rules.Unset)})
	b.rule("default", rules.Rule{Name: "drain", Expr: "x > 2", Action: act("", "drain", rules.Unset, 50)})
	b.rule("default", rules.Rule{Name: "maint", Expr: "x > 3", Action: act("", "maint", 0, rules.Unset)})
	b.rule("default", rules.Rule{Name: "stop", Expr: "x > 4", Action: act("stopped", "", rules.Unset, 10)})
	b.rule("default", rules.Rule{Name: "fail", Expr: "x > 4", Action: act("fail", "", rules.Unset, rules.Unset), Description: "failing"})
	e := New(b.file)
	for _, tc := range []struct {
		x    float64
		want string
	}{
		{0, "up ready 100% maxconn:0\n"},
		{1.5, "up ready 30% maxconn:0 #w30\n"},
		{2.5, "up drain 30% maxconn:50 #w30; drain\n"},
		// weight 0% from a rule is floored at min_weight.
		{3.5, "up maint 1% maxconn:50 #w30; drain; maint\n"},
		// The first down-type rule in file order names the word.
		{4.5, "stopped maint 1% maxconn:10 #w30; drain; maint; stop; failing\n"},
	} {
		d := e.Evaluate(t0, snap("x", tc.x), nil).Service("default")
		if d.Reply != tc.want {
			t.Errorf("x=%v: reply = %q, want %q", tc.x, d.Reply, tc.want)
		}
	}
}

func TestForAndKeepFiringFor(t *testing.T) {
	b := newBuilder(t, "x")
	b.rule("default", rules.Rule{Name: "hot", Expr: "x > 1", Action: act("", "drain", rules.Unset, rules.Unset),
		For: 10 * time.Second, KeepFiringFor: 20 * time.Second})
	e := New(b.file)
	steps := []struct {
		at    time.Duration
		x     float64
		state State
		admin string
	}{
		{0, 5, Pending, "ready"},
		{5 * time.Second, 5, Pending, "ready"},
		{10 * time.Second, 5, Firing, "drain"},
		{15 * time.Second, 0, Firing, "drain"}, // keep_firing_for starts
		{30 * time.Second, 0, Firing, "drain"},
		{35 * time.Second, 0, Inactive, "ready"},
		{40 * time.Second, 5, Pending, "ready"},
		{45 * time.Second, 0, Inactive, "ready"}, // pending resolves at once
	}
	for _, s := range steps {
		d := e.Evaluate(t0.Add(s.at), snap("x", s.x), nil).Service("")
		if d.Rules[0].State != s.state || d.Admin.String() != s.admin {
			t.Errorf("t=%v x=%v: state %s admin %s, want %s %s", s.at, s.x, d.Rules[0].State, d.Admin, s.state, s.admin)
		}
	}
}

func TestOnMissing(t *testing.T) {
	for _, tc := range []struct {
		policy rules.OnMissing
		// admin after: x true, then missing; and missing from the start.
		afterFiring, fromStart string
		outcome                Outcome
	}{
		{rules.Keep, "drain", "ready", Unknown},
		{rules.Skip, "ready", "ready", Unknown},
		{rules.Fire, "drain", "drain", Unknown},
	} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			b := newBuilder(t, "x", "y")
			b.rule("default", rules.Rule{Name: "r", Expr: "x > 1 || y > 1", Action: act("", "drain", rules.Unset, rules.Unset), OnMissing: tc.policy})
			e := New(b.file)
			e.Evaluate(t0, snap("x", 5, "y", 0), nil)
			d := e.Evaluate(t0.Add(time.Second), snap("x", "connection refused", "y", 0), nil).Service("")
			if d.Admin.String() != tc.afterFiring || d.Rules[0].Outcome != tc.outcome {
				t.Errorf("after firing: admin %s outcome %s, want %s %s", d.Admin, d.Rules[0].Outcome, tc.afterFiring, tc.outcome)
			}
			if v := d.Rules[0].Values[0]; v.Name != "x" || v.Missing != "connection refused" {
				t.Errorf("value seen = %+v", v)
			}
			fresh := New(b.file)
			d = fresh.Evaluate(t0, snap("y", 0), nil).Service("")
			if d.Admin.String() != tc.fromStart {
				t.Errorf("from start: admin %s, want %s", d.Admin, tc.fromStart)
			}
			if got := d.Rules[0].Values[0].Missing; got != "no value" {
				t.Errorf("absent metric reason = %q", got)
			}
		})
	}
}

func TestNaNIsMissing(t *testing.T) {
	b := newBuilder(t, "x")
	b.rule("default", rules.Rule{Expr: "x < 1", Action: act("down", "", rules.Unset, rules.Unset)})
	d := New(b.file).Evaluate(t0, snap("x", math.NaN()), nil).Service("")
	if d.Reply != "up ready 100%\n" || d.Rules[0].Outcome != Unknown {
		t.Errorf("NaN: reply %q outcome %s", d.Reply, d.Rules[0].Outcome)
	}
}

func TestComputedWeight(t *testing.T) {
	b := newBuilder(t, "cpu")
	b.rule("default", rules.Rule{Name: "shed", Expr: "cpu > 0.5", WeightExpr: "100 * (1 - cpu)", Action: act("", "", rules.Unset, rules.Unset)})
	e := New(b.file)
	for _, tc := range []struct {
		cpu  float64
		want string
	}{
		{0.2, "up ready 100%\n"},
		{0.55, "up ready 45% #shed\n"},
		{0.999, "up ready 1% #shed\n"}, // rounds to 0, floored at min_weight
	} {
		d := e.Evaluate(t0, snap("cpu", tc.cpu), nil).Service("")
		if d.Reply != tc.want {
			t.Errorf("cpu=%v: %q, want %q", tc.cpu, d.Reply, tc.want)
		}
	}
}

func TestServices(t *testing.T) {
	b := newBuilder(t, "q")
	b.rule("default", rules.Rule{Expr: "q > 500", Action: act("", "drain", rules.Unset, rules.Unset)})
	b.rule("worker", rules.Rule{Expr: "q > 100", Action: act("", "", 25, rules.Unset)})
	r := New(b.file).Evaluate(t0, snap("q", 200), nil)
	if got := r.Service("").Reply; got != "up ready 100%\n" {
		t.Errorf("default: %q", got)
	}
	if got := r.Service("worker").Reply; got != "up ready 25% #q > 100\n" {
		t.Errorf("worker: %q", got)
	}
	if r.Service("nope") != nil {
		t.Error("unknown service has a decision")
	}
}

func TestOverrides(t *testing.T) {
	b := newBuilder(t, "q")
	b.rule("default", rules.Rule{Expr: "q > 500", Action: act("", "drain", rules.Unset, rules.Unset)})
	b.rule("worker", rules.Rule{Expr: "q > 100", Action: act("", "", 25, rules.Unset)})
	e := New(b.file)
	ovs := []Override{
		{ID: "1", Action: act("", "maint", rules.Unset, rules.Unset), Reason: "disk swap", Expires: t0.Add(time.Minute)},
		{ID: "2", Service: "worker", Action: act("up", "ready", 100, rules.Unset), Reason: "trust me"},
	}
	r := e.Evaluate(t0, snap("q", 600), ovs)
	// The rule's drain is overridden: only the override is named.
	if got := r.Service("").Reply; got != "up maint 100% #override: disk swap\n" {
		t.Errorf("default: %q", got)
	}
	// ready loses to another override's admin word: not in force, not
	// named, and the rules' weight stays.
	if got := r.Service("worker").Reply; got != "up maint 25% #override: disk swap; q > 100\n" {
		t.Errorf("worker: %q", got)
	}
	r = e.Evaluate(t0.Add(time.Minute), snap("q", 600), ovs)
	if got := r.Service("").Reply; got != "up drain 100% #q > 500\n" {
		t.Errorf("after expiry: %q", got)
	}
}

func TestDescriptionIsCutAndClean(t *testing.T) {
	b := newBuilder(t, "x")
	b.rule("default", rules.Rule{Expr: "x > 1", Description: "caf\u00e9 " + strings.Repeat("y", 300), Action: act("down", "", rules.Unset, rules.Unset)})
	d := New(b.file).Evaluate(t0, snap("x", 2), nil).Service("")
	if len(d.Description) != MaxDescription || !strings.HasPrefix(d.Description, "caf?? yyy") {
		t.Errorf("description %q (%d bytes)", d.Description, len(d.Description))
	}
	if !strings.HasSuffix(d.Reply, "y\n") || strings.Count(d.Reply, "\n") != 1 {
		t.Errorf("reply %q", d.Reply)
	}
}

func TestReloadCarriesState(t *testing.T) {
	b := newBuilder(t, "x")
	b.rule("default", rules.Rule{Name: "same", Expr: "x > 1", For: time.Minute, Action: act("", "drain", rules.Unset, rules.Unset)})
	b.rule("default", rules.Rule{Name: "changed", Expr: "x > 1", For: time.Minute, Action: act("", "maint", rules.Unset, rules.Unset)})
	e := New(b.file)
	e.Evaluate(t0, snap("x", 5), nil)

	b2 := newBuilder(t, "x")
	b2.rule("default", rules.Rule{Name: "same", Expr: "x > 1", For: time.Minute, Action: act("", "drain", rules.Unset, rules.Unset)})
	b2.rule("default", rules.Rule{Name: "changed", Expr: "x > 2", For: time.Minute, Action: act("", "maint", rules.Unset, rules.Unset)})
	e2 := e.Reload(b2.file)
	d := e2.Evaluate(t0.Add(time.Minute), snap("x", 5), nil).Service("")
	if d.Rules[0].State != Firing || d.Rules[1].State != Pending {
		t.Errorf("states after reload: %s %s, want firing pending", d.Rules[0].State, d.Rules[1].State)
	}
	if !d.Rules[0].ActiveSince.Equal(t0) {
		t.Errorf("active since %v, want %v", d.Rules[0].ActiveSince, t0)
	}
}

// TestRunErrorOneLine checks that an expression failing at run time
// reports its error on one line: expr's own message spans three (the
// expression and a ^ under the column), which broke the eval table.
func TestRunErrorOneLine(t *testing.T) {
	b := newBuilder(t, "cpu")
	b.rule("default", rules.Rule{Name: "div", Expr: "int(cpu) % int(cpu - 0.5) == 0", Action: act("", "drain", rules.Unset, rules.Unset)})
	b.rule("default", rules.Rule{Name: "w", Expr: "cpu >= 0", WeightExpr: "100 * (int(cpu) % int(cpu - 0.5))"})
	e := New(b.file)
	d := e.Evaluate(t0, snap("cpu", 0.5), nil).Service("")
	if len(d.Rules) != 2 {
		t.Fatalf("%d rule results", len(d.Rules))
	}
	for _, rr := range d.Rules {
		if rr.Outcome != Unknown || !strings.Contains(rr.Error, "integer divide by zero") {
			t.Errorf("%s: outcome %v, error %q; want unknown with the division by zero", rr.Name, rr.Outcome, rr.Error)
		}
		if strings.ContainsAny(rr.Error, "\r\n") {
			t.Errorf("%s: error spans lines: %q", rr.Name, rr.Error)
		}
	}
}

// TestRuleValues checks the values each rule's result says it read, for
// rules whose metrics are consecutive in the file (their values are shared)
// and rules whose metrics are not, in the default service and another.
func TestRuleValues(t *testing.T) {
	b := newBuilder(t, "a", "b", "c")
	b.rule("default", rules.Rule{Expr: "b > 1"})
	b.rule("default", rules.Rule{Expr: "a > 1 && c > 1"})
	b.rule("default", rules.Rule{Expr: "b > 1 && a > 1"})
	b.rule("default", rules.Rule{Expr: "true"})
	b.rule("other", rules.Rule{Expr: "c < 1 || b < 1"})
	e := New(b.file)
	res := e.Evaluate(t0, Snapshot{"a": {Value: 1}, "b": {Value: 2}, "c": {Missing: "gone"}}, nil)
	type val struct {
		name    string
		value   float64
		missing string
	}
	a, bv, c := val{"a", 1, ""}, val{"b", 2, ""}, val{"c", math.NaN(), "gone"}
	want := [][][]val{{{bv}, {a, c}, {a, bv}, nil}, {{bv, c}}}
	for i, d := range res.Services {
		for j, r := range d.Rules {
			var got []val
			for _, v := range r.Values {
				got = append(got, val{v.Name, v.Value, v.Missing})
			}
			w := want[i][j]
			ok := len(got) == len(w)
			for k := 0; ok && k < len(w); k++ {
				ok = got[k].name == w[k].name && got[k].missing == w[k].missing &&
					(got[k].value == w[k].value || math.IsNaN(got[k].value) && math.IsNaN(w[k].value))
			}
			if !ok {
				t.Errorf("%s rule %q: values %v; want %v", d.Service, r.Name, got, w)
			}
		}
	}
}

// TestMaxReplyLen checks that the longest reply line fits MaxReplyLen,
// from which the state file's read limit is derived.
func TestMaxReplyLen(t *testing.T) {
	d := &Decision{Op: rules.Stopped, Admin: rules.Maint, Weight: rules.MaxWeight, Maxconn: math.MaxInt, full: true,
		Description: description([]string{strings.Repeat("x", 1000)})}
	line := formatReply(d)
	if n := len(line) - 1; n > MaxReplyLen {
		t.Errorf("reply of %d bytes, over MaxReplyLen (%d): %q", n, MaxReplyLen, line)
	}
}

// TestRoundingNonFinite: int() of an infinite value wrapped around to
// -9223372036854775808, so int(ratio * 100) >= 5 was false where
// ratio * 100 >= 5 is true, and a weight from it came out 0%. int() of a
// number that is not finite (or beyond the integers) is now an error: the
// rule is unknown, as a weight that is not finite is. ceil, floor and
// round keep infinities: a comparison reads as without them, and a weight
// from them is refused as without them.
func TestRoundingNonFinite(t *testing.T) {
	inf := math.Inf(1)
	for _, tc := range []struct {
		when, weight string
		ratio        float64
		want         Outcome
	}{
		{"int(ratio * 100) >= 5", "", inf, Unknown},
		{"int(-ratio) < 0", "", inf, Unknown},
		{"int(ratio - ratio) == 0", "", inf, Unknown}, // NaN
		{"int(ratio) > 0", "", 1e300, Unknown},        // beyond the integers
		{"int(ratio) % 2 == 0", "", inf, Unknown},
		{"int(ratio * 100) >= 5", "", 0.07, True},
		{"int(ratio) % 2 == 0", "", 4.5, True},
		{"ceil(ratio) >= 5", "", inf, True},
		{"floor(-ratio) < 0", "", inf, True},
		{"round(ratio) >= 5", "", inf, True},
		{"ratio * 100 >= 5", "", inf, True},
		{"true", "int(100 - ratio)", inf, Unknown},
		{"true", "ceil(100 - ratio)", inf, Unknown},
		{"true", "round(100 - ratio)", inf, Unknown},
		{"true", "100 - ratio", inf, Unknown},
		{"true", "int(100 - ratio)", 49.5, True},
	} {
		// Compiled as a rule file compiles them.
		text := fmt.Sprintf("metrics:\n  ratio: host:cpu\nrules:\n  - name: r\n    when: %q\n    then: drain\n", tc.when)
		if tc.weight != "" {
			text = fmt.Sprintf("metrics:\n  ratio: host:cpu\nrules:\n  - name: r\n    when: %q\n    weight: %q\n", tc.when, tc.weight)
		}
		f, err := rules.Parse([]byte(text), "r.yaml")
		if err != nil {
			t.Fatalf("%s%s: %v", tc.when, tc.weight, err)
		}
		rr := New(f).Evaluate(t0, snap("ratio", tc.ratio), nil).Service("").Rules[0]
		if rr.Outcome != tc.want {
			t.Errorf("ratio %v, when %s, weight %q: %v (%q); want %v", tc.ratio, tc.when, tc.weight, rr.Outcome, rr.Error, tc.want)
		}
		if tc.want == Unknown && strings.HasPrefix(tc.when+tc.weight, "int(") && !strings.Contains(rr.Error, "int(") {
			t.Errorf("ratio %v, %s%s: error %q does not name int()", tc.ratio, tc.when, tc.weight, rr.Error)
		}
		if tc.weight != "" && tc.want == True && rr.Weight != 50 {
			t.Errorf("int(100 - 49.5): weight %d; want 50 (int truncates)", rr.Weight)
		}
	}
}

// TestOutcomeAndStateReadBack: the words /status writes for a rule's
// outcome and state read back as the same values, and an unknown word is
// an error.
func TestOutcomeAndStateReadBack(t *testing.T) {
	for _, o := range []Outcome{False, True, Unknown} {
		b, _ := o.MarshalText()
		var got Outcome
		if err := got.UnmarshalText(b); err != nil || got != o {
			t.Errorf("outcome %q read back as %v, %v", b, got, err)
		}
	}
	for _, s := range []State{Inactive, Pending, Firing} {
		b, _ := s.MarshalText()
		var got State
		if err := got.UnmarshalText(b); err != nil || got != s {
			t.Errorf("state %q read back as %v, %v", b, got, err)
		}
	}
	var o Outcome
	if err := o.UnmarshalText([]byte("maybe")); err == nil {
		t.Error("outcome \"maybe\" read without an error")
	}
	var s State
	if err := s.UnmarshalText([]byte("resolved")); err == nil {
		t.Error("state \"resolved\" read without an error")
	}
}
