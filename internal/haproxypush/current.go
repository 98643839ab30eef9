package haproxypush

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/haproxy-agent/agent/internal/haproxyapi"
	"github.com/haproxy-agent/agent/rules"
)

// Current is what HAProxy holds for one server.
type Current struct {
	// AdminState is srv_admin_state's bits: 0x01 maint, 0x08 drain set
	// on the Runtime API or by an agent.
	AdminState int
	// Weight and InitialWeight are srv_uweight and srv_iweight.
	Weight, InitialWeight int
	// Maxconn is show stat's slim; 0 for none.
	Maxconn int
}

// Read reads one backend's servers: `show servers state BACKEND` and the
// backend's `show stat` rows, by column name.
func Read(ctx context.Context, c *haproxyapi.Client, backend string) (map[string]Current, error) {
	ss, err := c.ShowServersState(ctx, backend)
	if err != nil {
		return nil, err
	}
	st, err := c.ShowStat(ctx)
	if err != nil {
		return nil, err
	}
	cur := make(map[string]Current, len(ss.Rows))
	for i := range ss.Rows {
		cur[ss.Get(i, "srv_name")] = Current{
			AdminState:    atoi(ss.Get(i, "srv_admin_state")),
			Weight:        atoi(ss.Get(i, "srv_uweight")),
			InitialWeight: atoi(ss.Get(i, "srv_iweight")),
		}
	}
	for i := range st.Rows {
		if st.Get(i, "pxname") != backend || st.Get(i, "type") != haproxyapi.TypeServer {
			continue
		}
		name := st.Get(i, "svname")
		if c, ok := cur[name]; ok {
			c.Maxconn = atoi(st.Get(i, "slim"))
			cur[name] = c
		}
	}
	return cur, nil
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// command is one set command of a push.
type command struct {
	kind, arg string
}

func (c command) String() string { return c.kind + " " + c.arg }

func (c command) run(ctx context.Context, cl *haproxyapi.Client, backend, server string) error {
	switch c.kind {
	case "state":
		return cl.SetState(ctx, backend, server, c.arg)
	case "weight":
		return cl.SetWeight(ctx, backend, server, c.arg)
	case "maxconn":
		n, _ := strconv.Atoi(c.arg)
		return cl.SetMaxconn(ctx, backend, server, n)
	}
	return fmt.Errorf("unknown push command %q", c.kind)
}

// diff lists the commands that bring c to w, in the order a poll's reply
// applies them: state, then weight, then maxconn.
func (c Current) diff(w State) []command {
	var cmds []command
	maint, drain := c.AdminState&0x01 != 0, c.AdminState&0x08 != 0
	switch {
	case w.Admin == rules.Maint && !maint,
		w.Admin == rules.Drain && (!drain || maint),
		w.Admin == rules.Ready && (drain || maint):
		cmds = append(cmds, command{"state", w.Admin.String()})
	}
	if target, ok := c.weightOf(w.Weight); ok && target != c.Weight {
		cmds = append(cmds, command{"weight", w.Weight})
	}
	if w.Maxconn != rules.Unset && w.Maxconn != c.Maxconn {
		cmds = append(cmds, command{"maxconn", strconv.Itoa(w.Maxconn)})
	}
	return cmds
}

// weightOf is the weight HAProxy holds after `set weight` with w: N% of
// the server line's weight, or N.
func (c Current) weightOf(w string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSuffix(w, "%"))
	if err != nil {
		return 0, false
	}
	if strings.HasSuffix(w, "%") {
		return c.InitialWeight * n / 100, true
	}
	return n, true
}
