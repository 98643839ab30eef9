// Package testutil holds helpers for end-to-end tests that drive real
// servers (HAProxy, Prometheus) over loopback.
package testutil

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// HAProxyRequireEnv names the environment variable that turns a missing
// haproxy binary from a skipped test into a failed one. CI sets it.
const HAProxyRequireEnv = "AGENT_REQUIRE_SERVERS"

// HAProxyBinEnv names the environment variable that may point at the haproxy
// binary to use instead of the one found on PATH or in /usr/sbin.
const HAProxyBinEnv = "HAPROXY_BIN"

const (
	haproxyStartTimeout = 10 * time.Second
	haproxyStopTimeout  = 5 * time.Second
	haproxyCmdTimeout   = 5 * time.Second
	haproxyPollInterval = 100 * time.Millisecond
	// minWait is the shortest a wait for an expected state gives up
	// after (WaitServer, Prometheus.WaitQuery).
	minWait = 30 * time.Second
)

// HAProxy is a haproxy process started by StartHAProxy, running in the
// foreground as a child of the test, with an admin-level stats socket.
type HAProxy struct {
	// Bin is the haproxy binary that runs.
	Bin string
	// Dir is the private directory holding the configuration and socket.
	Dir string
	// ConfigPath is the configuration haproxy runs, as written by the harness.
	ConfigPath string
	// Socket is the path of the admin stats socket (unix).
	Socket string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and was reaped
	err  error         // cmd.Wait's result, valid after done
}

// HAProxyBinary returns the haproxy binary to use: $HAPROXY_BIN, then
// haproxy on PATH, then /usr/sbin/haproxy. It reports false if none exists.
func HAProxyBinary() (string, bool) {
	if p := os.Getenv(HAProxyBinEnv); p != "" {
		return p, true
	}
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p, true
	}
	if _, err := os.Stat("/usr/sbin/haproxy"); err == nil {
		return "/usr/sbin/haproxy", true
	}
	return "", false
}

// HAProxy32Env names the environment variable pointing at an HAProxy 3.2
// binary (scripts/test builds one and exports it).
const HAProxy32Env = "AGENT_HAPROXY32"

// DefaultHAProxy32 is where scripts/test's build of HAProxy 3.2 lands when
// $AGENT_HAPROXY32 is not set.
const DefaultHAProxy32 = "/var/cache/haproxy-agent-tests/haproxy-3.2.0/haproxy"

// HAProxyVersion is one haproxy binary the end-to-end tests run against.
type HAProxyVersion struct {
	// Name names the subtest: "2.6", "3.2".
	Name string
	// Bin is the binary's path; "" is HAProxyBinary's.
	Bin string
}

// HAProxyVersions are the binaries end-to-end tests run against: the
// system's haproxy (Debian's 2.6) and HAProxy 3.2 ($AGENT_HAPROXY32, else
// DefaultHAProxy32).
func HAProxyVersions() []HAProxyVersion {
	bin32 := os.Getenv(HAProxy32Env)
	if bin32 == "" {
		bin32 = DefaultHAProxy32
	}
	return []HAProxyVersion{{Name: "2.6", Bin: ""}, {Name: "3.2", Bin: bin32}}
}

// ForEachHAProxy runs f as one subtest per HAProxyVersions entry, side by
// side (parallel subtests, so f must not share state between versions);
// f starts its haproxy with StartHAProxyBin(t, bin, ...).
func ForEachHAProxy(t *testing.T, f func(t *testing.T, bin string)) {
	t.Helper()
	for _, v := range HAProxyVersions() {
		t.Run("haproxy-"+v.Name, func(t *testing.T) {
			t.Parallel()
			f(t, v.Bin)
		})
	}
}

// HAProxyTCPDefaults is a defaults section for the configurations tests
// pass to StartHAProxy: TCP mode, and timeouts short enough that a check
// or a connection to a dead server fails within a test's patience. A test
// appends its backends to it.
const HAProxyTCPDefaults = `
defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 1s
`

