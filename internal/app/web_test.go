package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/override"
	"github.com/haproxy-agent/agent/internal/testutil"
)

// TestWebTLSAndBasicAuth serves the web port with a --web.config.file
// holding a certificate the test made and a bcrypt-hashed user: every
// endpoint wants the user, plain HTTP gets no page, and the override
// client gets through with the CA and the password.
func TestWebTLSAndBasicAuth(t *testing.T) {
	t.Parallel()
	leakCheck(t)
	dir := t.TempDir()
	cert, key, pool := testutil.SelfSignedCert(t, dir)
	webCfg := testutil.WebConfig(t, dir, cert, key, "ops", "s3cret")
	exp := newExporter(t)
	rules := filepath.Join(dir, "rules.yaml")
	writeAtomic(t, rules, fmt.Sprintf(e2eRules, exp.srv.URL, "0.9"))
	ag := startAgent(t, Options{RulesPath: rules, EnableLifecycle: true, WebConfigFile: webCfg, Logger: quietLogger()})

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	base := "https://" + ag.web
	do := func(method, path, user, pass, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct{ path, want string }{
		{"/metrics", "haproxy_agent_config_last_reload_successful 1"},
		{"/status", `"services"`},
		{"/", "reply"},
		{"/static/page.css", "svg.plot"},
		{"/healthz", "OK"},
		{"/api/v1/overrides", `"overrides"`},
	} {
		if code, _ := do("GET", c.path, "", "", ""); code != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials = %d, want 401", c.path, code)
		}
		if code, _ := do("GET", c.path, "ops", "wrong", ""); code != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong password = %d, want 401", c.path, code)
		}
		if code, body := do("GET", c.path, "ops", "s3cret", ""); code != http.StatusOK || !strings.Contains(body, c.want) {
			t.Errorf("GET %s with the password = %d, want 200 with %q", c.path, code, c.want)
		}
	}
	add := `{"action":"drain","reason":"tls test","ttl":"1h"}`
	if code, _ := do("POST", "/api/v1/overrides", "", "", add); code != http.StatusUnauthorized {
		t.Errorf("POST /api/v1/overrides without credentials = %d, want 401", code)
	}
	if code, _ := do("POST", "/-/reload", "", "", ""); code != http.StatusUnauthorized {
		t.Errorf("POST /-/reload without credentials = %d, want 401", code)
	}

	// The override client, as `agent override --web.url https://...` uses it.
	ctx := context.Background()
	oc := &override.Client{BaseURL: base, HTTP: client, Username: "ops", Password: "s3cret"}
	rec, err := oc.Add(ctx, override.AddRequest{Action: "drain", Reason: "tls test", TTL: "1h"})
	if err != nil {
		t.Fatalf("override over TLS with basic auth: %v", err)
	}
	if got := testutil.Poll(t, ag.poll, ""); !strings.Contains(got, "drain") {
		t.Errorf("after the override, poll = %q", got)
	}
	bad := &override.Client{BaseURL: base, HTTP: client, Username: "ops", Password: "nope"}
	if _, err := bad.List(ctx); !errors.Is(err, override.ErrUnauthorized) {
		t.Errorf("wrong password: err = %v, want ErrUnauthorized", err)
	}
	if _, err := (&override.Client{BaseURL: base}).List(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a client that does not trust the CA: err = %v, want a certificate error", err)
	}
	if _, err := oc.Remove(ctx, rec.ID); err != nil {
		t.Error(err)
	}

	// Plain HTTP on the TLS port gets no page.
	resp, err := http.Get("http://" + ag.web + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(body), "haproxy_agent_") {
		t.Errorf("plain HTTP on the TLS port = %s %q, want 400 and no metrics", resp.Status, body)
	}
}

// TestWebConfigFileInvalid: a web configuration that does not load stops
// the agent at start, before it listens, with the file named.
func TestWebConfigFileInvalid(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "web.yml")
	os.WriteFile(bad, []byte("tls_server_config:\n  cert_file: /nonexistent.pem\n  key_file: /nonexistent.key\n"), 0o600)
	err := Run(context.Background(), Options{WebConfigFile: bad, DefaultRules: []byte("rules: []\n"), DefaultName: "x",
		Listen: "127.0.0.1:0", WebListen: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("Run with a broken web config: %v", err)
	}
}

