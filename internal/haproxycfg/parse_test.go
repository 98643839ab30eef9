package haproxycfg

import (
	"reflect"
	"testing"
	"time"
)

func TestSplitLine(t *testing.T) {
	for in, want := range map[string][]string{
		`  server web1 1.2.3.4:80 agent-send "web1\n" # comment`: {"server", "web1", "1.2.3.4:80", "agent-send", "web1\n"},
		`server a b agent-send 'x\n y'`:                          {"server", "a", "b", "agent-send", `x\n y`},
		`server a b agent-send x\ y\n`:                           {"server", "a", "b", "agent-send", "x y\n"},
		`  # only a comment`:                                     nil,
		`bind "a#b"`:                                             {"bind", "a#b"},
	} {
		got, err := splitLine(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("splitLine(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := splitLine(`server "a`); err == nil {
		t.Error("an unterminated quote gave no error")
	}
}

// TestInheritance: a backend takes the last defaults section before it,
// or the one it names with "from"; its own lines win, and a server line
// wins over both default-server lines.
func TestInheritance(t *testing.T) {
	cfg, err := Parse([]byte(`
defaults named
    balance first
    timeout check 3s
    default-server agent-check agent-port 1 weight 7
defaults
    timeout check 1s
    default-server agent-inter 5s
backend a
    server a1 x:1
backend b from named
    default-server agent-port 2
    server b1 x:1 agent-inter 1s weight 100
    server-template t 2-5 x:1 no-agent-check
listen c from named
    balance roundrobin
    timeout check 9
`), "x.cfg")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Backends) != 3 {
		t.Fatalf("%d backends", len(cfg.Backends))
	}
	a, b, c := cfg.Backends[0], cfg.Backends[1], cfg.Backends[2]
	if a.TimeoutCheck != time.Second || a.Algorithm() != "roundrobin" || a.Servers[0].AgentCheck || a.Servers[0].AgentInter != 5*time.Second || a.Servers[0].Weight != 1 {
		t.Errorf("a = %+v, server %+v", a, a.Servers[0])
	}
	b1, tpl := b.Servers[0], b.Servers[1]
	if b.Algorithm() != "first" || b.BalanceLine != 3 || b.TimeoutCheck != 3*time.Second ||
		!b1.AgentCheck || b1.AgentPort != 2 || b1.AgentInter != time.Second || b1.Weight != 100 || b1.Line != 13 {
		t.Errorf("b = %+v, b1 %+v", b, b1)
	}
	if !tpl.Template || tpl.Count != 4 || tpl.AgentCheck || tpl.Weight != 7 {
		t.Errorf("template = %+v", tpl)
	}
	if c.Algorithm() != "roundrobin" || c.TimeoutCheck != 9*time.Millisecond {
		t.Errorf("c = %+v", c)
	}
	if _, err := Parse([]byte("backend x from nowhere\n"), "y.cfg"); err == nil {
		t.Error("from an unknown defaults section gave no error")
	}
}
