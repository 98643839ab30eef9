// Package haproxyview reads what HAProxy made of the agent's replies,
// through its Runtime API, and reports drift: a server that HAProxy holds
// in another state than the one the agent answers, for longer than HAProxy
// needs to apply a reply, with the likely cause.
package haproxyview

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/haproxy-agent/agent/internal/haproxyapi"
)

// Server is one HAProxy server as `show stat` and `show servers state`
// show it.
type Server struct {
	Proxy  string `json:"proxy"`
	Server string `json:"server"`
	// Status is show stat's status: UP, DOWN, DRAIN, MAINT, "DOWN (agent)"...
	Status string `json:"status"`
	// Weight is the current weight, InitialWeight the configuration's.
	Weight        int `json:"weight"`
	InitialWeight int `json:"initial_weight"`
	// AgentStatus is the last agent check's result (L7OK, L4CON...),
	// without the "* " of a check in flight; empty without agent-check.
	AgentStatus string `json:"agent_status,omitempty"`
	// LastAgent is the last agent reply HAProxy received (last_agt).
	LastAgent string `json:"last_agt,omitempty"`
	// CheckStatus is the health check's last result.
	CheckStatus string `json:"check_status,omitempty"`
	// AgentCheck says the server has an agent check; AgentPort is its
	// port. AgentDisabled says an operator suspended it (disable agent).
	AgentCheck    bool `json:"agent_check"`
	AgentDisabled bool `json:"agent_disabled,omitempty"`
	AgentPort     int  `json:"agent_port,omitempty"`
	// AdminState is srv_admin_state's bits (1 forced maint, 8 forced drain...).
	AdminState int `json:"admin_state"`
	// AgentInter is the agent check's interval when HAProxy shows it
	// (srv_agent_inter); zero otherwise.
	AgentInter time.Duration `json:"-"`
}

// ReadServers reads every server of one HAProxy: `show stat` joined with
// `show servers state`, both read by column name.
func ReadServers(ctx context.Context, c *haproxyapi.Client) ([]Server, error) {
	st, err := c.ShowStat(ctx)
	if err != nil {
		return nil, err
	}
	ss, err := c.ShowServersState(ctx, "")
	if err != nil {
		return nil, err
	}
	type key struct{ proxy, server string }
	state := make(map[key]int, len(ss.Rows))
	for i := range ss.Rows {
		state[key{ss.Get(i, "be_name"), ss.Get(i, "srv_name")}] = i
	}
	servers := make([]Server, 0, len(ss.Rows))
	for i := range st.Rows {
		if st.Get(i, "type") != haproxyapi.TypeServer {
			continue
		}
		s := Server{
			Proxy:       st.Get(i, "pxname"),
			Server:      st.Get(i, "svname"),
			Status:      st.Get(i, "status"),
			Weight:      atoi(st.Get(i, "weight")),
			AgentStatus: strings.TrimPrefix(st.Get(i, "agent_status"), "* "),
			LastAgent:   st.Get(i, "last_agt"),
			CheckStatus: strings.TrimPrefix(st.Get(i, "check_status"), "* "),
		}
		if j, ok := state[key{s.Proxy, s.Server}]; ok {
			s.Weight = atoi(ss.Get(j, "srv_uweight"))
			s.InitialWeight = atoi(ss.Get(j, "srv_iweight"))
			s.AdminState = atoi(ss.Get(j, "srv_admin_state"))
			// srv_agent_state holds the check's flags: 0x04 enabled.
			agent := atoi(ss.Get(j, "srv_agent_state"))
			s.AgentCheck, s.AgentDisabled = agent != 0, agent != 0 && agent&0x04 == 0
			s.AgentPort = atoi(ss.Get(j, "srv_agent_port"))
			if ms := ss.Get(j, "srv_agent_inter"); ms != "" {
				s.AgentInter = time.Duration(atoi(ms)) * time.Millisecond
			}
		} else {
			s.AgentCheck = s.AgentStatus != ""
		}
		servers = append(servers, s)
	}
	if len(servers) == 0 && len(st.Rows) > 0 && !st.Has("type") {
		return nil, fmt.Errorf("show stat: no type column")
	}
	return servers, nil
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// state is the first word of a status: UP, DOWN, DRAIN, MAINT, NOLB...
func (s *Server) state() string {
	w, _, _ := strings.Cut(s.Status, " ")
	return w
}
