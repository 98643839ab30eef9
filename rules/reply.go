package rules

import (
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"go.yaml.in/yaml/v3"
)

var replyKeys = []string{"default", "min_weight", "maxconn", "restore_for", "ramp"}

// replyCtx prefixes every message about the reply section.
const replyCtx = "reply: "

// replyDoc is the reply section as the file writes it: decoded and its
// keys checked. Each key keeps its key and value nodes, the zero pair when
// absent.
type replyDoc struct {
	def, minWeight, maxconn, restoreFor, ramp pair
}

// decodeReply decodes the reply section, reporting unknown and duplicate keys.
func (p *parser) decodeReply(n *yaml.Node) replyDoc {
	fs := p.fields(n, replyCtx, replyKeys)
	return replyDoc{def: fs["default"], minWeight: fs["min_weight"], maxconn: fs["maxconn"], restoreFor: fs["restore_for"], ramp: fs["ramp"]}
}

// reply reads the reply section over the defaults already in r.
func (p *parser) reply(r *Reply, n *yaml.Node) {
	d := p.decodeReply(n)
	p.replyDefault(r, d.def)
	p.minWeight(r, d.minWeight)
	p.replyMaxconn(r, d.maxconn)
	p.restoreFor(r, d.restoreFor)
	if d.ramp.given() {
		if v, ok := p.replyDuration(d.ramp, "0s to turn it off"); ok {
			r.Ramp = v
		}
	}
}

// replyDefault reads the action sent when no rule fires, over the default one.
func (p *parser) replyDefault(r *Reply, e pair) {
	if !e.given() {
		return
	}
	s, ok := p.scalar(e, replyCtx)
	if !ok {
		return
	}
	a, err := ParseAction(s)
	switch {
	case err != nil:
		p.errorf(e.val, replyCtx, "default: %v", err)
		return
	case a.Maxconn != Unset:
		p.errorf(e.val, replyCtx, "default: set maxconn with reply.maxconn, not in the default action")
		return
	case a.Absolute:
		p.errorf(e.val, replyCtx, "default: weight %d is absolute; the default weight is a percent of the server's, such as %d%%", a.Weight, a.Weight)
		return
	}
	if a.Op != NoOp {
		r.Default.Op = a.Op
	}
	if a.Admin != NoAdmin {
		r.Default.Admin = a.Admin
	}
	if a.Weight != Unset {
		r.Default.Weight = a.Weight
	}
}

// minWeight reads the floor of the weights rules set.
func (p *parser) minWeight(r *Reply, e pair) {
	if !e.given() {
		return
	}
	if s, ok := p.scalar(e, replyCtx); ok {
		if n, ok := percent(s); ok {
			r.MinWeight = n
		} else {
			p.errorf(e.val, replyCtx, "min_weight %q: want an integer percent from 0%% to %d%%, such as 1%%", s, MaxWeight)
		}
	}
}

// replyMaxconn reads the maxconn sent once no rule limits it.
func (p *parser) replyMaxconn(r *Reply, e pair) {
	if !e.given() {
		return
	}
	if s, ok := p.scalar(e, replyCtx); ok {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 || n > MaxMaxconn {
			p.errorf(e.val, replyCtx, "maxconn %q: want an integer from 0 (unlimited) to %d", s, MaxMaxconn)
		} else {
			r.Maxconn = n
		}
	}
}

// restoreFor reads restore_for: a duration, or always.
func (p *parser) restoreFor(r *Reply, e pair) {
	switch {
	case !e.given():
	case e.val.Kind == yaml.ScalarNode && strings.TrimSpace(e.val.Value) == "always":
		r.RestoreFor, r.RestoreAlways = 0, true
	default:
		d, ok := p.replyDuration(e, "always")
		switch {
		case !ok:
		case d == 0:
			p.errorf(e.val, replyCtx, "restore_for must be greater than 0: the agent needs it to undo its own drain, maint and weight (or write always)")
		default:
			r.RestoreFor = d
		}
	}
}

// replyDuration reads restore_for or ramp: a duration of at most a day.
func (p *parser) replyDuration(e pair, alt string) (time.Duration, bool) {
	s, ok := p.scalar(e, replyCtx)
	if !ok {
		return 0, false
	}
	d, err := model.ParseDuration(strings.TrimSpace(s))
	switch {
	case err != nil:
		p.errorf(e.val, replyCtx, "%s: bad duration %q: want a number and a unit, such as 30s or 2m, or %s", e.key.Value, s, alt)
		return 0, false
	case time.Duration(d) > MaxReplyDuration:
		p.errorf(e.val, replyCtx, "%s %s is longer than a day", e.key.Value, fmtDuration(time.Duration(d)))
		return 0, false
	}
	return time.Duration(d), true
}