// StartHAProxy starts haproxy with the configuration cfg and stops it when
// the test ends.
//
// The harness prepends its own global section to cfg:
//
//	global
//	    stats socket <Dir>/admin.sock mode 600 level admin
//	    stats timeout 10s
//
// HAProxy merges repeated global sections, so cfg may have its own; it must
// not declare another stats socket, a chroot, or user/group/daemon settings.
// No pid file is written. The configuration is first checked with
// `haproxy -c`, then haproxy runs with -db (foreground), its output going to
// the test log, and StartHAProxy returns once the stats socket answers.
//
// Without a haproxy binary the test is skipped, or fails when the
// environment variable AGENT_REQUIRE_SERVERS is set.
func StartHAProxy(t testing.TB, cfg string) *HAProxy {
	t.Helper()
	return StartHAProxyBin(t, "", cfg)
}

// StartHAProxyBin is StartHAProxy with the haproxy binary at bin; "" is
// HAProxyBinary's. A bin that does not exist skips the test, or fails it
// when AGENT_REQUIRE_SERVERS is set.
func StartHAProxyBin(t testing.TB, bin, cfg string) *HAProxy {
	t.Helper()
	if bin == "" {
		var ok bool
		if bin, ok = HAProxyBinary(); !ok {
			if os.Getenv(HAProxyRequireEnv) != "" {
				t.Fatalf("haproxy not found (PATH, /usr/sbin, $%s) and $%s is set", HAProxyBinEnv, HAProxyRequireEnv)
			}
			t.Skipf("haproxy not found (PATH, /usr/sbin, $%s); set $%s to make this a failure", HAProxyBinEnv, HAProxyRequireEnv)
		}
	} else if _, err := os.Stat(bin); err != nil {
		if os.Getenv(HAProxyRequireEnv) != "" {
			t.Fatalf("haproxy %s: %v, and $%s is set", bin, err, HAProxyRequireEnv)
		}
		t.Skipf("haproxy %s: %v; set $%s to make this a failure", bin, err, HAProxyRequireEnv)
	}

	// A short directory of its own: unix socket paths are limited to 107
	// bytes, which t.TempDir() can exceed for long test names.
	dir, err := os.MkdirTemp("", "haproxy")
	if err != nil {
		t.Fatalf("haproxy temp dir: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	h := &HAProxy{
		Bin:        bin,
		Dir:        dir,
		ConfigPath: filepath.Join(dir, "haproxy.cfg"),
		Socket:     filepath.Join(dir, "admin.sock"),
		done:       make(chan struct{}),
	}
	full := fmt.Sprintf("global\n    stats socket %s mode 600 level admin\n    stats timeout 10s\n\n%s\n", h.Socket, cfg)
	if err := os.WriteFile(h.ConfigPath, []byte(full), 0o600); err != nil {
		t.Fatalf("write haproxy config: %v", err)
	}

	if out, err := exec.Command(bin, "-c", "-f", h.ConfigPath).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c rejects the configuration: %v\n%s\nconfiguration:\n%s", err, out, numberLines(full))
	}

	t.Cleanup(func() { h.stop(t) })
	h.start(t)
	return h
}

// Restart stops haproxy and starts it again on the same configuration and
// socket, as a reload that keeps nothing of the running state does: every
// server is back as the configuration makes it.
func (h *HAProxy) Restart(t testing.TB) {
	t.Helper()
	h.stop(t)
	h.start(t)
}

