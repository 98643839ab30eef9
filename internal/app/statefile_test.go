package app

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/override"
	"github.com/haproxy-agent/agent/internal/source"
)

// publishCheck runs a check on every evaluation's result, as a publisher.
type publishCheck func(res *evaluator.Result)

func (c publishCheck) Publish(res *evaluator.Result) { c(res) }

// TestStateFileRecordsRepliesBeforeTheyAreAnswered: the moment the poll
// table can answer HAProxy a fleet server's new line, the state file
// already records it, and why the server may be held out. A crash just
// after HAProxy is told a drain must not lose it: the restarted agent
// reads from the state file who HAProxy holds out.
func TestStateFileRecordsRepliesBeforeTheyAreAnswered(t *testing.T) {
	prom := newFakeProm(t)
	servers := map[string]float64{"web1": 1, "web2": 1, "web3": 1}
	prom.set(`up{job="web"}`, servers)
	a, err := newAgent(Options{
		DefaultRules: fmt.Appendf(nil, fleetRules, prom.srv.URL),
		DefaultName:  "fleet.yaml",
		NewReader:    source.New,
		Registry:     prometheus.NewRegistry(),
		Logger:       slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.current().coll.Close()
	path := filepath.Join(t.TempDir(), "state.json")
	store, err := override.Open(path, nil, override.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	a.overrides = store

	checked := 0
	check := publishCheck(func(res *evaluator.Result) {
		st, err := override.ReadState(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range res.Servers {
			if got, want := st.Replies[d.Server], trimNL(d.Reply); got != want {
				t.Errorf("when the poll table answers %s %q, the state file records %q", d.Server, want, got)
			}
			if got := st.OutBy[d.Server]; got != d.OutBy {
				t.Errorf("when the poll table answers %s %q, the state file records it out by %q, want %q", d.Server, trimNL(d.Reply), got, d.OutBy)
			}
		}
		checked++
	})
	// The check runs right after the poll table, before anything else.
	i := slices.Index(a.publishers, Publisher(a.polls))
	if i < 0 {
		t.Fatal("no poll table among the publishers")
	}
	a.publishers = slices.Insert(a.publishers, i+1, Publisher(check))

	ctx := context.Background()
	steps := []map[string]float64{
		{"web1": 0, "web2": 900, "web3": 0},   // web2 drains
		{"web1": 900, "web2": 900, "web3": 0}, // web1 held: one out at most
		{"web1": 900, "web2": 0, "web3": 0},   // web2 restored, web1 waits for it to be told
		{"web1": 0, "web2": 0, "web3": 0},
	}
	for _, queue := range steps {
		prom.set("jobs_queue_depth", queue)
		a.cycle(ctx)
		// HAProxy polls every server between evaluations.
		for _, m := range a.polls.answers {
			m.n.Add(1)
		}
	}
	if checked != len(steps) {
		t.Fatalf("checked %d evaluations, want %d", checked, len(steps))
	}
}
