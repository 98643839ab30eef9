package decisionjson

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/jsonout"
	"github.com/haproxy-agent/agent/rules/ruleset"
)

// The reference encoding: each type through a struct and encoding/json,
// as the documents were written before the MarshalJSON methods appended
// into one buffer. The ref types copy the exported fields and tags of
// Value, RuleResult and Decision (TestRefTypesMatch checks it).

type refValue evaluator.Value

func (v refValue) MarshalJSON() ([]byte, error) {
	out := struct {
		Name      string   `json:"name"`
		Value     *float64 `json:"value"`
		NonFinite string   `json:"non_finite,omitempty"`
		Missing   string   `json:"missing,omitempty"`
	}{Name: v.Name, Missing: v.Missing}
	out.Value, out.NonFinite = jsonout.Number(v.Value)
	if v.Missing != "" {
		out.Value, out.NonFinite = nil, ""
	}
	return jsonout.Compact(out)
}

type refRuleResult struct {
	Name        string            `json:"name"`
	Expr        string            `json:"expr"`
	Outcome     evaluator.Outcome `json:"result"`
	State       evaluator.State   `json:"state"`
	ActiveSince time.Time         `json:"active_since,omitzero"`
	Action      string            `json:"action"`
	Weight      int32             `json:"weight"`
	Values      []refValue        `json:"values"`
	Error       string            `json:"error,omitempty"`
}

func (r refRuleResult) MarshalJSON() ([]byte, error) {
	type plain refRuleResult
	out := struct {
		plain
		Weight *int32 `json:"weight,omitempty"`
	}{plain: plain(r)}
	if r.Weight != ruleset.Unset {
		out.Weight = &r.Weight
	}
	return jsonout.Compact(out)
}

type refDecision struct {
	Service     string               `json:"service"`
	Op          ruleset.Op           `json:"op"`
	Admin       ruleset.Admin        `json:"admin"`
	Weight      int                  `json:"weight"`
	Absolute    bool                 `json:"absolute,omitempty"`
	Maxconn     int                  `json:"maxconn"`
	Phase       evaluator.Phase      `json:"phase"`
	QuietAt     time.Time            `json:"quiet_at,omitzero"`
	Ramp        *evaluator.Ramp      `json:"ramp,omitempty"`
	Description string               `json:"description,omitempty"`
	Reply       string               `json:"reply"`
	Firing      []string             `json:"firing"`
	Rules       []refRuleResult      `json:"rules"`
	Overrides   []evaluator.Override `json:"overrides,omitempty"`
	Server      string               `json:"server,omitempty"`
	Held        bool                 `json:"held,omitempty"`
	Stale       bool                 `json:"stale,omitempty"`
	OutBy       string               `json:"out_by,omitempty"`
	Restore     bool                 `json:"restore,omitempty"`
}

func (d refDecision) MarshalJSON() ([]byte, error) {
	type plain refDecision
	out := struct {
		plain
		Maxconn   *int                 `json:"maxconn,omitempty"`
		Overrides []evaluator.Override `json:"overrides,omitempty"`
	}{plain: plain(d), Overrides: d.Overrides}
	if d.Maxconn != ruleset.Unset {
		out.Maxconn = &d.Maxconn
	}
	if d.Server != "" {
		out.Overrides = nil
		for _, o := range d.Overrides {
			if o.Service == d.Server {
				out.Overrides = append(out.Overrides, o)
			}
		}
	}
	return jsonout.Compact(out)
}

