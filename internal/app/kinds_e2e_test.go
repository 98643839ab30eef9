package app

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// healthz is a service's health endpoint whose answer the test sets: its
// status, and the replication lag in its JSON body.
type healthz struct {
	status atomic.Int32
	lag    atomic.Int64
	srv    *httptest.Server
}

func newHealthz(t *testing.T) *healthz {
	h := &healthz{}
	h.status.Store(http.StatusOK)
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(h.status.Load()))
		fmt.Fprintf(w, `{"status": "ok", "replication": {"lag_seconds": %d}}`, h.lag.Load())
	}))
	t.Cleanup(h.srv.Close)
	return h
}

const healthzRules = `interval: 200ms
sources:
  app:
    http: %s/healthz
    timeout: 150ms
    json: {lag: replication.lag_seconds}
metrics:
  healthy: app:success
  lag: app:lag
rules:
  - healthy == 0 => down
  - lag > 30 => drain
`

// waitReply polls the agent until its reply is want.
func waitReply(t *testing.T, ra *runningAgent, want string) {
	t.Helper()
	var last string
	waitFor(t, fmt.Sprintf("reply %q (last %q)", want, last), func() bool {
		var err error
		last, err = poll(ra.poll, "", time.Second)
		return err == nil && last == want
	})
}

// TestHealthzProbe runs the agent on a probe of a real /healthz: the
// server goes out of rotation when the endpoint answers 503, when it
// reports a deep lag, and when the service dies altogether (connection
// refused), with no on_missing: a probe's failure is a value.
func TestHealthzProbe(t *testing.T) {
	t.Parallel()
	h := newHealthz(t)
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeAtomic(t, path, fmt.Sprintf(healthzRules, h.srv.URL))
	ra := startAgent(t, Options{RulesPath: path})

	waitReply(t, ra, "up ready 100%")
	h.lag.Store(60)
	waitReply(t, ra, "up drain 100% #lag > 30")
	h.lag.Store(1)
	h.status.Store(http.StatusServiceUnavailable)
	waitReply(t, ra, "down ready 100% #healthy == 0")
	h.status.Store(http.StatusOK)
	waitReply(t, ra, "up ready 100%")

	h.srv.CloseClientConnections()
	h.srv.Listener.Close()
	waitReply(t, ra, "down ready 100% #healthy == 0")
	// lag keeps its last good value for stale_after, then is missing
	// with the probe's reason.
	waitFor(t, "/status to say why lag is missing", func() bool {
		return strings.Contains(ra.get(t, "/status"), "no response: connection refused")
	})
}

// TestExecSource runs the agent on a command: its output's series, and its
// exit code, drive the rules; a non-zero exit leaves the output's metric
// as it was (on_missing: keep) and exit_code says so.
func TestExecSource(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) { writeAtomic(t, filepath.Join(dir, name), content) }
	write("lag.prom", "replica_lag_seconds 5\n")
	write("code", "0\n")
	script := filepath.Join(dir, "check-lag")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ncat lag.prom\nexit $(cat code)\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rules.yaml")
	writeAtomic(t, path, `interval: 200ms
sources:
  lag: {exec: [./check-lag], timeout: 150ms}
metrics:
  lag: lag:replica_lag_seconds
  code: lag:exit_code
rules:
  - lag > 30 => drain
  - code != 0 => weight 50%
`)
	ra := startAgent(t, Options{RulesPath: path})
	waitReply(t, ra, "up ready 100%")
	write("lag.prom", "replica_lag_seconds 45\n")
	waitReply(t, ra, "up drain 100% #lag > 30")
	write("code", "3\n")
	waitReply(t, ra, "up drain 50% #lag > 30; code != 0")
	waitFor(t, "/status to say why lag is missing", func() bool {
		return strings.Contains(ra.get(t, "/status"), "exit code 3")
	})
	write("lag.prom", "replica_lag_seconds 1\n")
	write("code", "0\n")
	waitReply(t, ra, "up ready 100%")
}
