package statuspage

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/rules"
)

// testFleet returns n servers' decisions, by name: every 100th draining,
// every 250th down, every 500th held in by the guardrail, the rest in
// rotation, each with ten rules (one firing where the server is out).
func testFleet(n int, now time.Time) ([]*evaluator.Decision, *evaluator.Guardrail) {
	ds := make([]*evaluator.Decision, n)
	g := &evaluator.Guardrail{MaxUnavailable: "10%", Allowed: n / 10, Servers: n, Held: []string{}}
	for i := range ds {
		d := &evaluator.Decision{Service: "default", Server: fmt.Sprintf("web%05d", i), Op: rules.Up, Admin: rules.Ready, Weight: 100,
			Reply: "up ready 100%\n"}
		for r := range 10 {
			d.Rules = append(d.Rules, evaluator.RuleResult{Name: fmt.Sprintf("rule-%d", r), Expr: fmt.Sprintf("queue_depth > %d", 500+r),
				Outcome: evaluator.False, State: evaluator.Inactive, Action: "drain",
				Values: []evaluator.Value{{Name: "queue_depth", Value: float64(i % 700)}}})
		}
		fire := func() {
			d.Rules[0].Outcome, d.Rules[0].State, d.Rules[0].ActiveSince = evaluator.True, evaluator.Firing, now.Add(-3*time.Minute)
			d.Firing = []string{"rule-0"}
		}
		switch {
		case i%250 == 0:
			d.Op, d.Reply = rules.Down, "down #queue_depth > 500 for a long while, with a reason that goes on and on\n"
			fire()
		case i%100 == 0:
			d.Admin, d.Reply = rules.Drain, "up drain 100% #queue_depth > 500\n"
			fire()
		case i%500 == 1:
			d.Held, d.Reply = true, "up ready 100% #held by guardrail (1 of 4 out); queue_depth > 500\n"
			g.Held = append(g.Held, d.Server)
		}
		if d.Out() {
			g.Out++
		}
		ds[i] = d
	}
	return ds, g
}

// fleetPage returns a fleet-mode page of n servers whose since is one
// minute per server back from now.
func fleetPage(n int, now time.Time) *Page {
	ds, g := testFleet(n, now)
	p := testPage(now, 10)
	p.Host = "lb1.example"
	p.Targets = nil
	p.ServiceNames = nil
	p.Fleet = NewFleet(ds, g, now, func(name string) (time.Time, bool, bool) {
		var i int
		fmt.Sscanf(name, "web%d", &i)
		return now.Add(-time.Duration(i) * time.Minute), false, true
	})
	return p
}

