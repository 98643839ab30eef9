package testutil

import (
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// EtcdCluster is a real etcd cluster of several members on loopback ports
// chosen at run time, started from the machine's etcd binary (Debian's
// etcd-server). Members can be stopped and started again to cut quorum.
type EtcdCluster struct {
	bin     string
	dir     string
	members []*etcdMember
	initial string
	t       testing.TB
}

type etcdMember struct {
	name         string
	client, peer int
	mu           sync.Mutex
	cmd          *exec.Cmd
	exited       chan struct{}
	log          *SyncBuffer
	// started: a member started before joins with its data ("existing").
	started bool
}

// StartEtcdCluster starts an etcd cluster of n members and waits until it
// has a leader. The members stop when the test ends.
func StartEtcdCluster(t testing.TB, n int) *EtcdCluster {
	t.Helper()
	bin := RequireBinary(t, "AGENT_ETCD", "etcd", "/usr/bin/etcd")
	c := &EtcdCluster{bin: bin, dir: t.TempDir(), t: t}
	var initial []string
	for i := range n {
		m := &etcdMember{name: "m" + strconv.Itoa(i), client: FreePort(t), peer: FreePort(t)}
		c.members = append(c.members, m)
		initial = append(initial, fmt.Sprintf("%s=http://127.0.0.1:%d", m.name, m.peer))
	}
	c.initial = strings.Join(initial, ",")
	t.Cleanup(func() {
		for i := range c.members {
			c.Stop(i)
		}
	})
	for i := range c.members {
		c.Start(i)
	}
	c.WaitHealthy(t, 30*time.Second)
	return c
}

// Endpoints returns every member's client URL.
func (c *EtcdCluster) Endpoints() []string {
	out := make([]string, len(c.members))
	for i := range c.members {
		out[i] = c.Endpoint(i)
	}
	return out
}

// Endpoint returns member i's client URL.
func (c *EtcdCluster) Endpoint(i int) string {
	return fmt.Sprintf("http://127.0.0.1:%d", c.members[i].client)
}

// Start starts member i (again, with its data, after Stop).
func (c *EtcdCluster) Start(i int) {
	c.t.Helper()
	m := c.members[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return
	}
	state := "new"
	if m.started {
		state = "existing"
	}
	m.started = true
	cu := fmt.Sprintf("http://127.0.0.1:%d", m.client)
	pu := fmt.Sprintf("http://127.0.0.1:%d", m.peer)
	cmd := exec.Command(c.bin,
		"--name", m.name,
		"--data-dir", filepath.Join(c.dir, m.name),
		"--listen-client-urls", cu, "--advertise-client-urls", cu,
		"--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu,
		"--initial-cluster", c.initial, "--initial-cluster-state", state,
		"--initial-cluster-token", "agent-test",
		"--heartbeat-interval", "50", "--election-timeout", "500",
		"--log-level", "warn", "--logger", "zap",
	)
	if m.log == nil {
		m.log = &SyncBuffer{}
	}
	cmd.Stdout, cmd.Stderr = m.log, m.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start etcd member %s: %v", m.name, err)
	}
	m.cmd = cmd
	m.exited = make(chan struct{})
	go func(ch chan struct{}) { _ = cmd.Wait(); close(ch) }(m.exited)
}

// Stop stops member i (SIGTERM, then SIGKILL) and waits until it exited.
func (c *EtcdCluster) Stop(i int) {
	m := c.members[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.exited
	}
	m.cmd = nil
}

// Healthy reports whether member i answers /health with health true.
func (c *EtcdCluster) Healthy(i int) bool {
	cl := http.Client{Timeout: 500 * time.Millisecond}
	resp, err := cl.Get(c.Endpoint(i) + "/health")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var b [128]byte
	n, _ := resp.Body.Read(b[:])
	return resp.StatusCode == 200 && strings.Contains(string(b[:n]), `"health":"true"`)
}

// WaitHealthy waits until every running member reports health (the
// cluster has a leader and quorum).
func (c *EtcdCluster) WaitHealthy(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok := true
		for i, m := range c.members {
			m.mu.Lock()
			running := m.cmd != nil
			m.mu.Unlock()
			if running && !c.Healthy(i) {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			var logs []string
			for _, m := range c.members {
				if m.log != nil {
					logs = append(logs, m.name+":\n"+lastLines(m.log.String(), 20))
				}
			}
			t.Fatalf("etcd cluster not healthy after %s:\n%s", timeout, strings.Join(logs, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
