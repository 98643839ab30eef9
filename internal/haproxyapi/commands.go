package haproxyapi

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
)

// ShowStat runs `show stat` and returns its table (frontends, backends,
// servers; the "type" column tells them apart: TypeServer...).
func (c *Client) ShowStat(ctx context.Context) (*Table, error) {
	b, err := c.command(ctx, "show stat")
	if err != nil {
		return nil, err
	}
	return ParseStat(b)
}

// ShowServersState runs `show servers state [BACKEND]` (all backends when
// backend is "") and returns its table: be_name, srv_name, srv_op_state,
// srv_admin_state, srv_uweight, srv_iweight, srv_agent_port... as this
// HAProxy names them.
func (c *Client) ShowServersState(ctx context.Context, backend string) (*Table, error) {
	cmd := "show servers state"
	if backend != "" {
		if err := checkName("backend", backend); err != nil {
			return nil, err
		}
		cmd += " " + backend
	}
	b, err := c.command(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return ParseServersState(b)
}

// Info is what the agent reads from `show info`.
type Info struct {
	// Version is HAProxy's version string, e.g. "2.6.12-1+deb12u4".
	Version string
	// Major and Minor are the version's first two numbers (2 and 6).
	Major, Minor int
}

// AtLeast reports whether the version is major.minor or later.
func (i Info) AtLeast(major, minor int) bool {
	return i.Major > major || i.Major == major && i.Minor >= minor
}

// ShowInfo runs `show info` and returns HAProxy's version.
func (c *Client) ShowInfo(ctx context.Context) (Info, error) {
	b, err := c.command(ctx, "show info")
	if err != nil {
		return Info{}, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Version:"); ok {
			return ParseVersion(strings.TrimSpace(v))
		}
	}
	return Info{}, answerError("show info", b)
}

// ParseVersion reads a version such as "3.2.0" or "2.6.12-1+deb12u4".
func ParseVersion(v string) (Info, error) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return Info{}, fmt.Errorf("haproxy version %q: want MAJOR.MINOR", v)
	}
	major, err1 := strconv.Atoi(parts[0])
	minorText := strings.TrimLeftFunc(parts[1], func(r rune) bool { return r >= '0' && r <= '9' })
	minor, err2 := strconv.Atoi(strings.TrimSuffix(parts[1], minorText))
	if err1 != nil || err2 != nil {
		return Info{}, fmt.Errorf("haproxy version %q: want MAJOR.MINOR", v)
	}
	return Info{Version: v, Major: major, Minor: minor}, nil
}

// Admin states `set server B/S state` takes.
const (
	StateReady = "ready"
	StateDrain = "drain"
	StateMaint = "maint"
)

// SetState runs `set server B/S state ready|drain|maint`.
func (c *Client) SetState(ctx context.Context, backend, server, state string) error {
	switch state {
	case StateReady, StateDrain, StateMaint:
	default:
		return fmt.Errorf("set server state %q: want ready, drain or maint", state)
	}
	return c.set(ctx, backend, server, "set server", "state "+state)
}

// SetWeight runs `set weight B/S WEIGHT`; weight is "N" (absolute) or "N%"
// (of the server line's weight).
func (c *Client) SetWeight(ctx context.Context, backend, server, weight string) error {
	n := strings.TrimSuffix(weight, "%")
	if v, err := strconv.Atoi(n); err != nil || v < 0 || v > 256 || n != strconv.Itoa(v) {
		return fmt.Errorf("set weight %q: want N or N%% with N in 0–256", weight)
	}
	return c.set(ctx, backend, server, "set weight", weight)
}

// SetMaxconn runs `set maxconn server B/S N` (0: no limit).
func (c *Client) SetMaxconn(ctx context.Context, backend, server string, n int) error {
	if n < 0 {
		return fmt.Errorf("set maxconn %d: want 0 or more", n)
	}
	return c.set(ctx, backend, server, "set maxconn server", strconv.Itoa(n))
}

// AgentUp runs `set server B/S agent up`, which lifts a state the agent
// check set (DOWN or DRAIN by the agent).
func (c *Client) AgentUp(ctx context.Context, backend, server string) error {
	return c.set(ctx, backend, server, "set server", "agent up")
}

// set runs a command whose success is an empty answer; any text is
// HAProxy's refusal and becomes a *RefusedError.
func (c *Client) set(ctx context.Context, backend, server, verb, args string) error {
	if err := checkName("backend", backend); err != nil {
		return err
	}
	if err := checkName("server", server); err != nil {
		return err
	}
	cmd := verb + " " + backend + "/" + server + " " + args
	b, err := c.command(ctx, cmd)
	if err != nil {
		return err
	}
	if text := bytes.TrimSpace(b); len(text) > 0 {
		return answerError(cmd, text)
	}
	return nil
}

// checkName refuses a backend or server name that would change the
// command: HAProxy's names never hold spaces, '/' or ';'.
func checkName(what, name string) error {
	if name == "" || strings.ContainsAny(name, " \t\r\n/;") {
		return fmt.Errorf("%s name %q: empty, or holds a space, '/' or ';'", what, name)
	}
	return nil
}
