package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/pollbench"
	"github.com/haproxy-agent/agent/internal/testutil"
)

// The tests in this file run the real `agent` binary against attacks
// through its files: signals, /proc RSS, a process that must exit.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// TestMain removes the binary agentBinary built, if any.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// agentBinary builds cmd/agent once per test run.
func agentBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "agent-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "agent")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// process is a running `agent serve`.
type process struct {
	t         *testing.T
	cmd       *exec.Cmd
	poll, web string
	log       *testutil.SyncBuffer
	exited    chan struct{}
}

// startServe starts `agent serve` on rulesPath and waits until its web
// port answers.
func startServe(t *testing.T, rulesPath string, extra ...string) *process {
	t.Helper()
	return startServeAs(t, nil, rulesPath, extra...)
}

// startServeAs is startServe run with the given credentials (nil: the
// test's own).
func startServeAs(t *testing.T, cred *syscall.Credential, rulesPath string, extra ...string) *process {
	t.Helper()
	bin := agentBinary(t)
	p := &process{t: t, log: &testutil.SyncBuffer{}, exited: make(chan struct{})}
	p.poll = fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	p.web = fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	args := append([]string{"serve", "--rules", rulesPath, "--listen", p.poll, "--web.listen-address", p.web,
		"--web.enable-lifecycle", "--log.level", "debug"}, extra...)
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if cred != nil {
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("agent log:\n%s", p.log.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + p.web + "/healthz")
		if err == nil {
			resp.Body.Close()
			return p
		}
		select {
		case <-p.exited:
			t.Fatalf("agent exited at start: %s", p.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent did not answer on %s: %s", p.web, p.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *process) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// terminate sends SIGTERM and requires the process to exit in time.
func (p *process) terminate(within time.Duration) {
	p.t.Helper()
	p.signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if code := p.cmd.ProcessState.ExitCode(); code != 0 {
			p.t.Errorf("exit code %d after SIGTERM", code)
		}
	case <-time.After(within):
		p.t.Fatalf("agent did not exit within %v of SIGTERM", within)
	}
}

func (p *process) rss() int64 {
	p.t.Helper()
	m, ok := pollbench.ProcMemory(p.cmd.Process.Pid)
	if !ok {
		p.t.Fatal("cannot read /proc/PID/status")
	}
	return m.RSS
}

// waitLog waits for sub to appear in the log, at most within.
func (p *process) waitLog(sub string, within time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(p.log.String(), sub) {
		if time.Now().After(deadline) {
			p.t.Fatalf("log never said %q within %v", sub, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitReply polls until the agent answers want, at most within, and
// returns when it did.
func (p *process) waitReply(want string, within time.Duration) time.Time {
	p.t.Helper()
	deadline := time.Now().Add(within)
	var got string
	for {
		got, _ = testutil.PollLine(p.poll, "", time.Second)
		if got == want {
			return time.Now()
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("reply %q, want %q within %v", got, want, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reload POSTs /-/reload and returns the status and body, failing the test
// if the answer takes longer than within.
func (p *process) reload(within time.Duration) (int, string) {
	p.t.Helper()
	c := &http.Client{Timeout: within}
	resp, err := c.Post("http://"+p.web+"/-/reload", "", nil)
	if err != nil {
		p.t.Fatalf("POST /-/reload: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const (
	goodRules  = "interval: 100ms\nmetrics:\n  cpus: host:cpus\nrules:\n  - cpus > 0 => weight 50%\n"
	goodRules2 = "interval: 100ms\nmetrics:\n  cpus: host:cpus\nrules:\n  - cpus > 0 => weight 25%\n"
	reply50    = "up ready 50% #cpus > 0\n"
	reply25    = "up ready 25% #cpus > 0\n"
)

// replace puts a new directory entry at path the way deploy tools do: made
// beside it, renamed over it.
func replace(t *testing.T, path string, make func(tmp string) error) {
	t.Helper()
	tmp := path + ".new"
	os.Remove(tmp)
	if err := make(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func writeContent(content string) func(string) error {
	return func(tmp string) error { return os.WriteFile(tmp, []byte(content), 0o644) }
}

// TestServeRulesDevZero: rules.yaml symlinked to
// /dev/zero grew the agent from 17 MB to 4.6 GB in 10 s and SIGTERM no
// longer stopped it. It is now refused at once without being read.
func TestServeRulesDevZero(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, []byte(goodRules), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, path)
	p.waitReply(reply50, 30*time.Second)
	before := p.rss()

	replace(t, path, func(tmp string) error { return os.Symlink("/dev/zero", tmp) })
	p.waitLog("not a regular file (a character device)", 10*time.Second)
	p.signal(syscall.SIGHUP)
	code, body := p.reload(10 * time.Second)
	if code != http.StatusInternalServerError || !strings.Contains(body, "not a regular file (a character device)") {
		t.Errorf("POST /-/reload: %d %s", code, body)
	}
	// Give a runaway read time to show: it grew by hundreds of MB a second.
	time.Sleep(2 * time.Second)
	after := p.rss()
	t.Logf("VmRSS %d kB before /dev/zero, %d kB after 2 s, SIGHUP and POST /-/reload", before>>10, after>>10)
	if after > before+64<<20 {
		t.Errorf("VmRSS grew from %d kB to %d kB", before>>10, after>>10)
	}
	// The old rules keep serving.
	if got := testutil.Poll(t, p.poll, ""); got != reply50 {
		t.Errorf("reply %q", got)
	}
	p.terminate(30 * time.Second)

	// At start, and for check: refused at once, exit 1.
	out, err := exec.Command(agentBinary(t), "check", path).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "not a regular file (a character device)") {
		t.Errorf("agent check on /dev/zero: %v\n%s", err, out)
	}
	cmd := exec.Command(agentBinary(t), "serve", "--rules", path, "--listen", "127.0.0.1:0", "--web.listen-address", "127.0.0.1:0")
	done := make(chan struct{})
	var serveOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &serveOut, &serveOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
		if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(serveOut.String(), "not a regular file") {
			t.Errorf("serve on /dev/zero: exit %d\n%s", cmd.ProcessState.ExitCode(), serveOut.String())
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Error("serve on /dev/zero did not exit")
	}
}

// TestServeRulesFIFO: a FIFO at the rules path plus
// SIGHUP blocked the reload while it held its lock; a good file put back
// was never read, POST /-/reload hung, and after SIGTERM the process never
// exited.
func TestServeRulesFIFO(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, []byte(goodRules), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, path)
	p.waitReply(reply50, 30*time.Second)

	replace(t, path, func(tmp string) error { return syscall.Mkfifo(tmp, 0o644) })
	p.signal(syscall.SIGHUP)
	code, body := p.reload(5 * time.Second)
	if code != http.StatusInternalServerError || !strings.Contains(body, "not a regular file (a named pipe)") {
		t.Errorf("POST /-/reload: %d %s", code, body)
	}
	// A good file put back is read, and POST /-/reload answers.
	replace(t, path, writeContent(goodRules2))
	p.waitReply(reply25, 5*time.Second)
	if code, body := p.reload(5 * time.Second); code != http.StatusOK {
		t.Errorf("POST /-/reload after the good file: %d %s", code, body)
	}
	// And with the FIFO back at SIGTERM, the agent still exits.
	replace(t, path, func(tmp string) error { return syscall.Mkfifo(tmp, 0o644) })
	p.signal(syscall.SIGHUP)
	p.terminate(30 * time.Second)
}

// TestServeRulesTooLarge: with a 50 MB rule file the
// watcher hashed the whole file and the loader its first 4 MiB + 1 byte,
// so the hashes never matched and the failed reload and its ERROR log came
// back at every recheck, quoting the cap instead of the size.
func TestServeRulesTooLarge(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, []byte(goodRules), 0o644); err != nil {
		t.Fatal(err)
	}
	const recheck = 100 * time.Millisecond
	p := startServe(t, path, "--reload.recheck", recheck.String())
	p.waitReply(reply50, 30*time.Second)

	big := goodRules + "# " + strings.Repeat("x", 50<<20-len(goodRules)-3) + "\n"
	replace(t, path, writeContent(big))
	const want = "rule file too large: 52428800 bytes, the limit is 4 MiB"
	p.waitLog(want, 10*time.Second)
	time.Sleep(30 * recheck)
	log := p.log.String()
	if n := strings.Count(log, "rule file reload failed"); n != 1 {
		t.Errorf("failed reload logged %d times over 30 rechecks, want once", n)
	}
	if n := strings.Count(log, want); n != 1 {
		t.Errorf("size error logged %d times, want once", n)
	}
	// /status says why the last load failed, with the size.
	resp, err := http.Get("http://" + p.web + "/status")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), want) {
		t.Errorf("/status lacks %q", want)
	}
	// A good file afterwards is loaded.
	replace(t, path, writeContent(goodRules2))
	p.waitReply(reply25, 5*time.Second)
	p.terminate(30 * time.Second)
}

// TestServeParentSymlinkSwap: a deploy that points
// `current` at a new release (current -> releases/v2) used to wait for the
// 10 s recheck (8.8 s measured). The recheck is an hour here: only the
// file events can bring the change, within the debounce (250 ms) plus a
// generous margin for a loaded machine.
func TestServeParentSymlinkSwap(t *testing.T) {
	root := t.TempDir()
	for v, content := range map[string]string{"v1": goodRules, "v2": goodRules2} {
		if err := os.MkdirAll(filepath.Join(root, "releases", v), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "releases", v, "rules.yaml"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	current := filepath.Join(root, "current")
	if err := os.Symlink("releases/v1", current); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, filepath.Join(current, "rules.yaml"), "--reload.recheck", "1h")
	p.waitReply(reply50, 30*time.Second)

	start := time.Now()
	replace(t, current, func(tmp string) error { return os.Symlink("releases/v2", tmp) })
	// The recheck is an hour: only a file event brings the change; the
	// wait only catches none, not a slow machine.
	took := p.waitReply(reply25, 30*time.Second).Sub(start)
	t.Logf("symlink swap picked up after %v (debounce 250ms)", took)
	p.terminate(30 * time.Second)
}

// TestServeChmod: a rule file made readable again
// after chmod 000 used to wait for the recheck (7.6 s measured): chmod
// events were ignored. Root reads a mode-000 file, so a test run as root
// runs the agent as nobody.
func TestServeChmod(t *testing.T) {
	dir := t.TempDir()
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
		// nobody must reach the binary and the rule file.
		for _, d := range []string{filepath.Dir(agentBinary(t)), dir, filepath.Dir(dir)} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, []byte(goodRules), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startServeAs(t, cred, path, "--reload.recheck", "1h")
	p.waitReply(reply50, 30*time.Second)
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(goodRules2), 0); err != nil {
		t.Skipf("cannot write the file at mode 000: %v", err)
	}
	p.waitLog("permission denied", 30*time.Second)
	start := time.Now()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	// The recheck is an hour: only the chmod's event brings the change;
	// the wait only catches none, not a slow machine.
	took := p.waitReply(reply25, 30*time.Second).Sub(start)
	t.Logf("chmod picked up after %v (debounce 250ms)", took)
	p.terminate(30 * time.Second)
}
