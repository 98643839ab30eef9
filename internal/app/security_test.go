package app

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/testutil"
)

// The secrets of TestSecretsNeverShown: each must be used (the sources
// authenticate with them) and never appear in anything the agent shows.
const (
	secretPassword = "pw-3f9c1e7a-never-show-me"
	secretToken    = "tok-8b2d4c6e-never-show-me"
)

const securityRules = `interval: 200ms
sources:
  basic:
    scrape: %[1]s/basic
    timeout: 150ms
    basic_auth:
      username: agent
      password_file: %[2]s
  bearer:
    scrape: %[1]s/bearer
    timeout: 150ms
    authorization:
      type: Bearer
      credentials: %[3]s
  echo:
    scrape: %[1]s/echo
    timeout: 150ms
    authorization:
      credentials: %[3]s
metrics:
  queue_depth: basic:queue_depth
  cpu: bearer:cpu
  echoed: echo:anything
rules:
  - queue_depth > 500 => drain
  - cpu > 0.9 => weight 50%%
  - echoed > 1 => down
`

// authServer serves /basic and /bearer only to the right credentials, and
// /echo always fails with a body that repeats the credentials it got, as
// some proxies do.
func authServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/basic":
			if u, p, ok := r.BasicAuth(); !ok || u != "agent" || p != secretPassword {
				http.Error(w, "bad credentials", http.StatusUnauthorized)
				return
			}
			fmt.Fprintln(w, "queue_depth 10")
		case "/bearer":
			if r.Header.Get("Authorization") != "Bearer "+secretToken {
				http.Error(w, "bad token", http.StatusUnauthorized)
				return
			}
			fmt.Fprintln(w, "cpu 0.2")
		default:
			http.Error(w, "denied: you sent "+r.Header.Get("Authorization"), http.StatusForbidden)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestSecretsNeverShown runs the agent with sources that authenticate by
// basic_auth with a password_file and by a bearer token, with debug logs,
// and looks for the secrets in /status, /metrics, the logs, the errors of
// a failed reload and `agent eval --dry-run` in text and JSON.
func TestSecretsNeverShown(t *testing.T) {
	t.Parallel()
	leakCheck(t)
	srv := authServer(t)
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte(secretPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rules.yaml")
	good := fmt.Sprintf(securityRules, srv.URL, pwFile, secretToken)
	writeAtomic(t, path, good)

	logs := &testutil.SyncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ag := startAgent(t, Options{RulesPath: path, Logger: logger, EnableLifecycle: true})

	// The sources authenticate: the secrets are really in use.
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := ag.get(t, "/status")
		if strings.Contains(st, `"name": "basic"`) && !strings.Contains(st, "HTTP 401") &&
			strings.Contains(st, `"up": true`) && strings.Contains(st, "HTTP 403") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sources did not authenticate:\n%s\nlogs:\n%s", st, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// A failed reload whose file holds the secrets in wrong places: the
	// errors are logged and shown in /status.
	bad := strings.Replace(good, "credentials: "+secretToken, "credentials: {nested: "+secretToken+"}", 1) +
		"  - nosuch > 1 => drain\n"
	writeAtomic(t, path, bad)
	reloadNow(ag)
	waitFor(t, "the failed reload", func() bool {
		return strings.Contains(ag.get(t, "/metrics"), "haproxy_agent_config_last_reload_successful 0")
	})
	writeAtomic(t, path, good)
	reloadNow(ag)
	waitFor(t, "the good reload", func() bool {
		return strings.Contains(ag.get(t, "/metrics"), "haproxy_agent_config_last_reload_successful 1")
	})

	shown := map[string]string{
		"/status":  ag.get(t, "/status"),
		"/metrics": ag.get(t, "/metrics"),
		"/":        ag.get(t, "/"),
	}
	shown["logs"] = logs.String()

	bin := buildAgent(t)
	for _, format := range []string{"text", "json"} {
		cmd := exec.Command(bin, "eval", "--rules", path, "--dry-run", "--output", format, "--log.level", "debug")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("agent eval --output %s: %v\n%s", format, err, out)
		}
		shown["eval "+format] = string(out)
	}
	// The bad file through eval: load errors printed.
	badPath := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badPath, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(bin, "eval", "--rules", badPath, "--dry-run").CombinedOutput()
	shown["eval of the bad file"] = string(out)
	out, _ = exec.Command(bin, "check", badPath).CombinedOutput()
	shown["check of the bad file"] = string(out)

	for where, text := range shown {
		if text == "" {
			t.Errorf("%s: empty", where)
		}
		for _, secret := range []string{secretPassword, secretToken} {
			if i := strings.Index(text, secret); i >= 0 {
				t.Errorf("%s shows the secret %q: ...%s...", where, secret, text[max(0, i-200):min(len(text), i+100)])
			}
		}
	}
	if !strings.Contains(shown["eval text"], "queue_depth") || !strings.Contains(shown["eval json"], `"reply"`) {
		t.Errorf("eval output does not look like a report:\n%s\n%s", shown["eval text"], shown["eval json"])
	}
}

