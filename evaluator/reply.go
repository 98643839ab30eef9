package evaluator

import (
	"strconv"
	"strings"
	"time"

	"github.com/haproxy-agent/agent/rules"
)

// MaxDescription is the longest description HAProxy keeps; longer ones are
// cut here so that what the agent shows is what HAProxy shows.
const MaxDescription = 127

// adminRank orders the administrative words: maint over drain over ready.
func adminRank(w string) int {
	switch w {
	case "maint":
		return 3
	case "drain":
		return 2
	case "ready":
		return 1
	}
	return 0
}

// noneFiring is an empty list shared by every decision (appending to it
// allocates a new one), so that JSON shows [] rather than null.
var noneFiring = []string{}

func isDown(op string) bool { return op == "down" || op == "fail" || op == "stopped" }

// decide combines the firing rules of one service and the overrides in
// force into d's reply. Combining does not depend on rule order, except that
// the first down-type rule in file order names the operational word.
func (e *Evaluator) decide(now time.Time, svc *rules.Service, d *Decision, overrides []Override) {
	def := e.file.Reply.Default
	op, admin, weight, maxconn := "", "", rules.Unset, rules.Unset
	d.Firing = noneFiring
	var labels []string
	for j, r := range svc.Rules {
		rr := &d.Rules[j]
		if rr.State != Firing {
			continue
		}
		d.Firing = append(d.Firing, r.Name)
		labels = append(labels, r.Label())
		a := r.Action
		if isDown(a.Op) && op == "" {
			op = a.Op
		}
		if adminRank(a.Admin) > adminRank(admin) {
			admin = a.Admin
		}
		w := a.Weight
		if r.Weight != nil {
			w = rr.Weight
		}
		if w != rules.Unset {
			w = max(w, e.file.Reply.MinWeight)
			if weight == rules.Unset || w < weight {
				weight = w
			}
		}
		if a.Maxconn != rules.Unset && (maxconn == rules.Unset || a.Maxconn < maxconn) {
			maxconn = a.Maxconn
		}
	}
	if op == "" {
		op = def.Op
	}
	if admin == "" {
		admin = def.Admin
	}
	if weight == rules.Unset {
		weight = def.Weight
	}
	weight = min(weight, rules.MaxWeight)
	if svc.UsesMaxconn && maxconn == rules.Unset {
		maxconn = e.file.Reply.Maxconn
	}

	// Overrides win over the rules, a later one over an earlier one.
	var reasons []string
	for _, o := range overrides {
		if o.Service != "" && o.Service != svc.Name {
			continue
		}
		if !o.Expires.IsZero() && !now.Before(o.Expires) {
			continue
		}
		d.Overrides = append(d.Overrides, o)
		if o.Action.Op != "" {
			op = o.Action.Op
		}
		if o.Action.Admin != "" {
			admin = o.Action.Admin
		}
		if o.Action.Weight != rules.Unset {
			weight = o.Action.Weight
		}
		if o.Action.Maxconn != rules.Unset {
			maxconn = o.Action.Maxconn
		}
		reasons = append(reasons, "override: "+o.Reason)
	}

	d.Op, d.Admin, d.Weight, d.Maxconn = op, admin, weight, maxconn
	d.Description = description(append(reasons, labels...))
	d.Reply = formatReply(d)
}

// description joins the parts into one line HAProxy shows as-is: printable
// ASCII only, at most MaxDescription bytes.
func description(parts []string) string {
	if len(parts) == 0 {
		return ""
	}
	s := strings.Join(parts, "; ")
	b := make([]byte, 0, min(len(s), MaxDescription))
	for i := 0; i < len(s) && len(b) < MaxDescription; i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		b = append(b, c)
	}
	return strings.TrimRight(string(b), " ")
}

// formatReply renders the decision as the agent-check reply line:
// OP ADMIN WEIGHT%[ maxconn:N][ #DESCRIPTION]\n.
func formatReply(d *Decision) string {
	b := make([]byte, 0, 32+len(d.Description))
	b = append(b, d.Op...)
	b = append(b, ' ')
	b = append(b, d.Admin...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(d.Weight), 10)
	b = append(b, '%')
	if d.Maxconn != rules.Unset {
		b = append(b, " maxconn:"...)
		b = strconv.AppendInt(b, int64(d.Maxconn), 10)
	}
	if d.Description != "" {
		b = append(b, " #"...)
		b = append(b, d.Description...)
	}
	b = append(b, '\n')
	return string(b)
}
