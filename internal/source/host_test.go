package source

import (
	"context"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/rules"
)

func hostMetric(name string) *rules.Metric {
	return &rules.Metric{Name: name, Source: rules.HostSource, Selector: name}
}

// procFields returns the fields of the line of a /proc file that starts with key.
func procFields(t *testing.T, file, key string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Skip(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == key {
			return f[1:]
		}
	}
	t.Fatalf("%s: no %s", file, key)
	return nil
}

func procFloat(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestHost(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("host metrics need /proc")
	}
	h, err := newHost()
	if err != nil {
		t.Fatal(err)
	}
	var ms []*rules.Metric
	for _, name := range rules.HostMetrics {
		ms = append(ms, hostMetric(name))
	}
	ms = append(ms, hostMetric("bogus"))
	start := time.Now()
	rs, err := h.Read(context.Background(), ms)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < firstCPUWindow {
		t.Errorf("first read took %s; want two samples %s apart", d, firstCPUWindow)
	}
	got := map[string]float64{}
	for i, r := range rs[:len(rules.HostMetrics)] {
		if r.Err != nil {
			t.Fatalf("%s: %v", ms[i].Name, r.Err)
		}
		got[ms[i].Name] = r.Value
	}
	if e := rs[len(rs)-1].Err; e == nil || !strings.Contains(e.Error(), `unknown host metric "bogus"`) {
		t.Errorf("bogus: %v", e)
	}

	b, _ := os.ReadFile("/proc/loadavg")
	lf := strings.Fields(string(b))
	for i, name := range []string{"load1", "load5", "load15"} {
		if want := procFloat(t, lf[i]); math.Abs(got[name]-want) > 0.5 {
			t.Errorf("%s = %v; /proc/loadavg says %v", name, got[name], want)
		}
	}
	total := procFloat(t, procFields(t, "/proc/meminfo", "MemTotal:")[0]) * 1024
	avail := procFloat(t, procFields(t, "/proc/meminfo", "MemAvailable:")[0]) * 1024
	if math.Abs(got["mem_available_bytes"]-avail) > 0.05*total {
		t.Errorf("mem_available_bytes = %v; /proc/meminfo says %v", got["mem_available_bytes"], avail)
	}
	if want := 1 - avail/total; math.Abs(got["mem_used_ratio"]-want) > 0.05 {
		t.Errorf("mem_used_ratio = %v; /proc/meminfo says %v", got["mem_used_ratio"], want)
	}
	stat, _ := os.ReadFile("/proc/stat")
	cpus := 0
	for _, line := range strings.Split(string(stat), "\n") {
		if strings.HasPrefix(line, "cpu") && !strings.HasPrefix(line, "cpu ") {
			cpus++
		}
	}
	if got["cpus"] != float64(cpus) {
		t.Errorf("cpus = %v; /proc/stat has %d", got["cpus"], cpus)
	}
	if c := got["cpu"]; c < 0 || c > 1 {
		t.Errorf("cpu = %v; want a fraction", c)
	}

	// Burn one CPU between two reads: the busy fraction must show it.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
		}
	}()
	<-done
	rs, err = h.Read(context.Background(), []*rules.Metric{hostMetric("cpu")})
	if err != nil || rs[0].Err != nil {
		t.Fatal(err, rs[0].Err)
	}
	if min := 0.5 / float64(cpus); rs[0].Value < min || rs[0].Value > 1 {
		t.Errorf("cpu after burning one of %d CPUs = %v; want ≥ %v", cpus, rs[0].Value, min)
	}
}