func toRef(d *evaluator.Decision) refDecision {
	r := refDecision{Service: d.Service, Op: d.Op, Admin: d.Admin, Weight: d.Weight, Absolute: d.Absolute,
		Maxconn: d.Maxconn, Phase: d.Phase, QuietAt: d.QuietAt, Ramp: d.Ramp, Description: d.Description,
		Reply: d.Reply, Firing: d.Firing, Overrides: d.Overrides, Server: d.Server, Held: d.Held,
		Stale: d.Stale, OutBy: d.OutBy, Restore: d.Restore}
	if d.Rules != nil {
		r.Rules = []refRuleResult{}
	}
	for _, rr := range d.Rules {
		text := rr.Text()
		ref := refRuleResult{Name: text.Name, Expr: text.Expr, Outcome: rr.Outcome, State: rr.State,
			ActiveSince: rr.ActiveSince, Action: text.Action, Weight: rr.Weight, Error: rr.Error}
		if rr.Values != nil {
			ref.Values = []refValue{}
		}
		for _, v := range rr.Values {
			ref.Values = append(ref.Values, refValue(v))
		}
		r.Rules = append(r.Rules, ref)
	}
	return r
}

// exportedTags lists a struct type's exported fields as "Name tag", those
// of an embedded struct in its place (as encoding/json sees them), with
// the ref types' element types renamed to the real ones.
func exportedTags(t reflect.Type) []string {
	var out []string
	for _, f := range reflect.VisibleFields(t) {
		if f.IsExported() && !f.Anonymous {
			typ := strings.NewReplacer("decisionjson.refRuleResult", "evaluator.RuleResult", "decisionjson.refValue", "evaluator.Value").Replace(f.Type.String())
			out = append(out, f.Name+" "+typ+" "+string(f.Tag))
		}
	}
	return out
}

func TestRefTypesMatch(t *testing.T) {
	for _, pair := range [][2]any{{evaluator.Value{}, refValue{}}, {evaluator.RuleResult{}, refRuleResult{}}, {evaluator.Decision{}, refDecision{}}} {
		real, ref := reflect.TypeOf(pair[0]), reflect.TypeOf(pair[1])
		got, want := exportedTags(real), exportedTags(ref)
		// Field order may differ; the set may not.
		if !reflect.DeepEqual(sorted(got), sorted(want)) {
			t.Errorf("%s fields\n%v\nref\n%v", real, got, want)
		}
	}
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

// TestDecisionJSONAsReference encodes thousands of generated decisions,
// with every optional member present or not, awkward strings and
// non-finite values, and compares them byte for byte with the reference
// encoding, inside an indented document as /status and `agent eval`
// write them.
func TestDecisionJSONAsReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	strs := []string{"", "cpu > 0.9 && mem < 1", "a\"b\\c", "line\nbreak\ttab\r\b\f\x01\x1f\x7f", "<&>",
		"é ü 日本", "bad\xffutf8\xc3", "\u2028\u2029", "web00042", "drain"}
	str := func() string { return strs[rng.IntN(len(strs))] }
	floats := []float64{0, math.Copysign(0, -1), 1, -1.5, 0.1, 1e-7, 1.5e-9, 1e20, 1e21, 1.234e300, 123456789.125,
		math.NaN(), math.Inf(1), math.Inf(-1), math.SmallestNonzeroFloat64, math.MaxFloat64}
	tm := func() time.Time {
		if rng.IntN(2) == 0 {
			return time.Time{}
		}
		return time.Unix(1_700_000_000+rng.Int64N(1e8), rng.Int64N(1e9)).In(time.FixedZone("x", 3600*rng.IntN(3)))
	}
	var all Decisions
	for i := range 3000 {
		d := &evaluator.Decision{Service: str(), Op: ruleset.Op(rng.IntN(3)), Admin: ruleset.Admin(rng.IntN(4)),
			Weight: rng.IntN(300) - 1, Absolute: rng.IntN(2) == 0, Maxconn: rng.IntN(5) - 1,
			Phase: evaluator.Phase(str()), QuietAt: tm(), Description: str(), Reply: str() + "\n",
			Held: rng.IntN(2) == 0, Stale: rng.IntN(2) == 0, OutBy: str(), Restore: rng.IntN(2) == 0}
		if rng.IntN(3) == 0 {
			d.Server = str()
		}
		if rng.IntN(3) == 0 {
			d.Ramp = &evaluator.Ramp{From: rng.IntN(100), To: rng.IntN(100), Since: tm(), Until: tm()}
		}
		switch rng.IntN(3) {
		case 1:
			d.Firing = []string{}
		case 2:
			d.Firing = []string{str(), str()}
		}
		if rng.IntN(4) > 0 {
			d.Rules = []evaluator.RuleResult{}
			for range rng.IntN(4) {
				rr := evaluator.RuleResult{Outcome: evaluator.Outcome(rng.IntN(3)), State: evaluator.State(rng.IntN(3)),
					ActiveSince: tm(), Weight: rng.Int32N(4) - 1, Error: str()}
				if rng.IntN(8) > 0 { // a zero result has no text: written empty
					rr.RuleText = &evaluator.RuleText{Name: str(), Expr: str(), Action: str()}
				}
				if rng.IntN(4) > 0 {
					rr.Values = []evaluator.Value{}
					for range rng.IntN(4) {
						v := evaluator.Value{Name: str(), Value: floats[rng.IntN(len(floats))]}
						if rng.IntN(3) == 0 {
							v.Missing = str()
						}
						rr.Values = append(rr.Values, v)
					}
				}
				d.Rules = append(d.Rules, rr)
			}
		}
		for range rng.IntN(3) {
			svc := ""
			if rng.IntN(2) == 0 {
				svc = d.Server
			}
			d.Overrides = append(d.Overrides, evaluator.Override{ID: str(), Service: svc,
				Action: act("", "drain", ruleset.Unset, ruleset.Unset), Reason: str(), Created: t0, Expires: tm()})
		}
		got, err := jsonout.Marshal(Decisions{d})
		if err != nil {
			t.Fatal(err)
		}
		want, err := jsonout.Marshal([]refDecision{toRef(d)})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("decision %d:\n got %s\nwant %s", i, got, want)
		}
		all = append(all, d)
		if i%10 == 0 {
			all = append(all, nil)
		}
	}

	// A document takes a list element by element (jsonout.List), and
	// encoding/json whole, through MarshalJSON: the same bytes.
	for _, ds := range []Decisions{all, nil, {}, {nil}, all[:1]} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(struct {
			L Decisions `json:"l"`
		}{ds}); err != nil {
			t.Fatal(err)
		}
		got, err := jsonout.Marshal(struct {
			L Decisions `json:"l"`
		}{ds})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("list of %d decisions written by element differs from MarshalJSON's:\n got %.2000s\nwant %.2000s", len(ds), got, want.Bytes())
		}
	}
}

