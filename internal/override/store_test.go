package override

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/rules"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable clock for Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func action(t *testing.T, s string) rules.Action {
	t.Helper()
	a, err := ParseAction(s)
	if err != nil {
		t.Fatalf("ParseAction(%q): %v", s, err)
	}
	return a
}

func open(t *testing.T, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, nil, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func add(t *testing.T, s *Store, service, act, reason string, ttl time.Duration) evaluator.Override {
	t.Helper()
	o, err := s.Add(evaluator.Override{Service: service, Action: action(t, act), Reason: reason}, ttl)
	if err != nil {
		t.Fatalf("Add(%q): %v", act, err)
	}
	return o
}

// readState decodes the state file, failing the test if it is not valid.
func readState(t *testing.T, path string) []evaluator.Override {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := decodeState(data)
	if err != nil {
		t.Fatalf("state file: %v\n%s", err, data)
	}
	return st.Overrides
}

func ids(ovs []evaluator.Override) string {
	s := make([]string, len(ovs))
	for i, o := range ovs {
		s[i] = o.ID
	}
	return strings.Join(s, ",")
}

func TestOverrideSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "overrides.json")
	clk := &clock{now: t0}
	s := open(t, path, Options{Now: clk.Now})
	a := add(t, s, "", "drain", "disk swap", 0)
	b := add(t, s, "worker", "weight 50%", "canary", 2*time.Hour)
	c := add(t, s, "", "ready", "trust me", time.Hour)
	if len(a.ID) != 8 || a.ID == b.ID || !a.Created.Equal(t0) || !a.Expires.IsZero() || !b.Expires.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("added %+v, %+v", a, b)
	}
	if c.Action.Op != rules.Up || c.Action.Admin != rules.Ready {
		t.Errorf("ready: %+v, want up ready", c.Action)
	}
	s.Close()

	clk.Advance(30 * time.Minute)
	s2 := open(t, path, Options{Now: clk.Now})
	if s2.LoadError() != nil {
		t.Fatalf("LoadError: %v", s2.LoadError())
	}
	got := s2.List(clk.Now())
	want := []evaluator.Override{a, b, c}
	if len(got) != len(want) {
		t.Fatalf("after reopen: %d overrides, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Service != w.Service || g.Action != w.Action || g.Reason != w.Reason ||
			!g.Created.Equal(w.Created) || !g.Expires.Equal(w.Expires) {
			t.Errorf("override %d after reopen:\n got %+v\nwant %+v", i, g, w)
		}
	}
	// The evaluator applies what was reloaded: later overrides win.
	if act := s2.Active(clk.Now()); ids(act) != ids(want) {
		t.Errorf("Active = %s, want %s", ids(act), ids(want))
	}
}

func TestStateFileFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "overrides.json")
	clk := &clock{now: t0}
	s := open(t, path, Options{Now: clk.Now})
	o := add(t, s, "worker", "maint, maxconn 10", "kernel upgrade", 90*time.Minute)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`{
  "version": 3,
  "overrides": [
    {
      "id": %q,
      "service": "worker",
      "action": "maint, maxconn 10",
      "reason": "kernel upgrade",
      "created": "2026-03-01T12:00:00Z",
      "expires": "2026-03-01T13:30:00Z"
    }
  ]
}
`, o.ID)
	if string(data) != want {
		t.Errorf("state file:\n%s\nwant:\n%s", data, want)
	}
}

func TestExpiry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "overrides.json")
	clk := &clock{now: t0}
	s := open(t, path, Options{Now: clk.Now})
	short := add(t, s, "", "drain", "short", time.Hour)
	long := add(t, s, "", "down", "long", 0)

	if got := ids(s.Active(t0.Add(time.Hour - time.Nanosecond))); got != ids([]evaluator.Override{short, long}) {
		t.Errorf("before expiry: %s", got)
	}
	clk.Advance(time.Hour) // expired exactly at Expires, as the evaluator sees it
	now := clk.Now()
	if got := ids(s.Active(now)); got != long.ID {
		t.Errorf("Active after expiry: %s, want %s", got, long.ID)
	}
	if got := ids(s.List(now)); got != long.ID {
		t.Errorf("List after expiry: %s, want %s", got, long.ID)
	}
	if _, ok := s.Get(short.ID, now); ok {
		t.Error("Get finds an expired override")
	}
	if _, err := s.Remove(short.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove(expired) = %v, want ErrNotFound", err)
	}
	// The next write prunes it from the file.
	third := add(t, s, "", "weight 10%", "third", 0)
	if got := ids(readState(t, path)); got != long.ID+","+third.ID {
		t.Errorf("state file after the next write: %s", got)
	}

	// An override that expired while the agent was down is not loaded.
	s.Close()
	path2 := filepath.Join(t.TempDir(), "overrides.json")
	clk2 := &clock{now: t0}
	s2 := open(t, path2, Options{Now: clk2.Now})
	add(t, s2, "", "drain", "gone by restart", time.Minute)
	s2.Close()
	clk2.Advance(time.Hour)
	if got := open(t, path2, Options{Now: clk2.Now}).List(clk2.Now()); len(got) != 0 {
		t.Errorf("expired override loaded: %+v", got)
	}
}

