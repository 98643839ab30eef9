package testutil

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// VictoriaMetricsBinEnv names the environment variable that may point at
// the victoria-metrics binary to use instead of the one on PATH or
// /usr/bin.
const VictoriaMetricsBinEnv = "VICTORIA_METRICS_BIN"

// VictoriaMetrics is a single-node VictoriaMetrics started by
// StartVictoriaMetrics: a Prometheus-compatible query API over a temporary
// storage directory. Its Query and WaitQuery are those of Prometheus.
type VictoriaMetrics struct {
	Prometheus
}

// VictoriaMetricsBinary returns the victoria-metrics binary to use:
// $VICTORIA_METRICS_BIN, then victoria-metrics on PATH, then
// /usr/bin/victoria-metrics.
func VictoriaMetricsBinary() (string, bool) {
	if p := os.Getenv(VictoriaMetricsBinEnv); p != "" {
		return p, true
	}
	if p, err := exec.LookPath("victoria-metrics"); err == nil {
		return p, true
	}
	if _, err := os.Stat("/usr/bin/victoria-metrics"); err == nil {
		return "/usr/bin/victoria-metrics", true
	}
	return "", false
}

// StartVictoriaMetrics starts VictoriaMetrics scraping the given targets
// (URLs of /metrics pages) every second, waits until it is ready, and
// stops it when the test ends. Samples are queryable as soon as they are
// stored (-search.latencyOffset=0s). Without a usable binary the test is
// skipped, or fails when AGENT_REQUIRE_SERVERS is set.
func StartVictoriaMetrics(t testing.TB, targets ...string) *VictoriaMetrics {
	t.Helper()
	bin, ok := VictoriaMetricsBinary()
	if !ok {
		promUnavailable(t, "victoria-metrics is not installed")
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "scrape.yml")
	if err := os.WriteFile(cfgPath, []byte(prometheusConfig(targets)), 0o644); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		vm, err := startVictoriaMetrics(t, bin, cfgPath, filepath.Join(dir, fmt.Sprintf("data%d", attempt)))
		if err == nil {
			return vm
		}
		lastErr = err
		t.Logf("victoria-metrics attempt %d: %v", attempt+1, err)
	}
	promUnavailable(t, fmt.Sprintf("victoria-metrics cannot start: %v", lastErr))
	return nil
}

func startVictoriaMetrics(t testing.TB, bin, cfgPath, dataDir string) (*VictoriaMetrics, error) {
	port, err := promFreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	out := &SyncBuffer{}
	cmd := exec.Command(bin,
		"-httpListenAddr="+addr,
		"-storageDataPath="+dataDir,
		"-search.latencyOffset=0s",
		"-promscrape.config="+cfgPath,
		"-promscrape.config.strictParse=false",
		"-loggerLevel=WARN",
	)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	vm := &VictoriaMetrics{Prometheus{URL: "http://" + addr, cmd: cmd, out: out}}
	stop := func() {
		_ = cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(prometheusStopTimeout):
		}
	}
	deadline := time.Now().Add(prometheusStartTimeout)
	for !promReady(vm.URL + "/health") {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("exited: %v\n%s", err, out.String())
		default:
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
			t.Logf("victoria-metrics output:\n%s", out.String())
		}
	})
	return vm, nil
}

// Import stores samples given in the Prometheus text format (lines such as
// `jobs_queue_depth{queue="default"} 42`, stamped now when they carry no
// timestamp) through the import API.
func (vm *VictoriaMetrics) Import(text string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, vm.URL+"/api/v1/import/prometheus", strings.NewReader(text))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("import: HTTP %s", resp.Status)
	}
	return nil
}
