package rules

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var replyKeys = []string{"default", "min_weight", "maxconn"}

// reply reads the reply section over the defaults already in r.
func (p *parser) reply(r *Reply, n *yaml.Node) {
	const ctx = "reply: "
	fs := p.fields(n, ctx, replyKeys)
	if e, ok := fs["default"]; ok {
		if s, ok := p.scalar(e, ctx); ok {
			a, err := ParseAction(s)
			switch {
			case err != nil:
				p.errorf(e.val, ctx, "default: %v", err)
			case a.Maxconn != Unset:
				p.errorf(e.val, ctx, "default: set maxconn with reply.maxconn, not in the default action")
			default:
				if a.Op != "" {
					r.Default.Op = a.Op
				}
				if a.Admin != "" {
					r.Default.Admin = a.Admin
				}
				if a.Weight != Unset {
					r.Default.Weight = a.Weight
				}
			}
		}
	}
	if e, ok := fs["min_weight"]; ok {
		if s, ok := p.scalar(e, ctx); ok {
			if n, ok := percent(s); ok {
				r.MinWeight = n
			} else {
				p.errorf(e.val, ctx, "min_weight %q: want an integer percent from 0%% to %d%%, such as 1%%", s, MaxWeight)
			}
		}
	}
	if e, ok := fs["maxconn"]; ok {
		if s, ok := p.scalar(e, ctx); ok {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 0 {
				p.errorf(e.val, ctx, "maxconn %q: want an integer ≥ 0 (0 means unlimited)", s)
			} else {
				r.Maxconn = n
			}
		}
	}
}
