package source

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/sample"
	"github.com/haproxy-agent/agent/rules"
)

// script writes an executable shell script into dir and returns its path.
func script(t testing.TB, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func newCommandT(t testing.TB, timeout time.Duration, cfg *rules.ExecConfig) *command {
	t.Helper()
	c, err := newCommand(&rules.Source{Name: "cmd", Kind: rules.KindExec, Timeout: timeout, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readCommand reads c as the collector does, within the source's timeout,
// and checks that the read ended within the grace the collector gives it.
func readCommand(t testing.TB, c *command, ms []*rules.Metric) ([]sample.Reading, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	rs, err := c.Read(ctx, ms)
	if late := time.Since(deadline); late > c.ResultGrace() {
		t.Errorf("the command's read returned %s after its deadline", late)
	}
	return rs, err
}

// pidFrom reads the process id a script wrote to path.
func pidFrom(t testing.TB, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the script wrote no pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// dead reports whether process pid has ended, waiting for it a little: a
// process killed closes its files (which ends the read of its output)
// before it shows as ended. A process that was not killed would run for
// minutes; the wait only bounds the check.
func dead(pid int) bool {
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if ended(pid) {
			return true
		}
	}
	return false
}

// ended reports whether process pid has ended: gone, or a zombie left to a
// parent (init, in a container, may not reap it).
func ended(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// The state follows the command name, which is in parentheses.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X')
}

// TestExecSeries: a program's Prometheus text output is selected as a
// scraped page is, beside exit_code and duration_seconds; one number is
// the series value; env and dir apply.
func TestExecSeries(t *testing.T) {
	dir := t.TempDir()
	text := script(t, dir, "text.sh", `printf '# TYPE replica_lag_seconds gauge\nreplica_lag_seconds{db="a"} 3\nreplica_lag_seconds{db="b"} 5\nexit_code 99\n'`)
	c := newCommandT(t, 2*time.Second, &rules.ExecConfig{Argv: []string{text}, Dir: dir})
	ms := []*rules.Metric{
		metric(t, "lag_a", `replica_lag_seconds{db="a"}`),
		withAgg(metric(t, "lag_max", `replica_lag_seconds`), rules.AggMax),
		metric(t, "code", `exit_code`),
		metric(t, "took", `duration_seconds`),
	}
	rs, err := readCommand(t, c, ms)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{3, 5, 0} {
		if rs[i].Err != nil || rs[i].Value != want {
			t.Errorf("%s = %v (%v), want %v", ms[i].Name, rs[i].Value, rs[i].Err, want)
		}
	}
	if rs[3].Err != nil || rs[3].Value <= 0 {
		t.Errorf("duration_seconds = %v (%v), want a positive value", rs[3].Value, rs[3].Err)
	}

	if err := os.WriteFile(filepath.Join(dir, "lag.txt"), []byte("7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script(t, dir, "number.sh", `cat lag.txt`)
	c = newCommandT(t, 2*time.Second, &rules.ExecConfig{Argv: []string{"./number.sh"}, Dir: dir})
	rs, err = readCommand(t, c, []*rules.Metric{metric(t, "v", "value")})
	if err != nil || rs[0].Err != nil || rs[0].Value != 7 {
		t.Errorf("one number, relative program and file in dir: value = %v (%v, %v), want 7", rs[0].Value, rs[0].Err, err)
	}

	env := script(t, dir, "env.sh", `echo "$LAG"`)
	c = newCommandT(t, 2*time.Second, &rules.ExecConfig{Argv: []string{env}, Env: []string{"LAG=12.5"}})
	rs, err = readCommand(t, c, []*rules.Metric{metric(t, "v", "value")})
	if err != nil || rs[0].Err != nil || rs[0].Value != 12.5 {
		t.Errorf("env: value = %v (%v, %v), want 12.5", rs[0].Value, rs[0].Err, err)
	}
}

// TestExecNoShell: arguments reach the program as they are, with no shell
// to expand them.
func TestExecNoShell(t *testing.T) {
	dir := t.TempDir()
	args := script(t, dir, "args.sh", `echo "$#"`)
	c := newCommandT(t, 2*time.Second, &rules.ExecConfig{Argv: []string{args, "$(touch pwned)", "a b", "*"}, Dir: dir})
	rs, err := readCommand(t, c, []*rules.Metric{metric(t, "v", "value")})
	if err != nil || rs[0].Value != 3 {
		t.Errorf("arguments counted = %v (%v), want 3", rs[0].Value, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Error("a shell expanded an argument")
	}
}

// TestExecExit3: a non-zero exit keeps exit_code and duration_seconds as
// values, and makes the output's series missing with the first line of
// stderr as the reason, even when the output parsed.
func TestExecExit3(t *testing.T) {
	dir := t.TempDir()
	p := script(t, dir, "fail.sh", `echo 'replica_lag_seconds 3'; printf '\n  disk check failed: /var is full\nsecond line\n' >&2; exit 3`)
	c := newCommandT(t, 2*time.Second, &rules.ExecConfig{Argv: []string{p}})
	ms := []*rules.Metric{metric(t, "lag", "replica_lag_seconds"), metric(t, "code", "exit_code"), metric(t, "took", "duration_seconds"), metric(t, "any", `{__name__=~"replica_.*"}`)}
	rs, err := readCommand(t, c, ms)
	if err != nil {
		t.Fatalf("a non-zero exit is not a failed read: %v", err)
	}
	const why = "exit code 3: disk check failed: /var is full"
	if rs[0].Err == nil || rs[0].Err.Error() != why {
		t.Errorf("lag = %v (%v), want missing with %q", rs[0].Value, rs[0].Err, why)
	}
	if rs[3].Err == nil || rs[3].Err.Error() != why {
		t.Errorf("a selector by regular expression = %v (%v), want missing with %q", rs[3].Value, rs[3].Err, why)
	}
	if rs[1].Err != nil || rs[1].Value != 3 {
		t.Errorf("exit_code = %v (%v), want 3", rs[1].Value, rs[1].Err)
	}
	if rs[2].Err != nil {
		t.Errorf("duration_seconds missing: %v", rs[2].Err)
	}

	silent := script(t, dir, "silent.sh", `exit 1`)
	rs, err = readCommand(t, newCommandT(t, 2*time.Second, &rules.ExecConfig{Argv: []string{silent}}), ms[:1])
	if err != nil || rs[0].Err == nil || rs[0].Err.Error() != "exit code 1" {
		t.Errorf("exit 1 without stderr: %v (%v), want missing with %q", rs[0].Err, err, "exit code 1")
	}
}

// TestExecGarbage: output that is neither one number nor the text format
// makes the output's series missing with the parse error; exit_code is 0.
func TestExecGarbage(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"words":  `echo 'all good, 3 replicas'`,
		"binary": `head -c 4096 /dev/urandom`,
		"brace":  `echo 'lag{db="a" 3'`,
	} {
		t.Run(name, func(t *testing.T) {
			p := script(t, dir, name+".sh", body)
			rs, err := readCommand(t, newCommandT(t, 2*time.Second, &rules.ExecConfig{Argv: []string{p}}), []*rules.Metric{metric(t, "lag", "lag"), metric(t, "code", "exit_code")})
			if err != nil {
				t.Fatalf("garbage output is not a failed read: %v", err)
			}
			if rs[0].Err == nil || !strings.Contains(rs[0].Err.Error(), "output: ") {
				t.Errorf("lag = %v (%v), want missing with the parse error", rs[0].Value, rs[0].Err)
			}
			if rs[1].Err != nil || rs[1].Value != 0 {
				t.Errorf("exit_code = %v (%v), want 0", rs[1].Value, rs[1].Err)
			}
		})
	}
}

// TestExecHangs: a program that never ends fails the read at its deadline
// ("timeout ... process group killed"), and is dead then.
func TestExecHangs(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	p := script(t, dir, "hang.sh", `echo $$ > `+pidFile+`; exec sleep 600`)
	_, err := readCommand(t, newCommandT(t, 500*time.Millisecond, &rules.ExecConfig{Argv: []string{p}}), []*rules.Metric{metric(t, "v", "value")})
	var te *sample.TimeoutError
	if err == nil || !errors.As(err, &te) || !strings.Contains(err.Error(), "timeout after 500ms (process group killed)") {
		t.Errorf("err = %v, want the read's timeout", err)
	}
	if pid := pidFrom(t, pidFile); !dead(pid) {
		t.Errorf("process %d still runs after the deadline", pid)
	}
}

// TestExecChildrenDie: children a program forks die with the read, both
// when the program exits at once (leaving a child that holds its stdout)
// and when it hangs with them past the deadline.
func TestExecChildrenDie(t *testing.T) {
	dir := t.TempDir()
	early := filepath.Join(dir, "early.pid")
	p := script(t, dir, "fork.sh", `sleep 600 & echo $! > `+early+`
echo 5`)
	rs, err := readCommand(t, newCommandT(t, 5*time.Second, &rules.ExecConfig{Argv: []string{p}}), []*rules.Metric{metric(t, "v", "value")})
	// Had the read waited for the child holding stdout, it would have
	// timed out: the read ends when the program does.
	if err != nil || rs[0].Value != 5 {
		t.Errorf("value = %v (%v), want 5", rs[0].Value, err)
	}
	if pid := pidFrom(t, early); !dead(pid) {
		t.Errorf("child %d of a program that exited still runs", pid)
	}

	late := filepath.Join(dir, "late.pid")
	p = script(t, dir, "forkhang.sh", `sh -c 'sleep 600' & echo $! > `+late+`
(sleep 600; echo never) &
sleep 600`)
	_, err = readCommand(t, newCommandT(t, 500*time.Millisecond, &rules.ExecConfig{Argv: []string{p}}), []*rules.Metric{metric(t, "v", "value")})
	if err == nil {
		t.Error("a hanging program did not fail the read")
	}
	if pid := pidFrom(t, late); !dead(pid) {
		t.Errorf("child %d still runs after the deadline", pid)
	}
}

// TestExecHugeOutput: a program printing 100 MB is killed once the output
// passes 1MiB, and the read fails saying so.
func TestExecHugeOutput(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	p := script(t, dir, "huge.sh", `echo $$ > `+pidFile+`; head -c 100000000 /dev/zero | tr '\0' 'x'; sleep 600`)
	_, err := readCommand(t, newCommandT(t, 10*time.Second, &rules.ExecConfig{Argv: []string{p}}), []*rules.Metric{metric(t, "v", "value")})
	if err == nil || err.Error() != "output larger than 1MiB (process group killed)" {
		t.Errorf("err = %v, want the output limit", err)
	}
	if pid := pidFrom(t, pidFile); !dead(pid) {
		t.Errorf("process %d still runs after its output passed the limit", pid)
	}
}

// TestExecCannotStart: a program that does not exist fails the read.
func TestExecCannotStart(t *testing.T) {
	_, err := readCommand(t, newCommandT(t, time.Second, &rules.ExecConfig{Argv: []string{filepath.Join(t.TempDir(), "missing")}}), []*rules.Metric{metric(t, "v", "value")})
	if err == nil || !strings.Contains(err.Error(), "start: ") {
		t.Errorf("err = %v, want a failure to start", err)
	}
}