func renderQuery(t testing.TB, h *Handler, p *Page, rawQuery string) string {
	t.Helper()
	v, err := url.ParseQuery(rawQuery)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := h.render(&b, p, parseQuery(v), nil); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var rowName = regexp.MustCompile(`<td class="name"><a href="[^"]*">(web\d+)</a>`)

func names(page string) []string {
	var out []string
	for _, m := range rowName.FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestFleetSummary: the counts by state, a table with one row a server,
// out of rotation first, and no card unless one is asked for.
func TestFleetSummary(t *testing.T) {
	p := fleetPage(1000, t0)
	h := New(Options{Page: func(string) *Page { return p }, History: fullHistory(p)})
	page := renderQuery(t, h, p, "")
	// 1000 servers: 4 down (0, 250, 500, 750), 8 draining, 2 held.
	for _, want := range []string{
		`<h2>Fleet: 1,000 servers</h2>`,
		`id="count-in" class="count"><b>988</b> in</a>`,
		`id="count-held" class="count"><b>2</b> held in by the guardrail</a>`,
		`id="count-draining" class="count"><b>8</b> draining</a>`,
		`id="count-out" class="count"><b>4</b> out</a>`,
		`lets 100 servers out at once`,
		`<title>` + p.Host,
		`12 of 1,000 servers out`,
		`Servers 1–500 of 1,000`,
		`href="?page=2" rel="next"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	got := names(page)
	if len(got) != FleetPageRows {
		t.Fatalf("%d rows on the first page, want %d", len(got), FleetPageRows)
	}
	want := []string{"web00000", "web00250", "web00500", "web00750", "web00100", "web00200", "web00300", "web00400", "web00600", "web00700", "web00800", "web00900", "web00001", "web00501", "web00002"}
	if strings.Join(got[:len(want)], " ") != strings.Join(want, " ") {
		t.Errorf("default order = %v, want out, then draining, then held, then in, each by name: %v", got[:len(want)], want)
	}
	if strings.Contains(page, `class="target`) {
		t.Error("a fleet page without ?server= has a server's card")
	}
	if n := len(names(renderQuery(t, h, p, "page=2"))); n != 500 {
		t.Errorf("page 2 has %d rows, want 500", n)
	}
}

// TestFleetLinks: the links of the counts and of the column heads filter
// and sort, each keeping the rest of the query.
func TestFleetLinks(t *testing.T) {
	p := fleetPage(1000, t0)
	h := New(Options{Page: func(string) *Page { return p }, History: fullHistory(p)})
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"state=out", []string{"web00000", "web00250", "web00500", "web00750"}},
		{"state=draining&sort=-name", []string{"web00900", "web00800", "web00700", "web00600", "web00400", "web00300", "web00200", "web00100"}},
		{"state=held", []string{"web00001", "web00501"}},
		{"filter=WEB0075", []string{"web00750", "web00751", "web00752", "web00753", "web00754", "web00755", "web00756", "web00757", "web00758", "web00759"}},
		{"filter=for+a+long+while&sort=since", []string{"web00000", "web00250", "web00500", "web00750"}},
		{"filter=for+a+long+while&sort=-since", []string{"web00750", "web00500", "web00250", "web00000"}},
		{"state=nonsense&filter=web0000", []string{"web00000", "web00001", "web00002", "web00003", "web00004", "web00005", "web00006", "web00007", "web00008", "web00009"}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			got := names(renderQuery(t, h, p, tc.query))
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("rows = %v, want %v", got, tc.want)
			}
		})
	}
	page := renderQuery(t, h, p, "state=out&filter=web")
	for _, want := range []string{
		`href="?state=draining&amp;filter=web"`,                     // a count keeps the filter
		`href="?state=out&amp;filter=web&amp;sort=name">server</a>`, // a head sorts, keeping both
		`<input type="hidden" name="state" value="out">`,            // the find form keeps the state
		`href="?server=web00250&amp;state=out&amp;filter=web#card"`, // a name opens its card
		`class="count on"><b>4</b> out`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if page := renderQuery(t, h, p, "sort=name"); !strings.Contains(page, `href="?sort=-name">server ▲</a>`) {
		t.Error("the head of the sorted column does not reverse it")
	}
}

