package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// agent runs the CLI in-process and returns its exit code and output.
func agent(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestCheckExamples(t *testing.T) {
	// `agent check examples/*.yaml` must succeed: every YAML file there is
	// a rule file (the unit tests live in examples/tests/).
	rulesFiles, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(rulesFiles) < 3 {
		t.Fatalf("examples: %v %v", rulesFiles, err)
	}
	code, out, errOut := agent(t, append([]string{"check"}, rulesFiles...)...)
	if code != exitOK {
		t.Fatalf("agent check examples: exit %d\n%s%s", code, out, errOut)
	}
	for _, f := range rulesFiles {
		if !strings.Contains(out, "Checking "+f+"\n  SUCCESS: ") {
			t.Errorf("no success line for %s:\n%s", f, out)
		}
	}
	if !strings.Contains(out, "Checking ../../examples/rules.yaml\n  SUCCESS: 2 rules found\n") {
		t.Errorf("rules.yaml should have 2 rules:\n%s", out)
	}
}

func TestCheckBadFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("metrics:\n  cpu: host:cpu\nrules:\n  - cpux > 1 => drain\n  - cpu > 1 => sideways\n"), 0o644)
	good := "../../examples/rules.yaml"
	code, out, _ := agent(t, "check", good, bad)
	if code != exitFailure {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{
		"Checking " + good + "\n  SUCCESS: 2 rules found\n",
		"Checking " + bad + "\n  FAILED:\n    " + bad + ":4:",
		"did you mean \"cpu\"",
		"\n    " + bad + ":5:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestEvalDryRun(t *testing.T) {
	for _, tc := range []struct {
		sets  []string
		reply string
		phase string
	}{
		{[]string{"queue_depth=600", "cpu=0.5"}, "up drain 100% #queue_depth > 500\n", "acting: "},
		{[]string{"cpu=0.95", "queue_depth=1"}, "up ready 50% #cpu > 0.9\n", "acting: "},
		// A fresh start restores ready 100% for restore_for, then goes quiet.
		{[]string{"cpu=0.1", "queue_depth=1"}, "up ready 100%\n", `restoring: plain "up" from `},
	} {
		args := []string{"eval", "--dry-run", "--rules", "../../examples/rules.yaml"}
		for _, s := range tc.sets {
			args = append(args, "--set", s)
		}
		code, out, errOut := agent(t, args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s", tc.sets, code, errOut)
		}
		if !strings.Contains(out, "  reply: "+tc.reply+"  phase: "+tc.phase) {
			t.Errorf("%v: want reply %q in phase %q, got:\n%s", tc.sets, tc.reply, tc.phase, out)
		}
		// eval never changes anything: --dry-run is accepted, not needed.
		plain := []string{"eval", "../../examples/rules.yaml"}
		for _, s := range tc.sets {
			plain = append(plain, "--set", s)
		}
		if code, out, errOut := agent(t, plain...); code != exitOK || !strings.Contains(out, "  reply: "+tc.reply+"  phase: "+tc.phase) {
			t.Errorf("agent %s: exit %d, want reply %q\n%s%s", strings.Join(plain, " "), code, tc.reply, out, errOut)
		}
		for _, want := range []string{"queue_depth  --set", "queue_depth > 500", "cpu > 0.9", "weight 50%"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: output lacks %q:\n%s", tc.sets, want, out)
			}
		}

		code, out, _ = agent(t, append(args, "--output", "json")...)
		var rep struct {
			Metrics []struct {
				Name   string   `json:"name"`
				Source string   `json:"source"`
				Value  *float64 `json:"value"`
			} `json:"metrics"`
			Services []struct {
				Service string    `json:"service"`
				Reply   string    `json:"reply"`
				Phase   string    `json:"phase"`
				QuietAt time.Time `json:"quiet_at"`
				Rules   []struct {
					Name   string `json:"name"`
					Result string `json:"result"`
					State  string `json:"state"`
				} `json:"rules"`
			} `json:"services"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitOK {
			t.Fatalf("json output (exit %d): %v\n%s", code, err, out)
		}
		if len(rep.Services) != 1 || rep.Services[0].Reply != tc.reply || len(rep.Services[0].Rules) != 2 ||
			!strings.HasPrefix(tc.phase, rep.Services[0].Phase+": ") || (rep.Services[0].Phase == "restoring") == rep.Services[0].QuietAt.IsZero() {
			t.Errorf("json: %+v", rep.Services)
		}
		if len(rep.Metrics) != 2 || rep.Metrics[0].Source != "--set" || rep.Metrics[0].Value == nil {
			t.Errorf("json metrics: %+v", rep.Metrics)
		}
	}
}

func TestEvalLiveSourceMissing(t *testing.T) {
	// Only cpu is set: queue_depth is read from a scrape source that is not
	// there, and must show as missing with the reason, its rule unknown.
	dir := t.TempDir()
	path := filepath.Join(dir, "r.yaml")
	os.WriteFile(path, []byte(`interval: 2s
sources:
  app:
    scrape: http://127.0.0.1:1/metrics
metrics:
  queue_depth: app:jobs_queue_depth
  cpu: host:cpu
rules:
  - queue_depth > 500 => drain
  - cpu > 0.9 => weight 50%
`), 0o644)
	code, out, errOut := agent(t, "eval", "--dry-run", "--rules", path, "--set", "cpu=0.95")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"missing: connection refused", "unknown (missing queue_depth)", "reply: up ready 50% #cpu > 0.9\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"eval", "--dry-run", "--rules", "../../examples/rules.yaml", "--set", "nope=1"},      // undeclared metric
		{"eval", "--dry-run", "--rules", "../../examples/rules.yaml", "--set", "cpu=high"},    // not a number
		{"eval", "--dry-run", "--rules", "../../examples/rules.yaml", "--service", "missing"}, // unknown service
		{"serve", "--no-such-flag"},
		{"frobnicate"},
		{"check"},
	} {
		if code, _, _ := agent(t, args...); code != exitUsage {
			t.Errorf("agent %s: exit %d, want 2", strings.Join(args, " "), code)
		}
	}
}

// TestUsageErrorNamesTheCommandsHelp: a usage error points at the help
// that answers it, the chosen command's when there is one (its flags are
// not in the top-level usage).
func TestUsageErrorNamesTheCommandsHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"backtest", "../../examples/rules.yaml"}, "see 'agent backtest --help'"}, // the file goes in --rules
		{[]string{"serve", "--no-such-flag"}, "see 'agent serve --help'"},
		{[]string{"check"}, "see 'agent check --help'"},
		{[]string{"frobnicate"}, "see 'agent --help'"},
		{[]string{"eval"}, "eval needs a rule file: agent eval FILE"},
	} {
		code, _, errOut := agent(t, tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("agent %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := agent(t, "version")
	if code != exitOK || !strings.HasPrefix(out, "agent, version ") || strings.HasPrefix(out, "agent, version  ") {
		t.Errorf("version: exit %d %q", code, out)
	}
}

// TestHelp keeps each command's --help as golden output, so that a change
// to the help text is a reviewed change.
func TestHelp(t *testing.T) {
	for _, cmd := range []string{"", "serve", "eval", "check", "test", "override", "backtest", "hash-password"} {
		name := cmd
		if name == "" {
			name = "agent"
		}
		t.Run(name, func(t *testing.T) {
			args := []string{"--help"}
			if cmd != "" {
				args = []string{cmd, "--help"}
			}
			code, out, _ := agent(t, args...)
			if code != exitOK {
				t.Fatalf("exit %d", code)
			}
			golden := filepath.Join("testdata", "help-"+name+".golden")
			if *update {
				os.WriteFile(golden, []byte(out), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if out != string(want) {
				t.Errorf("--help differs from %s (go test -update rewrites it):\n%s", golden, out)
			}
		})
	}
}

// TestUnknownServiceSaysWhatToGive: --service naming no service lists the
// file's services, and on a fleet file points at --server.
func TestUnknownServiceSaysWhatToGive(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--dry-run", "../../examples/features.yaml", "--service", "nope"}, `(its services: "default", "worker", "batch.v2")`},
		{[]string{"backtest", "--rules", "../../examples/features.yaml", "--service", "nope"}, `(its services: "default", "worker", "batch.v2")`},
		{[]string{"eval", "--dry-run", "../../examples/fleet.yaml", "--service", "web1"}, "name a server with --server"},
	} {
		code, _, errOut := agent(t, tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("agent %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
	}
}

// TestCheckHAProxyConfig: --haproxy.config adds the lint's warnings to a
// passing check; --strict makes them a failure; the example pair passes
// strictly, and HAProxy 2.6 and 3.2 accept every example configuration.
func TestCheckHAProxyConfig(t *testing.T) {
	cfgs, _ := filepath.Glob("../../examples/*.cfg")
	testutil.CheckHAProxyConfigs(t, cfgs...)

	for cfg, rulesFile := range map[string]string{"haproxy-fleet.cfg": "fleet.yaml", "haproxy-push.cfg": "push.yaml"} {
		cfg = "../../examples/" + cfg
		code, out, errOut := agent(t, "check", "--strict", "--haproxy.config", cfg, "../../examples/"+rulesFile)
		if code != exitOK || !strings.Contains(out, "  SUCCESS: no warnings against "+cfg+"\n") {
			t.Errorf("the example pair %s: exit %d\n%s%s", cfg, code, out, errOut)
		}
	}
	cfg := "../../internal/haproxylint/testdata/broken.cfg"
	rulesFile := "../../internal/haproxylint/testdata/services.yaml"
	code, out, _ := agent(t, "check", "--haproxy.config", cfg, rulesFile)
	if code != exitOK || !strings.Contains(out, "  WARNING: "+cfg+":23: server web/web1 sends agent-send \"web1\"") {
		t.Errorf("warnings: exit %d, want 0 and the warnings:\n%s", code, out)
	}
	code, out, _ = agent(t, "check", "--strict", "--haproxy.config", cfg, rulesFile)
	if code != exitFailure || !strings.Contains(out, "  FAILED: 7 warnings against "+cfg+" (--strict)\n") {
		t.Errorf("--strict: exit %d, want 1:\n%s", code, out)
	}
	// The port compared is --listen's.
	code, out, _ = agent(t, "check", "--strict", "--listen", ":7000", "--haproxy.config", "../../examples/haproxy-fleet.cfg", "../../examples/fleet.yaml")
	if code != exitFailure || !strings.Contains(out, "no server polls the agent's port 7000") {
		t.Errorf("--listen :7000: exit %d:\n%s", code, out)
	}
	code, out, _ = agent(t, "check", "--strict", "../../examples/fleet.yaml")
	if code != exitFailure || !strings.Contains(out, "need --haproxy.config") {
		t.Errorf("--strict alone: exit %d:\n%s", code, out)
	}
}
