package main

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	toolkitweb "github.com/prometheus/exporter-toolkit/web"
	"go.uber.org/goleak"

	"github.com/haproxy-agent/agent/internal/override"
	"github.com/haproxy-agent/agent/internal/testutil"
)

var overrideT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// overrideAgent serves the real overrides API over loopback, as an agent
// with --web.enable-lifecycle does, with its clock fixed at overrideT0.
func overrideAgent(t *testing.T) (*override.Store, string) {
	t.Helper()
	opts := override.Options{
		Now:          func() time.Time { return overrideT0 },
		KnownService: func(name string) bool { return name == "default" || name == "worker" },
	}
	s, err := override.Open("", nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h := override.Handler(s, override.HandlerOptions{})
	mux.Handle(override.APIPath, h)
	mux.Handle(override.APIPath+"/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		s.Close()
	})
	return s, srv.URL
}

// overrideCLI runs `agent override ARGS... --web.url URL` in-process.
func overrideCLI(t *testing.T, url string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	args = append(append([]string{"override"}, args...), "--web.url", url)
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// checkLeaks verifies, after the test's own cleanups, that the CLI left
// no goroutine behind (idle keep-alive connections are closed first).
func checkLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		http.DefaultClient.CloseIdleConnections()
		goleak.VerifyNone(t, ignore)
	})
}