func TestExpiryNotifies(t *testing.T) {
	s := open(t, "", Options{}) // real clock: the timer is real
	o := add(t, s, "", "drain", "brief", 50*time.Millisecond)
	<-s.Changed() // the Add
	select {
	case <-s.Changed():
	case <-time.After(5 * time.Second):
		t.Fatal("no change notification at expiry")
	}
	if _, ok := s.Get(o.ID, time.Now()); ok {
		t.Error("override still in force after its expiry notification")
	}
	if n := len(*s.all.Load()); n != 0 {
		t.Errorf("%d overrides kept in memory after expiry", n)
	}
}

func TestChangedIsCoalesced(t *testing.T) {
	s := open(t, "", Options{})
	select {
	case <-s.Changed():
		t.Fatal("notification before any change")
	default:
	}
	a := add(t, s, "", "drain", "one", 0)
	add(t, s, "", "maint", "two", 0)
	if _, err := s.Remove(a.ID); err != nil {
		t.Fatal(err)
	}
	<-s.Changed()
	select {
	case <-s.Changed():
		t.Fatal("three changes gave more than one pending notification")
	default:
	}
	if _, err := s.Clear(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.Changed():
	default:
		t.Fatal("no notification for Clear")
	}
}

func TestCorruptStateFileIsMovedAside(t *testing.T) {
	good := func(r string) string {
		return `{"version":1,"overrides":[` + r + `]}`
	}
	for name, content := range map[string]string{
		"truncated":      `{"version":1,"overrides":[{"id":"ab`,
		"not json":       "drain everything\n",
		"empty":          "",
		"no version":     `{"overrides":[]}`,
		"unknown field":  `{"version":1,"overrides":[],"extra":true}`,
		"trailing data":  good("") + `{}`,
		"bad action":     good(`{"id":"a1","service":"","action":"dran","reason":"x","created":"2026-03-01T12:00:00Z"}`),
		"empty action":   good(`{"id":"a1","service":"","action":"","reason":"x","created":"2026-03-01T12:00:00Z"}`),
		"no reason":      good(`{"id":"a1","service":"","action":"drain","reason":"","created":"2026-03-01T12:00:00Z"}`),
		"duplicate id":   good(`{"id":"a1","action":"drain","reason":"x","created":"2026-03-01T12:00:00Z"},{"id":"a1","action":"maint","reason":"y","created":"2026-03-01T12:00:00Z"}`),
		"missing id":     good(`{"action":"drain","reason":"x","created":"2026-03-01T12:00:00Z"}`),
		"bad timestamp":  good(`{"id":"a1","action":"drain","reason":"x","created":"yesterday"}`),
		"wrong type ttl": `{"version":"1","overrides":[]}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "overrides.json")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			s, err := Open(path, logger, Options{Now: (&clock{now: t0}).Now})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			var ce *CorruptError
			if !errors.As(s.LoadError(), &ce) {
				t.Fatalf("LoadError = %v, want a *CorruptError", s.LoadError())
			}
			wantTo := path + ".corrupt-20260301T120000Z"
			if ce.Path != path || ce.MovedTo != wantTo {
				t.Errorf("CorruptError %+v, want moved to %s", ce, wantTo)
			}
			if moved, err := os.ReadFile(wantTo); err != nil || string(moved) != content {
				t.Errorf("moved-aside file: %q, %v; want the original content", moved, err)
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("corrupt file still at %s: %v", path, err)
			}
			if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), wantTo) {
				t.Errorf("log does not report the corrupt file at error level:\n%s", logs.String())
			}
			if n := len(s.List(t0)); n != 0 {
				t.Errorf("%d overrides from a corrupt file", n)
			}
			// The store works, and writes a fresh file.
			add(t, s, "", "drain", "after recovery", 0)
			if n := len(readState(t, path)); n != 1 {
				t.Errorf("fresh state file holds %d overrides", n)
			}
		})
	}
}

func TestCorruptTwiceKeepsBoth(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "overrides.json")
	for i := range 2 {
		if err := os.WriteFile(path, []byte(fmt.Sprint("garbage ", i)), 0o600); err != nil {
			t.Fatal(err)
		}
		s := open(t, path, Options{Now: (&clock{now: t0}).Now})
		if s.LoadError() == nil {
			t.Fatal("no LoadError")
		}
	}
	matches, _ := filepath.Glob(path + ".corrupt-*")
	if len(matches) != 2 {
		t.Errorf("corrupt copies: %v, want 2", matches)
	}
}

func TestNewerStateFileIsLeftAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "overrides.json")
	content := `{"version":4,"overrides":[]}`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, nil, Options{}); err == nil || !strings.Contains(err.Error(), "newer agent") {
		t.Errorf("Open = %v, want a newer-agent error", err)
	}
	if data, _ := os.ReadFile(path); string(data) != content {
		t.Errorf("file changed to %q", data)
	}
}

func TestUnreadableStateFileFailsOpen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "overrides.json")
	if err := os.Mkdir(path, 0o700); err != nil { // a directory cannot be read as a file
		t.Fatal(err)
	}
	if _, err := Open(path, nil, Options{}); err == nil {
		t.Error("Open succeeded on an unreadable state file")
	}
}

func TestConcurrentChanges(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "overrides.json")
	s := open(t, path, Options{})
	const workers, each = 12, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*2)
	kept := make(chan string, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				o, err := s.Add(evaluator.Override{Action: rules.Action{Admin: rules.Drain, Weight: rules.Unset, Maxconn: rules.Unset}, Reason: fmt.Sprintf("w%d i%d", w, i)}, time.Hour)
				if err != nil {
					errs <- err
					continue
				}
				_ = s.List(time.Now())
				_ = s.Active(time.Now())
				if i%2 == 0 {
					if _, err := s.Remove(o.ID); err != nil {
						errs <- err
					}
				} else {
					kept <- o.ID
				}
			}
		}()
	}
	// A reader like the evaluation loop, running throughout.
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			case <-s.Changed():
			default:
			}
			for _, o := range s.Active(time.Now()) {
				if o.ID == "" {
					errs <- errors.New("override without an ID in Active")
					return
				}
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-readerDone
	close(errs)
	close(kept)
	for err := range errs {
		t.Error(err)
	}
	want := map[string]bool{}
	for id := range kept {
		want[id] = true
	}
	list := s.List(time.Now())
	file := readState(t, path)
	if len(list) != workers*each/2 || len(file) != len(list) {
		t.Fatalf("%d in memory, %d in the file; want %d", len(list), len(file), workers*each/2)
	}
	for i := range list {
		if !want[list[i].ID] || file[i].ID != list[i].ID {
			t.Errorf("override %d: memory %s, file %s", i, list[i].ID, file[i].ID)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the state file: %v", len(entries), entries)
	}
}

func TestAtomicWriteLeavesNoTempFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "overrides.json")
	s := open(t, path, Options{})
	for i := range 20 {
		o := add(t, s, "", "drain", fmt.Sprint("n", i), 0)
		if i%3 == 0 {
			if _, err := s.Remove(o.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := s.Clear(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "overrides.json" {
		t.Errorf("directory holds %v, want only overrides.json", entries)
	}
	if got := readState(t, path); len(got) != 0 {
		t.Errorf("after Clear the file holds %d overrides", len(got))
	}
}

func TestFailedWriteChangesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "overrides.json")
	s := open(t, path, Options{})
	kept := add(t, s, "", "drain", "kept", 0)
	<-s.Changed()
	if err := os.RemoveAll(dir); err != nil { // now no temporary file can be made
		t.Fatal(err)
	}
	if _, err := s.Add(evaluator.Override{Action: action(t, "maint"), Reason: "lost"}, 0); err == nil || IsValidation(err) {
		t.Errorf("Add with an unwritable state file = %v, want a write error", err)
	}
	if _, err := s.Remove(kept.ID); err == nil {
		t.Error("Remove succeeded without writing the state file")
	}
	if _, err := s.Clear(); err == nil {
		t.Error("Clear succeeded without writing the state file")
	}
	if got := ids(s.List(time.Now())); got != kept.ID {
		t.Errorf("in force after failed writes: %s, want %s", got, kept.ID)
	}
	select {
	case <-s.Changed():
		t.Error("change notified for a change that failed")
	default:
	}
}

func TestValidation(t *testing.T) {
	s := open(t, "", Options{KnownService: func(n string) bool { return n == "default" || n == "worker" }})
	drain := rules.Action{Admin: rules.Drain, Weight: rules.Unset, Maxconn: rules.Unset}
	for _, tc := range []struct {
		name string
		o    evaluator.Override
		ttl  time.Duration
		want string
	}{
		{"no reason", evaluator.Override{Action: drain}, 0, "a reason is required"},
		{"blank reason", evaluator.Override{Action: drain, Reason: "   "}, 0, "a reason is required"},
		{"long reason", evaluator.Override{Action: drain, Reason: strings.Repeat("x", 101)}, 0, "reason is 101 characters long; at most 100"},
		{"newline", evaluator.Override{Action: drain, Reason: "a\nb"}, 0, "printable ASCII only"},
		{"non-ascii", evaluator.Override{Action: drain, Reason: "café"}, 0, "printable ASCII only"},
		{"negative ttl", evaluator.Override{Action: drain, Reason: "x"}, -time.Second, "must not be negative"},
		{"unknown service", evaluator.Override{Service: "wroker", Action: drain, Reason: "x"}, 0, `unknown service "wroker"`},
		{"empty action", evaluator.Override{Action: rules.NewAction(), Reason: "x"}, 0, "the action sets nothing"},
		{"bad weight", evaluator.Override{Action: rules.Action{Weight: 300, Maxconn: rules.Unset}, Reason: "x"}, 0, "weight 300%"},
		{"bad op", evaluator.Override{Action: rules.Action{Op: rules.Stopped + 1, Weight: rules.Unset, Maxconn: rules.Unset}, Reason: "x"}, 0, `unknown operational state "op(5)"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Add(tc.o, tc.ttl)
			if !IsValidation(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Add = %v, want a validation error containing %q", err, tc.want)
			}
		})
	}
	if n := len(s.List(time.Now())); n != 0 {
		t.Errorf("%d refused overrides in force", n)
	}
	// The limits themselves are accepted.
	add(t, s, "worker", "drain", strings.Repeat("x", MaxReason), 0)
	add(t, s, "default", "weight 0%", "~ printable ASCII: #1 (ok) ~", 0)
}