// waitFor polls cond for up to 30 s: it only catches what never comes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startProcess starts cmd and, when the test ends, interrupts it as a
// service manager would (SIGINT), killing it after 10 s.
func startProcess(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
}

// buildAgent returns the path of cmd/agent built for this test run.
func buildAgent(t *testing.T) string {
	t.Helper()
	bin, err := agentBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// agentBinary builds cmd/agent once per test run, for the tests that run
// it side by side; TestMain removes it.
var agentBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "agent-bin-")
	if err != nil {
		return "", err
	}
	agentBinaryDir = dir
	bin := filepath.Join(dir, "agent")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/agent").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
})

// agentBinaryDir is where agentBinary built, if it did.
var agentBinaryDir string

// TestMain removes the binary agentBinary built, if any.
func TestMain(m *testing.M) {
	code := m.Run()
	if agentBinaryDir != "" {
		os.RemoveAll(agentBinaryDir)
	}
	os.Exit(code)
}

// reloadNow asks for a reload by HTTP, in case the file watcher has not
// seen the change yet: the outcome is the same.
func reloadNow(ag *runningAgent) {
	resp, err := http.Post("http://"+ag.web+"/-/reload", "", nil)
	if err == nil {
		resp.Body.Close()
	}
}

// TestRelativePasswordFileUnderServe runs the real `agent serve` on a rule
// file whose basic_auth names its password_file relatively, from another
// working directory: the file is read from the rule file's directory, as
// `agent check` and the docs say, and the source authenticates.
func TestRelativePasswordFileUnderServe(t *testing.T) {
	t.Parallel()
	srv := authServer(t)
	dir, elsewhere := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "password"), []byte(secretPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rules.yaml")
	writeAtomic(t, path, fmt.Sprintf(`interval: 200ms
sources:
  basic:
    scrape: %s/basic
    timeout: 150ms
    basic_auth:
      username: agent
      password_file: password
metrics:
  queue_depth: basic:queue_depth
rules:
  - queue_depth > 500 => drain
`, srv.URL))
	bin := buildAgent(t)
	poll := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	web := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	var stderr testutil.SyncBuffer
	cmd := exec.Command(bin, "serve", "--rules", path, "--listen", poll, "--web.listen-address", web)
	cmd.Dir = elsewhere
	cmd.Stderr = &stderr
	startProcess(t, cmd)
	var last string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + web + "/status"); err == nil {
			var st Status
			err := json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			if err == nil && len(st.Sources) > 0 {
				for _, s := range st.Sources {
					if s.Name == "basic" && s.Up {
						return
					}
					if s.Name == "basic" && s.LastError != "" {
						last = s.LastError
					}
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("source basic never authenticated; last error %q\nagent's log:\n%s", last, stderr.String())
		}
	}
}
