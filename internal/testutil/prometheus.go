package testutil

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// PrometheusBinEnv names the environment variable that may point at the
// prometheus binary to use instead of the one on PATH or /usr/bin.
const PrometheusBinEnv = "PROMETHEUS_BIN"

// prometheusRequireEnv turns "prometheus cannot start" from a skip into a
// failure when set (CI sets it).
const prometheusRequireEnv = "AGENT_REQUIRE_SERVERS"

const (
	prometheusStartTimeout = 30 * time.Second
	prometheusStopTimeout  = 5 * time.Second
)

// Prometheus is a prometheus server started by StartPrometheus, scraping
// test targets every second into a temporary TSDB.
type Prometheus struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:40123.
	URL string
	cmd *exec.Cmd
	out *SyncBuffer
}

// PrometheusBinary returns the prometheus binary to use: $PROMETHEUS_BIN,
// then prometheus on PATH, then /usr/bin/prometheus.
func PrometheusBinary() (string, bool) {
	if p := os.Getenv(PrometheusBinEnv); p != "" {
		return p, true
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p, true
	}
	if _, err := os.Stat("/usr/bin/prometheus"); err == nil {
		return "/usr/bin/prometheus", true
	}
	return "", false
}

// StartPrometheus starts prometheus scraping the given targets (URLs of
// /metrics pages) every second, waits until it is ready, and stops it when
// the test ends. Without a usable prometheus the test is skipped, or fails
// when AGENT_REQUIRE_SERVERS is set.
func StartPrometheus(t testing.TB, targets ...string) *Prometheus {
	t.Helper()
	bin, ok := PrometheusBinary()
	if !ok {
		promUnavailable(t, "prometheus is not installed")
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(prometheusConfig(targets)), 0o644); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		p, err := startPrometheus(t, bin, cfgPath, filepath.Join(dir, fmt.Sprintf("data%d", attempt)))
		if err == nil {
			return p
		}
		lastErr = err
		t.Logf("prometheus attempt %d: %v", attempt+1, err)
	}
	promUnavailable(t, fmt.Sprintf("prometheus cannot start: %v", lastErr))
	return nil
}

func promUnavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv(prometheusRequireEnv) != "" {
		t.Fatalf("%s (%s is set)", msg, prometheusRequireEnv)
	}
	t.Skip(msg)
}

func prometheusConfig(targets []string) string {
	var b strings.Builder
	b.WriteString("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nscrape_configs:\n")
	for i, target := range targets {
		u, err := url.Parse(target)
		if err != nil {
			continue
		}
		path := u.Path
		if path == "" {
			path = "/metrics"
		}
		fmt.Fprintf(&b, "  - job_name: target%d\n    metrics_path: %q\n    scheme: %s\n    static_configs:\n      - targets: [%q]\n",
			i, path, u.Scheme, u.Host)
	}
	return b.String()
}

// startPrometheus runs one attempt on a port that was free a moment ago;
// a clash makes prometheus exit, and the caller tries another port.
func startPrometheus(t testing.TB, bin, cfgPath, dataDir string, extra ...string) (*Prometheus, error) {
	port, err := promFreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	out := &SyncBuffer{}
	cmd := exec.Command(bin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+dataDir,
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	cmd.Args = append(cmd.Args, extra...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	p := &Prometheus{URL: "http://" + addr, cmd: cmd, out: out}
	stop := func() {
		_ = cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(prometheusStopTimeout):
		}
	}
	deadline := time.Now().Add(prometheusStartTimeout)
	for {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("exited: %v\n%s", err, out.String())
		default:
		}
		if promReady(p.URL + "/-/ready") {
			break
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("not ready after %s\n%s", prometheusStartTimeout, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out.String())
		}
	})
	return p, nil
}

func promReady(u string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func promFreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// WaitQuery waits until query returns at least one sample and returns the
// first sample's value, failing the test after timeout.
func (p *Prometheus) WaitQuery(t testing.TB, query string, timeout time.Duration) float64 {
	t.Helper()
	timeout = max(timeout, minWait) // only catches a sample that never comes
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		v, err := p.Query(query)
		if err == nil {
			return v
		}
		lastErr = err
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("prometheus: %s: no sample after %s: %v\n%s", query, timeout, lastErr, p.out.String())
	return 0
}

// Query runs an instant query and returns the first sample's value.
func (p *Prometheus) Query(query string) (float64, error) {
	resp, err := http.Get(p.URL + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, err
	}
	if body.Status != "success" {
		return 0, errors.New(body.Error)
	}
	if len(body.Data.Result) == 0 {
		return 0, errors.New("no samples")
	}
	s, _ := body.Data.Result[0].Value[1].(string)
	var v float64
	if _, err := fmt.Sscan(s, &v); err != nil {
		return 0, fmt.Errorf("value %q: %w", s, err)
	}
	return v, nil
}
