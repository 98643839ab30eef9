package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/statuspage"
	"github.com/haproxy-agent/agent/rules"
)

// TestFleetStatusPage: in fleet mode the page sums the fleet up and lists
// a server a line; the card of one server comes only when asked for, and
// says in correct words why the guardrail holds it; the links filter.
func TestFleetStatusPage(t *testing.T) {
	t.Parallel()
	prom := newFakeProm(t)
	prom.set(`up{job="web"}`, map[string]float64{"web1": 1, "web2": 1, "web3": 1, "web4": 1})
	prom.set("jobs_queue_depth", map[string]float64{"web1": 0, "web2": 900, "web3": 900, "web4": 0})
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, fmt.Appendf(nil, fleetRules, prom.srv.URL), 0o644); err != nil {
		t.Fatal(err)
	}
	ag := startAgent(t, Options{RulesPath: path, Logger: quietLogger()})
	var page string
	waitFor(t, "the page to show one server held", func() bool {
		page = ag.get(t, "/")
		return strings.Contains(page, `<b>1</b> held in by the guardrail`)
	})
	host, _ := os.Hostname()
	for _, want := range []string{
		"<title>" + host + ": 1 of 4 servers out – HAProxy agent</title>",
		`<h2>Fleet: 4 servers</h2>`,
		`id="count-in" class="count"><b>3</b> in</a>`,
		`id="count-draining" class="count"><b>1</b> draining</a>`,
		`id="count-out" class="count"><b>0</b> out</a>`,
		`lets 1 server out at once`,
		`<a href="?server=web3#card">web3</a> <span class="tag">held</span>`,
		// The metric's chart draws the rule's threshold.
		`<li>queue &gt; 500 → drain</li>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("/ lacks %s", want)
		}
	}
	if strings.Contains(page, `class="target`) {
		t.Error("/ without ?server= shows a server's card")
	}
	card := ag.get(t, "/?server=web3")
	for _, want := range []string{
		`<article class="target" id="server-web3">`,
		"max_unavailable 1 lets 1 of 4 servers out at once, and 1 is already out",
		`<span class="meta" id="reply-for">for ≥ `, // its reply since the agent saw it first
		"<title>web3 in · " + host,
	} {
		if !strings.Contains(card, want) {
			t.Errorf("/?server=web3 lacks %s", want)
		}
	}
	if strings.Contains(card, `id="server-web1"`) {
		t.Error("/?server=web3 shows another server's card")
	}
	held := ag.get(t, "/?state=held")
	if !strings.Contains(held, ">web3</a>") || strings.Contains(held, ">web1</a>") || strings.Contains(held, ">web2</a>") {
		t.Errorf("/?state=held does not list web3 alone")
	}
	if none := ag.get(t, "/?server=web9"); !strings.Contains(none, "No server named <code>web9</code>") {
		t.Error("/?server=web9 does not say there is no such server")
	}
}

// TestPageSnapshotOncePerEvaluation: the fleet's table is built once per
// evaluation however many loads ask for it at once, and built again for
// the next evaluation.
func TestPageSnapshotOncePerEvaluation(t *testing.T) {
	t.Parallel()
	f, err := rules.Parse(fmt.Appendf(nil, fleetRules, "http://127.0.0.1:1"), "rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	status := func() *Status {
		st := &Status{file: f, Guardrail: &evaluator.Guardrail{MaxUnavailable: "1", Allowed: 1, Servers: 1000}}
		for i := range 1000 {
			st.Servers = append(st.Servers, &evaluator.Decision{Server: fmt.Sprintf("web%04d", i), Reply: "up ready 100%\n"})
		}
		return st
	}
	p := &pages{a: &agent{history: statuspage.NewHistory(time.Second)}}
	st := status()
	var wg sync.WaitGroup
	got := make([]*statuspage.Fleet, 16)
	for i := range got {
		wg.Go(func() { got[i] = p.snapshot(st).fleet })
	}
	wg.Wait()
	for i, fl := range got {
		if fl == nil || fl != got[0] {
			t.Fatalf("load %d got its own fleet table (%p, the first %p)", i, fl, got[0])
		}
	}
	if len(got[0].Rows) != 1000 {
		t.Errorf("%d rows, want 1000", len(got[0].Rows))
	}
	if next := p.snapshot(status()).fleet; next == got[0] {
		t.Error("a new evaluation kept the old table")
	}
}
