package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/testutil"
)

// serveCLI runs `agent serve` through the CLI until the returned stop is
// called; it waits until the agent port answers.
func serveCLI(t *testing.T, args ...string) (poll string, stop func()) {
	t.Helper()
	pollPort, webPort := testutil.FreePort(t), testutil.FreePort(t)
	poll = fmt.Sprintf("127.0.0.1:%d", pollPort)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	args = append([]string{"serve", "--listen", poll, "--web.listen-address", fmt.Sprintf("127.0.0.1:%d", webPort), "--log.level", "warn"}, args...)
	go func() {
		var out strings.Builder
		code := run(ctx, args, &out, &out)
		if code != exitOK {
			t.Errorf("serve exited %d: %s", code, out.String())
		}
		done <- code
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", poll)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent did not listen on %s", poll)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The web port opens with the agent port; make sure before returning.
	for time.Now().Before(deadline) {
		if resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", webPort)); err == nil {
			resp.Body.Close()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Setenv("AGENT_WEB_URL", fmt.Sprintf("http://127.0.0.1:%d", webPort))
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		<-done
	}
	t.Cleanup(stop)
	return poll, stop
}

// TestOverrideSurvivesRestart puts an override on a running agent through
// the CLI, restarts the agent on the same state file, and finds the
// override still in force.
func TestOverrideSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	rulesPath := filepath.Join(dir, "rules.yaml")
	os.WriteFile(rulesPath, []byte("interval: 1s\nmetrics:\n  cpus: host:cpus\nrules:\n  - cpus < 0 => down\n"), 0o644)
	state := filepath.Join(dir, "state.json")
	args := []string{"--rules", rulesPath, "--state.file", state, "--web.enable-lifecycle"}

	poll, stop := serveCLI(t, args...)
	if got := testutil.Poll(t, poll, ""); got != "up ready 100%\n" {
		t.Fatalf("before the override: %q", got)
	}
	code, out, errOut := agent(t, "override", "drain", "--reason", "disk swap", "--ttl", "1h")
	if code != exitOK {
		t.Fatalf("override drain: exit %d: %s%s", code, out, errOut)
	}
	want := "up drain 100% #override: disk swap\n"
	if got := testutil.Poll(t, poll, ""); got != want {
		t.Fatalf("after the override: %q, want %q", got, want)
	}
	stop()

	poll, _ = serveCLI(t, args...)
	if got := testutil.Poll(t, poll, ""); got != want {
		t.Fatalf("after the restart: %q, want %q", got, want)
	}
	// eval --dry-run shows what the agent serves, override included,
	// reading the state file without changing it.
	code, out, errOut = agent(t, "eval", "--dry-run", "--rules", rulesPath, "--state.file", state)
	if code != exitOK || !strings.Contains(out, "  reply: "+want+"  phase: acting") || !strings.Contains(out, "override ") {
		t.Fatalf("eval with the state file: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = agent(t, "override", "list")
	if code != exitOK || !strings.Contains(out, "disk swap") {
		t.Fatalf("override list: exit %d\n%s", code, out)
	}
	if code, out, errOut = agent(t, "override", "clear", "--all"); code != exitOK {
		t.Fatalf("override clear: exit %d: %s%s", code, out, errOut)
	}
	if got := testutil.Poll(t, poll, ""); got != "up ready 100%\n" {
		t.Fatalf("after clear: %q", got)
	}
}

// TestServeBuiltInRules is the README's first command: serve with no rule
// file answers from the built-in host rules.
func TestServeBuiltInRules(t *testing.T) {
	poll, _ := serveCLI(t)
	got := testutil.Poll(t, poll, "")
	if !strings.HasPrefix(got, "up ") || !strings.HasSuffix(got, "\n") {
		t.Fatalf("built-in rules reply %q", got)
	}
}

// TestOverrideDocExamples runs each `agent override` line of the first
// example of docs/overrides.md against an agent serving the file the doc
// names, examples/features.yaml: every line works as written (the
// --service worker one needs a file with a worker service).
func TestOverrideDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/overrides.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "agent serve --rules examples/features.yaml --web.enable-lifecycle") {
		t.Fatalf("docs/overrides.md no longer names the file its examples run against")
	}
	block := regexp.MustCompile("(?s)```sh\n(.*?)```").FindStringSubmatch(string(doc))
	if block == nil {
		t.Fatal("no sh block in docs/overrides.md")
	}
	serveCLI(t, "--rules", "../../examples/features.yaml", "--web.enable-lifecycle", "--state.file", filepath.Join(t.TempDir(), "state.json"))
	ran := 0
	for _, line := range strings.Split(block[1], "\n") {
		line, _, _ = strings.Cut(line, "#")
		if !strings.HasPrefix(line, "agent override ") {
			continue
		}
		args, err := shellWords(strings.TrimSpace(strings.TrimPrefix(line, "agent ")))
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if code, out, errOut := agent(t, args...); code != exitOK {
			t.Errorf("%s: exit %d\n%s%s", line, code, out, errOut)
		}
		ran++
	}
	if ran < 5 {
		t.Errorf("ran %d override lines of docs/overrides.md, want its 6", ran)
	}
}

// shellWords splits a command line as sh does for words and double
// quotes, which is all the docs' examples use.
func shellWords(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}
