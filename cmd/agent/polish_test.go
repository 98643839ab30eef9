package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
)

func TestNoCommand(t *testing.T) {
	for _, args := range [][]string{nil, {"--log.level=debug"}} {
		code, out, errOut := agent(t, args...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, "usage: agent") || !strings.Contains(errOut, "no command given") {
			t.Errorf("agent %v: exit %d, stdout %q, stderr %q; want exit 2, the usage on stderr", args, code, out, errOut)
		}
	}
	// Help and version still go to stdout with exit 0.
	for _, args := range [][]string{{"--help"}, {"--version"}, {"help"}} {
		if code, out, _ := agent(t, args...); code != exitOK || out == "" {
			t.Errorf("agent %v: exit %d, stdout %q", args, code, out)
		}
	}
}

func TestCheckMissingFile(t *testing.T) {
	good := "../../examples/rules.yaml"
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	code, out, _ := agent(t, "check", good, missing)
	if code != exitFailure {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		"Checking " + good + "\n  SUCCESS: 2 rules found\n",
		"Checking " + missing + "\n  FAILED:\n    ",
		"no such file or directory",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestEvalPositionalFile(t *testing.T) {
	const f = "../../examples/rules.yaml"
	for _, args := range [][]string{
		{"eval", "--dry-run", f, "--set", "queue_depth=600", "--set", "cpu=0.5"},
		{"eval", "--dry-run", "--rules", f, f, "--set", "queue_depth=600", "--set", "cpu=0.5"},
	} {
		code, out, errOut := agent(t, args...)
		if code != exitOK || !strings.Contains(out, "  reply: up drain 100% #queue_depth > 500\n") {
			t.Errorf("agent %v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	for _, args := range [][]string{
		{"eval", "--dry-run"},
		{"eval", "--dry-run", "--rules", f, "../../examples/features.yaml"},
	} {
		if code, _, errOut := agent(t, args...); code != exitUsage || errOut == "" {
			t.Errorf("agent %v: exit %d, stderr %q; want 2 and a message", args, code, errOut)
		}
	}
}

func TestEvalOutputForm(t *testing.T) {
	const f = "../../examples/rules.yaml"
	code, out, _ := agent(t, "eval", "--dry-run", f, "--set", "queue_depth=600", "--set", "cpu=0.123456789", "--output", "json")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(out, `\u003e`) || !strings.Contains(out, `"queue_depth > 500"`) {
		t.Errorf("JSON escapes '>':\n%s", out)
	}
	if strings.Contains(out, ": -1") {
		t.Errorf("JSON shows the -1 placeholder:\n%s", out)
	}
	_, out, _ = agent(t, "eval", "--dry-run", f, "--set", "queue_depth=600", "--set", "cpu=0.123456789")
	if !strings.Contains(out, " 0.123457 ") && !strings.Contains(out, " 0.123457\n") {
		t.Errorf("value not shown with 6 significant digits:\n%s", out)
	}
}

// TestEvalRate: a rate: true metric is read twice, one interval apart,
// and eval says so.
func TestEvalRate(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// 10 more requests per scrape.
		fmt.Fprintf(w, "# TYPE reqs_total counter\nreqs_total %d\n", 100+10*n.Add(1))
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "r.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`interval: 200ms
sources:
  app:
    scrape: %s
    timeout: 200ms
metrics:
  reqs:
    source: app
    select: reqs_total
    rate: true
rules:
  - reqs > 0 => drain
`, srv.URL)), 0o644)
	code, out, errOut := agent(t, "eval", "--dry-run", path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"read twice, 200ms apart", "reply: up drain 100% #reqs > 0\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "two scrapes") {
		t.Errorf("rate still missing:\n%s", out)
	}
	if n.Load() != 2 {
		t.Errorf("source read %d times, want 2", n.Load())
	}
}

func TestBuildVersion(t *testing.T) {
	vcs := func(rev, at, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: at}, {Key: "vcs.modified", Value: modified}}
	}
	for _, tc := range []struct {
		bi   *debug.BuildInfo
		want string
	}{
		{nil, "devel"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
		{&debug.BuildInfo{Main: debug.Module{Version: ""}}, "devel"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: vcs("0123456789abcdef", "2026-12-01T10:00:00Z", "false")}, "v1.2.3"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("0123456789abcdef", "2026-12-01T10:00:00Z", "false")}, "v0.0.0-20261201100000-0123456789ab"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("0123456789abcdef", "2026-12-01T10:00:00Z", "true")}, "v0.0.0-20261201100000-0123456789ab+dirty"},
	} {
		if got, _ := buildVersion(tc.bi); got != tc.want {
			t.Errorf("buildVersion(%+v) = %q, want %q", tc.bi, got, tc.want)
		}
	}
}

// TestOverrideNotAnAgent: --web.url pointed at something else (the agent
// port, a web page, another JSON API, a server without the route) fails
// with a message that says so.
func TestOverrideNotAnAgent(t *testing.T) {
	agentPort, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer agentPort.Close()
	go func() {
		for {
			c, err := agentPort.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("up ready 100%\n"))
			c.Close()
		}
	}()
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintln(w, "<html><body>Grafana</body></html>")
	}))
	defer page.Close()
	otherJSON := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"success","data":[]}`)
	}))
	defer otherJSON.Close()
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	defer http.DefaultClient.CloseIdleConnections()

	for name, url := range map[string]string{
		"agent port": "http://" + agentPort.Addr().String(),
		"html page":  page.URL,
		"other json": otherJSON.URL,
		"not found":  notFound.URL,
	} {
		code, out, errOut := overrideCLI(t, url, "list")
		if code != exitFailure || out != "" || !strings.Contains(errOut, "not the agent") || !strings.Contains(errOut, "--web.listen-address") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and a message that this is not the agent", name, code, out, errOut)
		}
	}
}