func TestOverrideCommands(t *testing.T) {
	checkLeaks(t)
	old := overrideNow
	overrideNow = func() time.Time { return overrideT0 }
	defer func() { overrideNow = old }()
	store, url := overrideAgent(t)

	code, out, errOut := overrideCLI(t, url, "drain", "--reason", "disk swap", "--ttl", "2h")
	if code != exitOK {
		t.Fatalf("drain: exit %d\n%s%s", code, out, errOut)
	}
	drain := store.List(overrideT0)[0]
	want := "Added override " + drain.ID + `: drain for all services, reason "disk swap"` + "\n" +
		"It expires at 2026-03-01T14:00:00Z (in 2h).\n"
	if out != want {
		t.Errorf("drain output:\n%s\nwant:\n%s", out, want)
	}

	code, out, errOut = overrideCLI(t, url, "weight", "25%", "--service", "worker", "--reason", "canary", "--ttl", "forever")
	if code != exitOK || !strings.Contains(out, `: weight 25% for service worker, reason "canary"`) ||
		!strings.Contains(out, "It stays until removed: agent override clear ") {
		t.Fatalf("weight: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = overrideCLI(t, url, "ready", "--reason", "trust me", "--ttl", "1d")
	if code != exitOK {
		t.Fatalf("ready: exit %d\n%s", code, errOut)
	}
	if code, _, errOut = overrideCLI(t, url, "down", "--reason", "bad disk", "--ttl", "90m"); code != exitOK {
		t.Fatalf("down: exit %d\n%s", code, errOut)
	}
	// Without --ttl: one hour, as amtool silences.
	if code, out, errOut = overrideCLI(t, url, "maint", "--reason", "kernel"); code != exitOK || !strings.Contains(out, "(in 1h)") {
		t.Fatalf("maint: exit %d\n%s%s", code, out, errOut)
	}

	ovs := store.List(overrideT0)
	if len(ovs) != 5 {
		t.Fatalf("%d overrides in the store, want 5", len(ovs))
	}
	for i, want := range []string{"drain", "weight 25%", "up, ready", "down", "maint"} {
		if got := ovs[i].Action.String(); got != want {
			t.Errorf("override %d: action %q, want %q", i, got, want)
		}
	}
	code, out, _ = overrideCLI(t, url, "list")
	wantList := "" +
		"ID        SERVICE  ACTION      REASON     EXPIRES\n" +
		ovs[0].ID + "  (all)    drain       disk swap  2026-03-01T14:00:00Z (in 2h)\n" +
		ovs[1].ID + "  worker   weight 25%  canary     never\n" +
		ovs[2].ID + "  (all)    up, ready   trust me   2026-03-02T12:00:00Z (in 1d)\n" +
		ovs[3].ID + "  (all)    down        bad disk   2026-03-01T13:30:00Z (in 1h30m)\n" +
		ovs[4].ID + "  (all)    maint       kernel     2026-03-01T13:00:00Z (in 1h)\n"
	if code != exitOK || out != wantList {
		t.Errorf("list: exit %d\n%s\nwant:\n%s", code, out, wantList)
	}

	code, out, _ = overrideCLI(t, url, "clear", ovs[0].ID)
	if want := "Removed override " + ovs[0].ID + `: drain for all services, reason "disk swap"` + "\n"; code != exitOK || out != want {
		t.Errorf("clear ID: exit %d %q, want %q", code, out, want)
	}
	code, out, errOut = overrideCLI(t, url, "clear", ovs[0].ID)
	if code != exitFailure || out != "" || errOut != "agent override: no such override \""+ovs[0].ID+"\"\n" {
		t.Errorf("clear a removed ID: exit %d %q %q", code, out, errOut)
	}
	code, out, _ = overrideCLI(t, url, "clear", "--all")
	if code != exitOK || !strings.HasPrefix(out, "Removed 4 overrides.\n  "+ovs[1].ID+": weight 25% for service worker") {
		t.Errorf("clear: exit %d\n%s", code, out)
	}
	code, out, _ = overrideCLI(t, url, "list")
	if code != exitOK || out != "No overrides in force.\n" {
		t.Errorf("empty list: exit %d %q", code, out)
	}
}

func TestOverrideUsageErrors(t *testing.T) {
	checkLeaks(t)
	store, url := overrideAgent(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"drian", "--reason", "x"}, `unknown action "drian"`},
		{[]string{"weight", "300%", "--reason", "x"}, "weight"},
		{[]string{"weight", "--reason", "x"}, "weight needs a number"},
		{[]string{"drain"}, "--reason is required"},
		{[]string{"drain", "--reason", "  "}, "--reason is required"},
		{[]string{"drain", "--reason", "x", "--ttl", "soon"}, `--ttl: ttl "soon"`},
		{[]string{"drain", "--reason", "x", "--ttl=-1h"}, "must not be negative"},
		{[]string{"list", "extra"}, "list takes no arguments"},
		{[]string{"list", "--reason", "x"}, "are for adding an override, not for list"},
		{[]string{"clear", "--service", "worker"}, "not for clear"},
		{[]string{"clear", "a", "b"}, "clear takes at most one override ID"},
		// Clearing every override is said, not the default of a missing ID.
		{[]string{"clear"}, "clear needs an override ID (see 'agent override list'), or --all to remove every override"},
		{[]string{"clear", "a", "--all"}, "clear takes an override ID or --all, not both"},
		{[]string{"drain", "--reason", "x", "--all"}, "--all is for clear"},
	} {
		code, out, errOut := overrideCLI(t, url, tc.args...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "see 'agent override --help'") {
			t.Errorf("agent override %s: exit %d, stdout %q, stderr %q; want 2 and %q", strings.Join(tc.args, " "), code, out, errOut, tc.want)
		}
	}
	// kingpin's own usage errors (no arguments) are exit 2 too.
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"override"}, &stdout, &stderr); code != exitUsage {
		t.Errorf("agent override without arguments: exit %d, %s", code, stderr.String())
	}
	if n := len(store.List(time.Now())); n != 0 {
		t.Errorf("usage errors added %d overrides", n)
	}
}

func TestOverrideServerErrors(t *testing.T) {
	checkLeaks(t)
	_, url := overrideAgent(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"drain", "--service", "db", "--reason", "x"}, `agent override: unknown service "db": the rules loaded have no such service (nor, in fleet mode, server); without --service (an empty service) an override applies to all`},
		{[]string{"drain", "--reason", "caf\u00e9"}, "agent override: reason may hold printable ASCII only"},
		{[]string{"drain", "--reason", strings.Repeat("x", 101)}, "agent override: reason is 101 characters long"},
	} {
		code, out, errOut := overrideCLI(t, url, tc.args...)
		if code != exitFailure || out != "" || !strings.HasPrefix(errOut, tc.want) {
			t.Errorf("agent override %s: exit %d, stdout %q, stderr %q; want 1 and %q", strings.Join(tc.args, " "), code, out, errOut, tc.want)
		}
	}
}