func TestTooManyOverrides(t *testing.T) {
	s := open(t, "", Options{})
	for i := range MaxOverrides {
		add(t, s, "", "drain", fmt.Sprint(i), 0)
	}
	if _, err := s.Add(evaluator.Override{Action: action(t, "drain"), Reason: "one more"}, 0); !IsValidation(err) {
		t.Errorf("Add beyond MaxOverrides = %v, want a validation error", err)
	}
}

func TestActiveDoesNotAllocate(t *testing.T) {
	s := open(t, "", Options{})
	add(t, s, "", "drain", "a", time.Hour)
	add(t, s, "", "weight 50%", "b", 0)
	now := time.Now()
	if n := testing.AllocsPerRun(100, func() { _ = s.Active(now) }); n != 0 {
		t.Errorf("Active allocates %v times per call", n)
	}
}

func TestClosedStoreRefusesChanges(t *testing.T) {
	s := open(t, "", Options{})
	a := add(t, s, "", "drain", "a", time.Hour)
	s.Close()
	if _, err := s.Add(evaluator.Override{Action: action(t, "maint"), Reason: "late"}, 0); err == nil {
		t.Error("Add after Close succeeded")
	}
	if ids(s.List(time.Now())) != a.ID {
		t.Error("a closed store no longer lists its overrides")
	}
}