// TestWebIdleFloodDoesNotStarvePolls is the attack found against the web
// port: hundreds of idle keep-alive HTTP connections. The agent runs as a
// process with 256 file descriptors; 600 idle connections to its web port
// must not make one poll of its agent port fail. A control run without the
// connection cap shows that the attack does starve the agent port then, so
// that the test can tell.
func TestWebIdleFloodDoesNotStarvePolls(t *testing.T) {
	testutil.Long(t)
	holdFD(t, 4096)
	bin := buildAgent(t)
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	writeAtomic(t, rules, "interval: 200ms\nmetrics:\n  cpu: host:cpu\nrules:\n  - cpu > 2 => drain\n")
	hold := 3 * time.Second
	for _, tc := range []struct {
		name     string
		maxConns int
		control  bool
	}{
		{"capped", 64, false},
		{"control without a cap", 100000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			poll := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
			web := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
			var stderr testutil.SyncBuffer
			cmd := exec.Command("sh", "-c", `ulimit -n 256 && exec "$@"`, "sh", bin, "serve", "--rules", rules,
				"--listen", poll, "--web.listen-address", web, "--web.max-connections", fmt.Sprint(tc.maxConns))
			cmd.Stderr = &stderr
			startProcess(t, cmd)
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				if _, err := testutil.PollLine(poll, "", 200*time.Millisecond); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the agent does not answer polls:\n%s", stderr.String())
				}
			}

			// 600 connections, each sending one keep-alive request and
			// then idling.
			var conns []net.Conn
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			for range 600 {
				c, err := net.DialTimeout("tcp", web, time.Second)
				if err != nil {
					continue // the kernel's accept queue is full: fine
				}
				conns = append(conns, c)
				c.SetWriteDeadline(time.Now().Add(time.Second))
				io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: agent\r\nConnection: keep-alive\r\n\r\n")
			}
			var polls, failed atomic.Int64
			var firstErr atomic.Pointer[string]
			// A starved agent port leaves polls unanswered: the control
			// run's polls time out after a second. With the cap, the
			// timeout only catches that, not a slow machine.
			pollTimeout := 10 * time.Second
			if tc.control {
				pollTimeout = time.Second
			}
			for deadline := time.Now().Add(hold); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				polls.Add(1)
				if _, err := testutil.PollLine(poll, "", pollTimeout); err != nil {
					failed.Add(1)
					msg := err.Error()
					firstErr.CompareAndSwap(nil, &msg)
				}
			}
			fdErrors := strings.Count(stderr.String(), "too many open files")
			t.Logf("%d idle web connections open; %d polls, %d failed; %d \"too many open files\" in the agent's log",
				len(conns), polls.Load(), failed.Load(), fdErrors)
			if tc.control {
				if failed.Load() == 0 && fdErrors == 0 {
					t.Errorf("without the cap the flood did not starve the agent port: the test cannot tell a fix from none")
				}
				return
			}
			if failed.Load() != 0 {
				t.Errorf("%d of %d polls failed during the flood; first: %s", failed.Load(), polls.Load(), *firstErr.Load())
			}
			if fdErrors != 0 {
				t.Errorf("the agent ran out of file descriptors:\n%s", stderr.String())
			}
			if polls.Load() < 10 {
				t.Errorf("only %d polls in %s", polls.Load(), hold)
			}
			// Once the flood is gone, the web port serves again.
			for _, c := range conns {
				c.Close()
			}
			conns = nil
			waitFor(t, "the web port to serve again", func() bool {
				resp, err := http.Get("http://" + web + "/healthz")
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode == http.StatusOK
			})
		})
	}
}

// TestExampleWebConfig runs the agent on examples/web-config.yml, with its
// certificate paths pointed at a certificate the test made: the user and
// password it documents get in, nobody else does.
func TestExampleWebConfig(t *testing.T) {
	t.Parallel()
	leakCheck(t)
	dir := t.TempDir()
	cert, key, pool := testutil.SelfSignedCert(t, dir)
	data, err := os.ReadFile("../../examples/web-config.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer("/etc/agent/tls/agent.crt", cert, "/etc/agent/tls/agent.key", key).Replace(string(data))
	if cfg == string(data) {
		t.Fatal("examples/web-config.yml no longer names /etc/agent/tls/agent.crt and agent.key: update this test")
	}
	webCfg := filepath.Join(dir, "web-config.yml")
	os.WriteFile(webCfg, []byte(cfg), 0o600)
	ag := startAgent(t, Options{WebConfigFile: webCfg, DefaultRules: []byte("rules: []\n"), DefaultName: "empty", Logger: quietLogger()})

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	for _, c := range []struct {
		user, pass string
		want       int
	}{{"ops", "change-me", 200}, {"ops", "change-it", 401}, {"", "", 401}} {
		req, _ := http.NewRequest("GET", "https://"+ag.web+"/metrics", nil)
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pass)
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("GET /metrics as %q/%q = %d, want %d", c.user, c.pass, resp.StatusCode, c.want)
		}
	}
}
