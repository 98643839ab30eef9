package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/haproxy-agent/agent/internal/pollbench"
)

// TestMain lets the test binary serve as the baseline child that --baseline
// starts (it re-executes os.Executable()).
func TestMain(m *testing.M) {
	if _, ok := os.LookupEnv(pollbench.BaselineChildEnv); ok {
		os.Exit(run(nil, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestHelp(t *testing.T) {
	code, out, _ := runCLI("--help")
	if code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, want := range []string{"usage: pollbench", "--target", "--baseline", "--socat", "--concurrency", "--rate",
		"closed loop", "open loop", "coordinated omission", "throughput = target ok/s / baseline ok/s", "--expect", "--output"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--baseline", "--rate", "100", "--concurrency", "4"},
		{"--target", "nocolon"},
		{"--target", "a=127.0.0.1:notaport"},
		{"--baseline", "--output", "xml"},
		{"--baseline", "--no-such-flag"},
		{"--baseline", "--expect", "("},
		{"--baseline", "--expect", "a", "--expect-line", "b"},
		{"--baseline", "--send", `worker\q`},
		{"--baseline", "--timeout", "0s"},
		{"--baseline", "--count", "-1"},
	} {
		code, out, errOut := runCLI(args...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want 2\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
		if errOut == "" {
			t.Errorf("%q: nothing on stderr", args)
		}
	}
}

func TestBaselineAndTargetJSON(t *testing.T) {
	addr, stop, err := pollbench.StartBaseline("up ready 100%", false)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	code, out, errOut := runCLI("--baseline", "--target", "inproc="+addr, "-n", "200", "-c", "4",
		"--warmup", "0s", "--expect-line", "up ready 100%", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	var rep struct {
		Reports []struct {
			Name   string           `json:"name"`
			Polls  int64            `json:"polls"`
			OK     int64            `json:"ok"`
			Errors map[string]int64 `json:"errors"`
			CPU    *float64         `json:"server_cpu_seconds"`
		} `json:"reports"`
		Baseline string `json:"baseline"`
		Ratios   []struct {
			Name       string  `json:"name"`
			Throughput float64 `json:"throughput"`
		} `json:"ratios"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(rep.Reports) != 2 || rep.Reports[0].Name != "baseline" || rep.Reports[1].Name != "inproc" {
		t.Fatalf("reports: %s", out)
	}
	for _, r := range rep.Reports {
		if r.Polls != 200 || r.OK != 200 {
			t.Errorf("%s: polls %d ok %d errors %v", r.Name, r.Polls, r.OK, r.Errors)
		}
	}
	if rep.Reports[0].CPU == nil {
		t.Error("baseline process CPU not reported")
	}
	if rep.Baseline != "baseline" || len(rep.Ratios) != 1 || rep.Ratios[0].Name != "inproc" || rep.Ratios[0].Throughput <= 0 {
		t.Errorf("ratios: %s", out)
	}
}

func TestPollErrorsExitOne(t *testing.T) {
	addr, stop, err := pollbench.StartBaseline("down", false)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	code, out, _ := runCLI("--target", addr, "-n", "10", "-c", "1", "--warmup", "0s", "--expect", `up .*`)
	if code != exitFailure {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(out, "wrong_reply=10") {
		t.Errorf("text report lacks wrong_reply=10:\n%s", out)
	}
}

func TestSocatText(t *testing.T) {
	if _, err := exec.LookPath("socat"); err != nil && os.Getenv("AGENT_REQUIRE_SERVERS") == "" {
		t.Skip(err)
	}
	code, out, errOut := runCLI("--baseline", "--socat", "-n", "20", "-c", "2", "--warmup", "0s", "--timeout", "3s")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	if !strings.Contains(out, "socat / baseline: throughput") {
		t.Errorf("no ratio line:\n%s", out)
	}
}

func TestDecodeEscapes(t *testing.T) {
	got, err := decodeEscapes(`worker\n\r\t\\x`)
	if err != nil || got != "worker\n\r\t\\x" {
		t.Errorf("got %q, %v", got, err)
	}
}