// TestDecisionJSONOneAllocation checks that a list's buffer is sized
// ahead: encoding it allocates once, not once per doubling.
func TestDecisionJSONOneAllocation(t *testing.T) {
	d := &evaluator.Decision{Service: "default", Server: "web00042", Phase: "acting", Reply: "up ready 90%\n",
		Firing: []string{"rule-0"}, Maxconn: ruleset.Unset}
	for i := range 10 {
		d.Rules = append(d.Rules, evaluator.RuleResult{RuleText: &evaluator.RuleText{Name: "rule-" + strings.Repeat("x", i),
			Expr: strings.Repeat("cpu > 1000 + 1 || ", 20) + "load1 > 1000", Action: "drain"},
			Outcome: evaluator.False, State: evaluator.Inactive, Weight: ruleset.Unset,
			Values: []evaluator.Value{{Name: "cpu", Value: 0.99735449735444}, {Name: "load1", Value: math.Inf(1)}}})
	}
	ds := Decisions{d}
	if n := testing.AllocsPerRun(100, func() { _, _ = ds.MarshalJSON() }); n != 1 {
		t.Errorf("%v allocations per decision, want 1", n)
	}
}

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func act(op, admin string, weight, maxconn int) ruleset.Action {
	o, _ := ruleset.LookupOp(op)
	a, _ := ruleset.LookupAdmin(admin)
	return ruleset.Action{Op: o, Admin: a, Weight: weight, Maxconn: maxconn}
}
