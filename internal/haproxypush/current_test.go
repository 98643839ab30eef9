package haproxypush

import (
	"fmt"
	"testing"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/rules"
)

// TestDiff: only the parts HAProxy does not hold are sent, state first.
func TestDiff(t *testing.T) {
	ready100 := Current{Weight: 100, InitialWeight: 100}
	for _, tc := range []struct {
		cur  Current
		want State
		cmds string
	}{
		{ready100, State{Admin: rules.Ready, Weight: "100%", Maxconn: rules.Unset}, "[]"},
		{ready100, State{Admin: rules.Drain, Weight: "100%", Maxconn: rules.Unset}, "[state drain]"},
		{Current{AdminState: 8, Weight: 100, InitialWeight: 100}, State{Admin: rules.Drain, Weight: "100%", Maxconn: rules.Unset}, "[]"},
		{Current{AdminState: 9, Weight: 100, InitialWeight: 100}, State{Admin: rules.Drain, Weight: "100%", Maxconn: rules.Unset}, "[state drain]"},
		{Current{AdminState: 1, Weight: 100, InitialWeight: 100}, State{Admin: rules.Ready, Weight: "50%", Maxconn: 10}, "[state ready weight 50% maxconn 10]"},
		{Current{Weight: 1, InitialWeight: 1}, State{Admin: rules.Ready, Weight: "50", Maxconn: rules.Unset}, "[weight 50]"},
		{Current{Weight: 0, InitialWeight: 1}, State{Admin: rules.Ready, Weight: "50%", Maxconn: 0}, "[]"},
	} {
		var got []string
		for _, c := range tc.cur.diff(tc.want) {
			got = append(got, c.String())
		}
		if fmt.Sprint(got) != tc.cmds && !(len(got) == 0 && tc.cmds == "[]") {
			t.Errorf("%+v to %+v: %v, want %s", tc.cur, tc.want, got, tc.cmds)
		}
	}
}

// TestWant: a quiet decision pushes nothing; down is pushed as maint; an
// absolute weight keeps its form.
func TestWant(t *testing.T) {
	if _, ok := Want(&evaluator.Decision{Op: rules.Up, Phase: evaluator.Quiet}); ok {
		t.Error("a quiet decision pushes")
	}
	if s, _ := Want(&evaluator.Decision{Op: rules.Down, Admin: rules.Ready, Weight: 100, Maxconn: rules.Unset, Phase: evaluator.Acting}); s.Admin != rules.Maint || s.Weight != "100%" {
		t.Errorf("down: %+v", s)
	}
	if s, _ := Want(&evaluator.Decision{Op: rules.Up, Admin: rules.Ready, Weight: 30, Absolute: true, Maxconn: 5, Phase: evaluator.Restoring}); s.Weight != "30" || s.Maxconn != 5 {
		t.Errorf("absolute: %+v", s)
	}
}