func TestParseTTL(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"": time.Hour, "0": 0, "forever": 0, "30m": 30 * time.Minute, "1h30m": 90 * time.Minute, "0.5h": 30 * time.Minute,
		"2d": 48 * time.Hour, "1w": 7 * 24 * time.Hour, " 15s ": 15 * time.Second,
	} {
		if got, err := ParseTTL(in); err != nil || got != want {
			t.Errorf("ParseTTL(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	// Under a second, an override would expire before HAProxy polls.
	for _, in := range []string{"-1h", "soon", "1 hour", "5", "1ns", "999ms", "0.5s"} {
		if _, err := ParseTTL(in); !IsValidation(err) {
			t.Errorf("ParseTTL(%q) = %v, want a validation error", in, err)
		}
	}
}

func TestParseAction(t *testing.T) {
	for in, want := range map[string]string{
		"drain":             "drain",
		"maint":             "maint",
		"down":              "down",
		"ready":             "up, ready",
		"READY":             "up, ready",
		"down ready":        "down, ready",
		"weight 50%":        "weight 50%",
		"drain, maxconn 10": "drain, maxconn 10",
	} {
		a, err := ParseAction(in)
		if err != nil || a.String() != want {
			t.Errorf("ParseAction(%q) = %q, %v; want %q", in, a.String(), err, want)
		}
	}
	if _, err := ParseAction("weight 300%"); err == nil {
		t.Error("weight 300% accepted")
	}
}

func TestRecordJSON(t *testing.T) {
	o := evaluator.Override{ID: "abc", Action: rules.Action{Op: rules.Up, Admin: rules.Ready, Weight: rules.Unset, Maxconn: rules.Unset}, Reason: "r", Created: t0}
	data, err := json.Marshal(NewRecord(o))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"id":"abc","service":"","action":"up, ready","reason":"r","created":"2026-03-01T12:00:00Z"}`; string(data) != want {
		t.Errorf("record JSON %s, want %s", data, want)
	}
}

// TestLargestStateFileReadsBack writes the largest state file the agent
// may write within its limits, every text at its longest and in the
// characters JSON escapes longest: MaxOverrides overrides and a reply for
// each of rules.MaxFleetServers servers with names of rules.MaxNameLen
// bytes. A restarted agent must read it back whole, not move it aside as
// corrupt (which drops every override).
func TestLargestStateFileReadsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	clk := &clock{now: t0.Add(123456789 * time.Nanosecond)}
	s := open(t, path, Options{Now: clk.Now})
	longest := rules.Action{Op: rules.Stopped, Admin: rules.Maint, Weight: rules.MaxWeight, Maxconn: rules.MaxMaxconn}
	if _, err := s.Add(evaluator.Override{Service: strings.Repeat("s", rules.MaxNameLen+1), Action: longest, Reason: "r"}, 0); !IsValidation(err) {
		t.Errorf("a service name over rules.MaxNameLen: %v, want refused", err)
	}
	one, err := s.Add(evaluator.Override{Service: strings.Repeat("<", rules.MaxNameLen), Action: longest, Reason: strings.Repeat("&", MaxReason)}, 1000*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// The other overrides as Add makes them, written at once: adding
	// 1,000 one by one rewrites the file 1,000 times.
	ovs := []evaluator.Override{one}
	for i := 1; i < MaxOverrides; i++ {
		o := one
		o.ID, o.Service = fmt.Sprintf("%08x", i), fmt.Sprintf("%04d", i)+one.Service[4:]
		ovs = append(ovs, o)
	}
	line := "stopped maint 256% maxconn:2147483647 #" + strings.Repeat(">", evaluator.MaxDescription)
	replies := make(map[string]string, rules.MaxFleetServers)
	outBy := make(map[string]string, rules.MaxFleetServers)
	for i := range rules.MaxFleetServers {
		name := fmt.Sprintf("%05d", i) + strings.Repeat("w", rules.MaxNameLen-5)
		replies[name], outBy[name] = line, evaluator.OutByOverride
	}
	s.Close()
	data, err := encodeState(ovs, replies, outBy)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(path, data); err != nil {
		t.Fatal(err)
	}
	t.Logf("largest state file: %d bytes, the limit is %d", len(data), MaxStateFileSize)
	if len(data) > MaxStateFileSize {
		t.Errorf("the state file is %d bytes, over MaxStateFileSize (%d)", len(data), MaxStateFileSize)
	}

	again := open(t, path, Options{Now: clk.Now})
	defer again.Close()
	if err := again.LoadError(); err != nil {
		t.Fatalf("the largest state file was refused: %v", err)
	}
	if got := len(again.List(clk.Now())); got != MaxOverrides {
		t.Errorf("%d overrides read back, want %d", got, MaxOverrides)
	}
	if got := len(again.OutBy()); got != len(outBy) {
		t.Errorf("%d servers out read back, want %d", got, len(outBy))
	}
	back := again.Replies()
	if len(back) != len(replies) {
		t.Errorf("%d replies read back, want %d", len(back), len(replies))
	}
	for name, l := range replies {
		if back[name] != l {
			t.Fatalf("reply of %.10s...: %q, want %q", name, back[name], l)
		}
	}
	if _, err := ReadState(path); err != nil {
		t.Errorf("ReadState (eval --dry-run): %v", err)
	}
}
