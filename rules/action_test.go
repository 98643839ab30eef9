package rules

import (
	"testing"

	"github.com/haproxy-agent/agent/internal/yamlnode"
)

func TestParseAction(t *testing.T) {
	act := func(op, admin string, weight, maxconn int) Action {
		o, _ := LookupOp(op)
		ad, _ := LookupAdmin(admin)
		return Action{Op: o, Admin: ad, Weight: weight, Maxconn: maxconn}
	}
	good := []struct {
		in   string
		want Action
	}{
		{"up", act("up", "", Unset, Unset)},
		{"down", act("down", "", Unset, Unset)},
		{"fail", act("fail", "", Unset, Unset)},
		{"stopped", act("stopped", "", Unset, Unset)},
		{"ready", act("", "ready", Unset, Unset)},
		{"drain", act("", "drain", Unset, Unset)},
		{"MAINT", act("", "maint", Unset, Unset)},
		{"weight 50%", act("", "", 50, Unset)},
		{"50%", act("", "", 50, Unset)},
		{"weight 0%", act("", "", 0, Unset)},
		{"weight 256%", act("", "", 256, Unset)},
		{"weight:30%", act("", "", 30, Unset)},
		{"maxconn 10", act("", "", Unset, 10)},
		{"maxconn:0", act("", "", Unset, 0)},
		{"drain, weight 10%", act("", "drain", 10, Unset)},
		{"down drain 50% maxconn:30", act("down", "drain", 50, 30)},
		{" up,ready,,100% ", act("up", "ready", 100, Unset)},
		{"weight 50", Action{Weight: 50, Absolute: true, Maxconn: Unset}},
		{"weight:0", Action{Weight: 0, Absolute: true, Maxconn: Unset}},
		{"drain weight 256", Action{Admin: Drain, Weight: 256, Absolute: true, Maxconn: Unset}},
	}
	for _, c := range good {
		got, err := ParseAction(c.in)
		if err != nil {
			t.Errorf("ParseAction(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParseAction(%q) = %+v, want %+v", c.in, got, c.want)
		}
		if again, err := ParseAction(got.String()); err != nil || again != got {
			t.Errorf("ParseAction(%q).String() = %q reads back as %+v, %v", c.in, got.String(), again, err)
		}
	}
	bad := []struct{ in, want string }{
		{"", "empty action: want one or more of up, down, fail, stopped, ready, drain, maint, weight N%, weight N, maxconn N"},
		{" , ", "empty action: want one or more of up, down, fail, stopped, ready, drain, maint, weight N%, weight N, maxconn N"},
		{"up, down", `"up" and "down" in one action: both set the operational state`},
		{"drain maint", `"drain" and "maint" in one action: both set the administrative state`},
		{"drain drain", `"drain" given twice in one action`},
		{"weight 10% 20%", "two weights (10% and 20%) in one action"},
		{"maxconn 1 maxconn:2", "two maxconn values (1 and 2) in one action"},
		{"weight 300%", `weight "300%": want an integer percent from 0% to 256%`},
		{"weight -1%", `weight "-1%": want an integer percent from 0% to 256%`},
		{"75.5%", `weight "75.5%": want an integer percent from 0% to 256%`},
		{"weight 257", `weight "257": want an integer percent from 0% to 256% or an absolute weight from 0 to 256`},
		{"weight 50%, weight 20", `two weights (50% and 20) in one action`},
		{"weight", "weight needs a number, e.g. weight 50% (of the server's weight) or weight 50 (absolute)"},
		{"maxconn", "maxconn needs a number, e.g. maxconn 100"},
		{"maxconn -1", `maxconn "-1": want an integer from 0 (unlimited) to 2147483647`},
		{"maxconn 4294967297", `maxconn "4294967297": want an integer from 0 (unlimited) to 2147483647`},
		{"maxconn:x", `maxconn "x": want an integer from 0 (unlimited) to 2147483647`},
		{"failed", `unknown action "failed": want up, down, fail, stopped, ready, drain, maint, weight N%, weight N, maxconn N; did you mean "fail"?`},
		{"#why", `unknown action "#why": want up, down, fail, stopped, ready, drain, maint, weight N%, weight N, maxconn N`},
	}
	for _, c := range bad {
		_, err := ParseAction(c.in)
		if err == nil {
			t.Errorf("ParseAction(%q) succeeded", c.in)
			continue
		}
		if err.Error() != c.want {
			t.Errorf("ParseAction(%q):\n got %s\nwant %s", c.in, err, c.want)
		}
	}
}

func TestActionStringRoundTrip(t *testing.T) {
	for _, in := range []string{"up", "down drain 50% maxconn 3", "maint, weight 0%", "maxconn 0"} {
		a, err := ParseAction(in)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ParseAction(a.String())
		if err != nil || a != b {
			t.Errorf("%q: String %q parses to %+v, %v", in, a.String(), b, err)
		}
	}
}

func TestSuggest(t *testing.T) {
	cases := []struct{ word, want string }{
		{"intervall", "interval"},
		{"stale", "stale_after"},
		{"drian", "drain"},
		{"xyz", ""},
		{"q", ""},
	}
	candidates := []string{"interval", "stale_after", "drain", "down", "up"}
	for _, c := range cases {
		if got := yamlnode.Suggest(c.word, candidates); got != c.want {
			t.Errorf("suggest(%q) = %q, want %q", c.word, got, c.want)
		}
	}
}

func TestActionOut(t *testing.T) {
	for _, c := range []struct {
		action string
		out    bool
	}{
		{"up, ready, weight 100%", false},
		{"up, ready, weight 1%", false},
		{"ready", false},
		{"maxconn 0", false},
		{"up, ready, weight 0%", true}, // HAProxy sends a 0% server nothing
		{"weight 0%", true},
		{"down", true},
		{"fail, ready", true},
		{"stopped", true},
		{"drain", true},
		{"up, maint, weight 100%", true},
	} {
		a, err := ParseAction(c.action)
		if err != nil {
			t.Fatal(err)
		}
		if a.Out() != c.out {
			t.Errorf("%q: Out() = %v, want %v", c.action, a.Out(), c.out)
		}
	}
}