// TestFleetSizeAndTime renders the page of 10,000 servers and of 100, as
// the agent serves them: the big one stays under 5 MB, and costs at most
// a few times the small one, since it draws one page of the table and no
// card (a page drawing every server would cost about 100 times).
func TestFleetSizeAndTime(t *testing.T) {
	small, big := fleetPage(100, t0), fleetPage(10000, t0)
	hs := New(Options{Page: func(string) *Page { return small }, History: fullHistory(small)})
	hb := New(Options{Page: func(string) *Page { return big }, History: fullHistory(big)})
	page := renderQuery(t, hb, big, "")
	if len(page) > 5<<20 {
		t.Errorf("the page of 10,000 servers is %d bytes, want at most 5 MB", len(page))
	}
	t.Logf("page of 10,000 servers: %d bytes; of 100: %d", len(page), len(renderQuery(t, hs, small, "")))
	render := func(h *Handler, p *Page, q query) time.Duration {
		start := time.Now()
		if err := h.render(io.Discard, p, q, nil); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	for _, q := range []query{{}, {Sort: "reason"}, {Filter: "queue_depth"}, {Server: "web05000"}} {
		// The best of 9 each, taken in turn, so that a stall of the
		// machine falls on both.
		ts, tb := time.Duration(1<<62), time.Duration(1<<62)
		for range 9 {
			ts, tb = min(ts, render(hs, small, q)), min(tb, render(hb, big, q))
		}
		ratio := float64(tb) / float64(ts)
		t.Logf("query %+v: 10,000 servers %s, 100 servers %s: %.1f×", q, tb, ts, ratio)
		if ratio > 25 {
			t.Errorf("query %+v: the page of 10,000 servers costs %.0f× that of 100, want at most 25×", q, ratio)
		}
	}
}

// TestTitle: the title names the host and counts in words that agree
// with the number.
func TestTitle(t *testing.T) {
	svc := func(name string, s State) Target { return Target{Kind: "service", Name: name, State: s} }
	for _, tc := range []struct {
		page Page
		want string
	}{
		{Page{Host: "lb1", Targets: []Target{svc("default", StateIn)}}, "lb1: in rotation – HAProxy agent"},
		{Page{Host: "lb1", Targets: []Target{svc("default", StateDraining)}}, "lb1: draining – HAProxy agent"},
		{Page{Host: "lb1", Targets: []Target{svc("default", StateIn), svc("worker", StateOut)}}, "lb1: 1 of 2 services out – HAProxy agent"},
		{Page{Host: "lb1", Targets: []Target{svc("default", StateIn), svc("worker", StateIn)}}, "lb1: all 2 services in – HAProxy agent"},
		{Page{Host: "lb1", Fleet: &Fleet{Rows: make([]ServerRow, 1), In: 1}}, "lb1: the server in – HAProxy agent"},
		{Page{Host: "lb1", Fleet: &Fleet{Rows: make([]ServerRow, 12000), In: 11000, Draining: 999, Out: 1}}, "lb1: 1,000 of 12,000 servers out – HAProxy agent"},
		{Page{Host: "lb1", Fleet: &Fleet{Rows: make([]ServerRow, 2)}, Asked: "web7", Targets: []Target{{Name: "web7", State: StateDraining}}}, "web7 draining · lb1 – HAProxy agent"},
	} {
		if got := (&view{Page: &tc.page}).Title(); got != tc.want {
			t.Errorf("title = %q, want %q", got, tc.want)
		}
	}
}

// TestFleetTableShared builds the table of 10,000 servers whose replies
// and reasons are few and long, as a fleet's are (overrides for every
// server, one rule firing everywhere): it holds each text once, not once
// a server and again in lower case for the filter, and ?filter= finds what
// it found in the texts joined, for any part of any text.
func TestFleetTableShared(t *testing.T) {
	const n = 10000
	long := strings.Repeat("Queue_Depth > 500 ", 30)
	ds, g := testFleet(n, t0)
	for i, d := range ds {
		d.Rules[0].Expr = long + fmt.Sprint(i%3)
		d.Rules[0].Outcome, d.Rules[0].State, d.Rules[0].ActiveSince = evaluator.True, evaluator.Firing, t0.Add(-time.Minute)
		d.Firing = []string{"rule-0"}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f := NewFleet(ds, g, t0, nil)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(ds)
	perRow := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("%d bytes a row; reasons of %d bytes", perRow, len(f.Rows[0].Reason))
	// A row's own fields are about 200 bytes; the reason alone, held per
	// server and again in lower case, was over 1,000.
	if perRow > 400 {
		t.Errorf("the fleet table holds %d bytes a server with reasons of %d bytes: want at most 400", perRow, len(f.Rows[0].Reason))
	}

	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		r := &f.Rows[rng.IntN(n)]
		joined := strings.ToLower(r.Name + "\x00" + r.Reply + "\x00" + r.Reason)
		i := rng.IntN(len(joined))
		filter := joined[i : i+rng.IntN(min(40, len(joined)-i)+1)]
		if rng.IntN(4) == 0 {
			filter += "x" // likely found nowhere
		}
		for _, other := range []*ServerRow{r, &f.Rows[rng.IntN(n)]} {
			want := strings.Contains(strings.ToLower(other.Name+"\x00"+other.Reply+"\x00"+other.Reason), filter)
			if got := other.matches(filter); got != want {
				t.Fatalf("filter %q on %s: %v, want %v", filter, other.Name, got, want)
			}
		}
	}
	runtime.KeepAlive(f)
}
