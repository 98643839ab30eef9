package haproxyapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/testutil"
)

func TestParseAddress(t *testing.T) {
	for _, tc := range []struct {
		in, network, address, err string
	}{
		{in: "/run/haproxy/admin.sock", network: "unix", address: "/run/haproxy/admin.sock"},
		{in: "unix:/run/haproxy/admin.sock", network: "unix", address: "/run/haproxy/admin.sock"},
		{in: "tcp:127.0.0.1:9999", network: "tcp", address: "127.0.0.1:9999"},
		{in: "tcp:[::1]:9999", network: "tcp", address: "[::1]:9999"},
		{in: "tcp:localhost", err: "want tcp:HOST:PORT"},
		{in: "unix:", err: "empty socket path"},
		{in: "", err: "empty runtime API address"},
		{in: "http://x:1", err: "want unix:/path"},
	} {
		network, address, err := ParseAddress(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseAddress(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || network != tc.network || address != tc.address {
			t.Errorf("ParseAddress(%q) = %q, %q, %v; want %q, %q", tc.in, network, address, err, tc.network, tc.address)
		}
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string][2]int{"2.6.12-1+deb12u4": {2, 6}, "3.2.0": {3, 2}, "3.1-dev4": {3, 1}, "10.11.1": {10, 11}} {
		v, err := ParseVersion(in)
		if err != nil || v.Major != want[0] || v.Minor != want[1] {
			t.Errorf("ParseVersion(%q) = %+v, %v; want %v", in, v, err, want)
		}
	}
	if _, err := ParseVersion("HAProxy"); err == nil {
		t.Error("ParseVersion(HAProxy) gave no error")
	}
	if !(Info{Major: 3, Minor: 1}).AtLeast(3, 1) || (Info{Major: 2, Minor: 9}).AtLeast(3, 1) || !(Info{Major: 4}).AtLeast(3, 1) {
		t.Error("AtLeast compares wrongly")
	}
}

// TestParseByName reads columns by their header's names, whatever their
// order: HAProxy versions add and move columns.
func TestParseByName(t *testing.T) {
	st, err := ParseStat([]byte("# svname,pxname,weight,last_agt,\nweb1,web,100,\"via agent : down (a, b)\",\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Rows) != 1 || st.Get(0, "pxname") != "web" || st.Get(0, "weight") != "100" ||
		st.Get(0, "last_agt") != "via agent : down (a, b)" || st.Has("qcur") || st.Get(0, "qcur") != "" {
		t.Errorf("ParseStat = %+v", st)
	}
	ss, err := ParseServersState([]byte("1\n# srv_name be_name srv_uweight\nweb1 web 7\n"))
	if err != nil {
		t.Fatal(err)
	}
	if ss.Get(0, "be_name") != "web" || ss.Get(0, "srv_uweight") != "7" || ss.Row(0)["srv_name"] != "web1" {
		t.Errorf("ParseServersState = %+v", ss)
	}
	for _, bad := range []string{"", "Can't find backend.\n", "2\n# a\n"} {
		if _, err := ParseServersState([]byte(bad)); err == nil {
			t.Errorf("ParseServersState(%q) gave no error", bad)
		}
	}
	_, err = ParseStat([]byte("Permission denied\n"))
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Answer != "Permission denied" {
		t.Errorf("ParseStat(refusal) error = %v, want a RefusedError", err)
	}
}

const apiConfig = `
global
    stats socket ipv4@127.0.0.1:%d level admin
` + testutil.HAProxyTCPDefaults + `
backend web
    balance roundrobin
    server web1 127.0.0.1:1 weight 100
    server web2 127.0.0.1:2 weight 1
    server web3 127.0.0.1:3 weight 100 agent-check agent-port %d agent-inter 60s
backend fixed
    balance static-rr
    server f1 127.0.0.1:4
`

// TestRealHAProxy runs every command against HAProxy 2.6 and 3.2, over
// their unix socket and over TCP, and checks each one's effect through the
// other read.
func TestRealHAProxy(t *testing.T) {
	testutil.ForEachHAProxy(t, func(t *testing.T, bin string) {
		port := testutil.FreePort(t)
		h := testutil.StartHAProxyBin(t, bin, fmt.Sprintf(apiConfig, port, testutil.FreePort(t)))
		for _, addr := range []string{h.Socket, "unix:" + h.Socket, "tcp:127.0.0.1:" + strconv.Itoa(port)} {
			t.Run(strings.SplitN(addr, ":", 2)[0], func(t *testing.T) {
				c, err := New(addr)
				if err != nil {
					t.Fatal(err)
				}
				testCommands(t, c, bin)
			})
		}
	})
}

func testCommands(t *testing.T, c *Client, bin string) {
	ctx := context.Background()
	info, err := c.ShowInfo(ctx)
	if err != nil {
		t.Fatalf("ShowInfo: %v", err)
	}
	if bin == "" && !(info.Major == 2 && info.Minor == 6) || bin != "" && !(info.Major == 3 && info.Minor == 2) {
		t.Errorf("ShowInfo = %+v for %q", info, bin)
	}

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.SetState(ctx, "web", "web1", StateReady))
	must(c.SetWeight(ctx, "web", "web1", "100"))
	must(c.SetMaxconn(ctx, "web", "web1", 0))

	must(c.SetState(ctx, "web", "web1", StateDrain))
	must(c.SetWeight(ctx, "web", "web1", "50"))
	must(c.SetWeight(ctx, "web", "web2", "100%"))
	must(c.SetMaxconn(ctx, "web", "web1", 30))
	must(c.AgentUp(ctx, "web", "web3"))

	st, err := c.ShowStat(ctx)
	if err != nil {
		t.Fatalf("ShowStat: %v", err)
	}
	row := serverRow(t, st, "pxname", "svname", "web", "web1")
	if got := st.Get(row, "status"); got != "DRAIN" {
		t.Errorf("web1 status = %q, want DRAIN", got)
	}
	if got := st.Get(row, "weight"); got != "50" {
		t.Errorf("web1 weight = %q, want 50", got)
	}
	if got := st.Get(row, "slim"); got != "30" {
		t.Errorf("web1 slim = %q, want 30", got)
	}
	if got := st.Get(serverRow(t, st, "pxname", "svname", "web", "web2"), "weight"); got != "1" {
		t.Errorf("web2 weight = %q, want 1 (100%% of its weight 1)", got)
	}

	ss, err := c.ShowServersState(ctx, "web")
	if err != nil {
		t.Fatalf("ShowServersState: %v", err)
	}
	if len(ss.Rows) != 3 {
		t.Errorf("show servers state web: %d rows, want 3", len(ss.Rows))
	}
	r := serverRow(t, ss, "be_name", "srv_name", "web", "web1")
	if ss.Get(r, "srv_admin_state") != "8" || ss.Get(r, "srv_uweight") != "50" || ss.Get(r, "srv_iweight") != "100" {
		t.Errorf("web1 servers state = %v", ss.Row(r))
	}
	all, err := c.ShowServersState(ctx, "")
	if err != nil || len(all.Rows) != 4 {
		t.Errorf("show servers state (all) = %v rows, %v; want 4", all, err)
	}
	must(c.SetState(ctx, "web", "web1", StateMaint))
	st, err = c.ShowStat(ctx)
	must(err)
	if got := st.Get(serverRow(t, st, "pxname", "svname", "web", "web1"), "status"); got != "MAINT" {
		t.Errorf("web1 status = %q after maint", got)
	}

	// Refusals are errors carrying HAProxy's words.
	for _, tc := range []struct {
		err  error
		want string
	}{
		{c.SetState(ctx, "web", "nosuch", StateDrain), "No such server"},
		{c.SetWeight(ctx, "nosuch", "web1", "5"), "No such"},
		{c.SetMaxconn(ctx, "web", "nosuch", 5), "No such server"},
		{c.AgentUp(ctx, "web", "web1"), "agent checks are not enabled"},
		{func() error { _, err := c.ShowServersState(ctx, "nosuch"); return err }(), "Can't find backend"},
	} {
		var refused *RefusedError
		if !errors.As(tc.err, &refused) || !strings.Contains(refused.Answer, tc.want) {
			t.Errorf("error = %v, want HAProxy's %q", tc.err, tc.want)
		}
	}
	// Words the client refuses before sending.
	for _, err := range []error{
		c.SetState(ctx, "web", "web1", "up"),
		c.SetWeight(ctx, "web", "web1", "257"),
		c.SetWeight(ctx, "web", "web1", "5;shutdown"),
		c.SetMaxconn(ctx, "web", "web1", -1),
		c.SetState(ctx, "web", "web1;x", StateReady),
		c.SetState(ctx, "web/x", "web1", StateReady),
	} {
		if err == nil {
			t.Error("an invalid command was accepted")
		}
	}
	if _, err := c.Command(ctx, "show info\nshutdown"); err == nil {
		t.Error("a command with a newline was sent")
	}
	must(c.SetState(ctx, "web", "web1", StateReady))
}

func serverRow(t *testing.T, tab *Table, pxCol, svCol, proxy, server string) int {
	t.Helper()
	for i := range tab.Rows {
		if tab.Get(i, pxCol) == proxy && tab.Get(i, svCol) == server {
			return i
		}
	}
	t.Fatalf("no row %s/%s in %v", proxy, server, tab.Columns)
	return -1
}

// TestBoundedAnswer: an answer over MaxAnswer is an error, not a growing
// buffer.
func TestBoundedAnswer(t *testing.T) {
	h := testutil.StartHAProxy(t, testutil.HAProxyTCPDefaults+"backend web\n    server web1 127.0.0.1:1\n")
	c, err := New(h.Socket)
	if err != nil {
		t.Fatal(err)
	}
	c.MaxAnswer = 100
	if _, err := c.ShowStat(context.Background()); !errors.Is(err, ErrAnswerTooLarge) {
		t.Errorf("ShowStat with MaxAnswer 100: %v, want ErrAnswerTooLarge", err)
	}
}

// TestDeadline: a socket that accepts and never answers ends in an error
// at the client's timeout, and a cancelled context ends it at once.
func TestDeadline(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	c, err := New("tcp:" + l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Timeout = 200 * time.Millisecond
	done := make(chan error, 1)
	go func() { _, err := c.ShowStat(context.Background()); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("silent socket: %v, want a deadline error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ShowStat on a silent socket hangs past its timeout")
	}

	c.Timeout = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _, err := c.ShowStat(ctx); done <- err }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled: %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ShowStat ignores its context's cancellation")
	}
}
