package rules

import (
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"go.yaml.in/yaml/v3"
)

var replyKeys = []string{"default", "min_weight", "maxconn", "restore_for", "ramp"}

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
			if err != nil || n < 0 || n > MaxMaxconn {
				p.errorf(e.val, ctx, "maxconn %q: want an integer from 0 (unlimited) to %d", s, MaxMaxconn)
			} else {
				r.Maxconn = n
			}
		}
	}
	if e, ok := fs["restore_for"]; ok {
		if e.val.Kind == yaml.ScalarNode && strings.TrimSpace(e.val.Value) == "always" {
			r.RestoreFor, r.RestoreAlways = 0, true
		} else if d, ok := p.replyDuration(e, ctx, "always"); ok {
			if d == 0 {
				p.errorf(e.val, ctx, "restore_for must be greater than 0: the agent needs it to undo its own drain, maint and weight (or write always)")
			} else {
				r.RestoreFor = d
			}
		}
	}
	if e, ok := fs["ramp"]; ok {
		if d, ok := p.replyDuration(e, ctx, "0s to turn it off"); ok {
			r.Ramp = d
		}
	}
}

// replyDuration reads restore_for or ramp: a duration of at most a day.
func (p *parser) replyDuration(e pair, ctx, alt string) (time.Duration, bool) {
	s, ok := p.scalar(e, ctx)
	if !ok {
		return 0, false
	}
	d, err := model.ParseDuration(strings.TrimSpace(s))
	switch {
	case err != nil:
		p.errorf(e.val, ctx, "%s: bad duration %q: want a number and a unit, such as 30s or 2m, or %s", e.key.Value, s, alt)
		return 0, false
	case time.Duration(d) > MaxReplyDuration:
		p.errorf(e.val, ctx, "%s %s is longer than a day", e.key.Value, fmtDuration(time.Duration(d)))
		return 0, false
	}
	return time.Duration(d), true
}