func TestOverrideAgentWithoutLifecycle(t *testing.T) {
	checkLeaks(t)
	mux := http.NewServeMux() // no route: not the agent (see TestOverrideNotAnAgent)
	mux.HandleFunc("GET /healthz", func(http.ResponseWriter, *http.Request) {})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, args := range [][]string{{"list"}, {"drain", "--reason", "x"}, {"clear", "--all"}, {"clear", "abc"}} {
		code, _, errOut := overrideCLI(t, srv.URL, args...)
		if code != exitFailure || !strings.Contains(errOut, "--web.enable-lifecycle") {
			t.Errorf("agent override %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
		}
	}
	// An agent that refuses in plain text, as ours does.
	mux.HandleFunc("/api/v1/overrides", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "lifecycle endpoints are disabled", http.StatusForbidden)
	})
	code, _, errOut := overrideCLI(t, srv.URL, "list")
	if code != exitFailure || !strings.Contains(errOut, "403 Forbidden: lifecycle endpoints are disabled") ||
		!strings.Contains(errOut, "is the agent running with --web.enable-lifecycle?") {
		t.Errorf("agent override list against a 403: exit %d\n%s", code, errOut)
	}
}

func TestOverrideAgentUnreachable(t *testing.T) {
	checkLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	code, out, errOut := overrideCLI(t, url, "list")
	if code != exitFailure || out != "" ||
		!strings.HasPrefix(errOut, "agent override: cannot reach the agent at "+url+": ") ||
		!strings.Contains(errOut, "Is the agent running, and is --web.url ("+url+") its --web.listen-address?") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 45 * time.Second: "45s", 59*time.Minute + 50*time.Second: "1h",
		90 * time.Minute: "1h30m", 48*time.Hour + 3*time.Hour + 10*time.Minute: "2d3h", 24 * time.Hour: "1d",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestOverrideOverTLSWithBasicAuth runs `agent override` against the
// overrides API served as the agent serves it with --web.config.file: TLS
// with a certificate the test made, and a bcrypt-hashed user.
func TestOverrideOverTLSWithBasicAuth(t *testing.T) {
	checkLeaks(t)
	dir := t.TempDir()
	cert, key, _ := testutil.SelfSignedCert(t, dir)
	webCfg := testutil.WebConfig(t, dir, cert, key, "ops", "s3cret")
	s, err := override.Open("", nil, override.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mux := http.NewServeMux()
	h := override.Handler(s, override.HandlerOptions{})
	mux.Handle(override.APIPath, h)
	mux.Handle(override.APIPath+"/", h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ErrorLog: log.New(io.Discard, "", 0)}
	served := make(chan error, 1)
	go func() {
		served <- toolkitweb.Serve(ln, srv, &toolkitweb.FlagConfig{WebConfigFile: &webCfg}, slog.New(slog.DiscardHandler))
	}()
	defer func() {
		srv.Close()
		<-served
	}()
	url := "https://" + ln.Addr().String()
	pwFile := filepath.Join(dir, "password")
	os.WriteFile(pwFile, []byte("s3cret\n"), 0o600)

	for _, c := range []struct {
		name    string
		env     string
		args    []string
		code    int
		wantOut string
	}{
		{"no CA", "", []string{"list"}, exitFailure, "is not trusted: x509: certificate signed by unknown authority\nGive --web.ca-file"},
		{"no user", "", []string{"list", "--web.ca-file", cert}, exitFailure, "asks for basic auth"},
		{"wrong password", "nope", []string{"list", "--web.ca-file", cert, "--web.user", "ops"}, exitFailure, "401 Unauthorized"},
		{"password from the environment", "s3cret", []string{"drain", "--reason", "tls", "--web.ca-file", cert, "--web.user", "ops"}, exitOK, "Added override"},
		{"password file", "", []string{"list", "--web.ca-file", cert, "--web.user", "ops", "--web.password-file", pwFile}, exitOK, "tls"},
		{"password without user", "s3cret", []string{"list", "--web.ca-file", cert}, exitFailure, "needs --web.user"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("AGENT_WEB_PASSWORD", c.env)
			code, out, errOut := overrideCLI(t, url, c.args...)
			if code != c.code || !strings.Contains(out+errOut, c.wantOut) || strings.Contains(errOut, "not the agent's") {
				t.Errorf("agent override %s: exit %d, want %d with %q\nstdout: %s\nstderr: %s", strings.Join(c.args, " "), code, c.code, c.wantOut, out, errOut)
			}
		})
	}
	if n := len(s.List(time.Now())); n != 1 {
		t.Errorf("%d overrides in force, want the one added", n)
	}
}