// start runs haproxy in the foreground and returns once its stats socket
// answers.
func (h *HAProxy) start(t testing.TB) {
	t.Helper()
	h.done = make(chan struct{})
	out := &haproxyLogWriter{t: t}
	h.cmd = exec.Command(h.Bin, "-f", h.ConfigPath, "-db")
	h.cmd.Dir = h.Dir
	h.cmd.Stdout = out
	h.cmd.Stderr = out
	h.cmd.WaitDelay = haproxyStopTimeout
	haproxySysProcAttr(h.cmd)
	if err := h.cmd.Start(); err != nil {
		t.Fatalf("start haproxy: %v", err)
	}
	go func() {
		h.err = h.cmd.Wait()
		out.flush()
		close(h.done)
	}()

	deadline := time.Now().Add(haproxyStartTimeout)
	for {
		select {
		case <-h.done:
			t.Fatalf("haproxy exited during startup: %v (its output is above)", h.err)
		default:
		}
		_, err := h.Command("show info")
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy stats socket %s did not answer within %v: %v", h.Socket, haproxyStartTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends haproxy: SIGTERM (immediate stop), then SIGKILL if it lingers.
func (h *HAProxy) stop(t testing.TB) {
	select {
	case <-h.done:
		t.Logf("haproxy had already exited: %v", h.err)
		return
	default:
	}
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
		return
	case <-time.After(haproxyStopTimeout):
	}
	t.Logf("haproxy ignored SIGTERM for %v, killing it", haproxyStopTimeout)
	_ = h.cmd.Process.Kill()
	<-h.done
}

// Command sends one command to the stats socket and returns the whole answer.
// An answer HAProxy gives to a refused command ("Unknown command", "No such
// backend") is returned as text, not as an error.
func (h *HAProxy) Command(cmd string) (string, error) {
	conn, err := net.DialTimeout("unix", h.Socket, haproxyCmdTimeout)
	if err != nil {
		return "", fmt.Errorf("dial haproxy socket: %w", err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(haproxyCmdTimeout)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(conn, strings.TrimRight(cmd, "\n")+"\n"); err != nil {
		return "", fmt.Errorf("send %q: %w", cmd, err)
	}
	// Without "prompt", HAProxy answers one command and closes.
	b, err := io.ReadAll(conn)
	if err != nil {
		return string(b), fmt.Errorf("read answer to %q: %w", cmd, err)
	}
	return string(b), nil
}

// ShowStat runs `show stat` and returns one map per CSV row (frontends,
// backends and servers), keyed by the column names of the header line
// (pxname, svname, status, weight, slim, agent_status, last_agt, ...).
// Values are as HAProxy prints them: check_status and agent_status carry a
// "* " prefix while a check is in flight.
func (h *HAProxy) ShowStat() ([]map[string]string, error) {
	out, err := h.Command("show stat")
	if err != nil {
		return nil, err
	}
	return parseHAProxyStat(out)
}

func parseHAProxyStat(out string) ([]map[string]string, error) {
	if !strings.HasPrefix(out, "# ") {
		return nil, fmt.Errorf("show stat: unexpected answer %q", firstLine(out))
	}
	r := csv.NewReader(strings.NewReader(out[2:]))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	records, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("show stat: parse CSV: %w", err)
	}
	header := records[0]
	rows := make([]map[string]string, 0, len(records)-1)
	for _, rec := range records[1:] {
		row := make(map[string]string, len(header))
		for i, name := range header {
			if name == "" || i >= len(rec) {
				continue // the trailing comma makes an unnamed last column
			}
			row[name] = rec[i]
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// ServerStat returns the `show stat` row of one server.
func (h *HAProxy) ServerStat(backend, server string) (map[string]string, error) {
	rows, err := h.ShowStat()
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		if row["pxname"] == backend && row["svname"] == server {
			return row, nil
		}
	}
	return nil, fmt.Errorf("show stat: no server %s/%s", backend, server)
}

// ShowServersState runs `show servers state BACKEND` and returns one map per
// server keyed by the header's column names: be_name, srv_name,
// srv_op_state (0 stopped, 2 running), srv_admin_state (bit flags: 1 MAINT
// forced, 8 DRAIN forced...), srv_uweight (current), srv_iweight (from the
// configuration), srv_check_status, srv_agent_state, and so on.
func (h *HAProxy) ShowServersState(backend string) ([]map[string]string, error) {
	out, err := h.Command("show servers state " + backend)
	if err != nil {
		return nil, err
	}
	return parseHAProxyServersState(out)
}

func parseHAProxyServersState(out string) ([]map[string]string, error) {
	// Line 1 is the format version ("1"), line 2 the "# " header, then one
	// space-separated line per server.
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[1], "# ") {
		return nil, fmt.Errorf("show servers state: unexpected answer %q", firstLine(out))
	}
	header := strings.Fields(strings.TrimPrefix(lines[1], "# "))
	var rows []map[string]string
	for _, line := range lines[2:] {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		row := make(map[string]string, len(header))
		for i, name := range header {
			if i < len(fields) {
				row[name] = fields[i]
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// ServerState returns the `show servers state` row of one server.
func (h *HAProxy) ServerState(backend, server string) (map[string]string, error) {
	rows, err := h.ShowServersState(backend)
	if err != nil {
		return nil, err
	}
	for _, row := range rows {
		if row["srv_name"] == server {
			return row, nil
		}
	}
	return nil, fmt.Errorf("show servers state: no server %s/%s", backend, server)
}

// ServerView returns one server's `show stat` row merged with its
// `show servers state` row. Their column names do not overlap (the latter
// all start with srv_, be_ or bk_), so a test can look at "status",
// "weight" and "srv_admin_state" in one map.
func (h *HAProxy) ServerView(backend, server string) (map[string]string, error) {
	stat, err := h.ServerStat(backend, server)
	if err != nil {
		return nil, err
	}
	state, err := h.ServerState(backend, server)
	if err != nil {
		return nil, err
	}
	for k, v := range state {
		if _, ok := stat[k]; !ok {
			stat[k] = v
		}
	}
	return stat, nil
}

// WaitServer polls the server every 100ms until ready returns true for its
// ServerView (show stat merged with show servers state) and returns that
// view. On timeout it fails the test, showing the last view seen. Call it
// from the test's goroutine.
//
// The timeout only catches a state that never comes: it is at least
// minWait, since on a loaded machine HAProxy's checks and the agent's
// cycles run late.
func (h *HAProxy) WaitServer(t testing.TB, backend, server string, timeout time.Duration, ready func(stat map[string]string) bool) map[string]string {
	t.Helper()
	deadline := time.Now().Add(max(timeout, minWait))
	var (
		last    map[string]string
		lastErr error
	)
	for {
		view, err := h.ServerView(backend, server)
		if err == nil {
			last, lastErr = view, nil
			if ready(view) {
				return view
			}
		} else {
			lastErr = err
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-h.done:
			t.Fatalf("haproxy exited while waiting for %s/%s: %v", backend, server, h.err)
		case <-time.After(haproxyPollInterval):
		}
	}
	if last == nil {
		t.Fatalf("server %s/%s: condition not met within %v; no stat read: %v", backend, server, timeout, lastErr)
	}
	t.Fatalf("server %s/%s: condition not met within %v (last error: %v); last seen:\n%s",
		backend, server, timeout, lastErr, FormatHAProxyStat(last))
	return nil
}

// FormatHAProxyStat renders a stat map for a failure message: the fields that
// matter for agent checks first, then every other non-empty field, sorted.
func FormatHAProxyStat(stat map[string]string) string {
	key := []string{"status", "weight", "slim", "agent_status", "agent_code", "last_agt",
		"check_status", "last_chk", "srv_op_state", "srv_admin_state", "srv_uweight", "srv_iweight"}
	var b strings.Builder
	seen := map[string]bool{}
	for _, k := range key {
		if v, ok := stat[k]; ok {
			fmt.Fprintf(&b, "  %s=%q\n", k, v)
		}
		seen[k] = true
	}
	var rest []string
	for k, v := range stat {
		if !seen[k] && v != "" {
			rest = append(rest, fmt.Sprintf("%s=%q", k, v))
		}
	}
	sort.Strings(rest)
	fmt.Fprintf(&b, "  other: %s\n", strings.Join(rest, " "))
	return b.String()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func numberLines(s string) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(s))
	for n := 1; sc.Scan(); n++ {
		fmt.Fprintf(&b, "%4d  %s\n", n, sc.Text())
	}
	return b.String()
}

// haproxyLogWriter copies haproxy's output to the test log line by line.
// cmd.Wait returns only after the output is copied, and the harness waits
// for it in a cleanup, so nothing is logged after the test has ended.
type haproxyLogWriter struct {
	t   testing.TB
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *haproxyLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if errors.Is(err, io.EOF) {
			// Keep the incomplete line for the next write.
			w.buf.Reset()
			w.buf.WriteString(line)
			return len(p), nil
		}
		w.t.Logf("haproxy: %s", strings.TrimRight(line, "\r\n"))
	}
}

func (w *haproxyLogWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() > 0 {
		w.t.Logf("haproxy: %s", w.buf.String())
		w.buf.Reset()
	}
}
