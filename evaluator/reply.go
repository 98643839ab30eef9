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
// force into what the agent wants, then lets the service's reply state
// decide what d's reply says. Combining does not depend on rule order,
// except that the first down-type rule in file order names the
// operational word.
//
// target is the name overrides are matched against besides the service's:
// in fleet mode the server's. hold, when set, is why the rules may not take
// the server out of rotation (the guardrail): their op and admin words give
// way to up and ready, and hold leads the description. It reports whether
// an override in force takes the server out of rotation.
func (e *Evaluator) decide(now time.Time, svc *rules.Service, d *Decision, overrides []Override, rs *replyState, target, hold string) (overrideOut bool) {
	def := e.file.Reply.Default
	op, admin, weight, maxconn := "", "", rules.Unset, rules.Unset
	d.Firing = noneFiring
	d.Overrides = nil
	for j, r := range svc.Rules {
		rr := &d.Rules[j]
		if rr.State != Firing {
			continue
		}
		d.Firing = append(d.Firing, r.Name)
		a := r.Action
		if isDown(a.Op) && op == "" {
			op = a.Op
		}
		if adminRank(a.Admin) > adminRank(admin) {
			admin = a.Admin
		}
		if w := e.ruleWeight(r, rr); w != rules.Unset && (weight == rules.Unset || w < weight) {
			weight = w
		}
		maxconn = minMaxconn(maxconn, a.Maxconn)
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
	if hold != "" {
		op, admin = "up", "ready"
	}

	// Overrides win over the rules, part by part, and combine among
	// themselves as rules do; ready only counts when no other override
	// names an admin word.
	var ov want
	ov.weight, ov.maxconn = rules.Unset, rules.Unset
	ready := false
	for _, o := range overrides {
		if o.Service != "" && o.Service != svc.Name && o.Service != target || !o.Expires.IsZero() && !now.Before(o.Expires) {
			continue
		}
		d.Overrides = append(d.Overrides, o)
		if o.Action.Admin == "ready" {
			ready = true
		} else if adminRank(o.Action.Admin) > adminRank(ov.admin) {
			ov.admin = o.Action.Admin
		}
	}
	ready = ready && ov.admin == ""
	for _, o := range d.Overrides {
		a := o.Action
		if a.Admin == "ready" && !ready {
			continue
		}
		switch {
		case isDown(a.Op) && !isDown(ov.op):
			ov.op = a.Op
		case a.Op != "" && ov.op == "":
			ov.op = a.Op
		}
		if a.Weight != rules.Unset && (ov.weight == rules.Unset || a.Weight < ov.weight) {
			ov.weight = a.Weight
		}
		ov.maxconn = minMaxconn(ov.maxconn, a.Maxconn)
	}
	if ready {
		ov.admin = "ready"
		if ov.weight == rules.Unset {
			ov.weight = def.Weight
		}
	}
	overrideOut = isDown(ov.op) || ov.admin == "drain" || ov.admin == "maint"
	if ov.op != "" {
		op = ov.op
	}
	if ov.admin != "" {
		admin = ov.admin
	}
	if ov.weight != rules.Unset {
		weight = ov.weight
	}
	if ov.maxconn != rules.Unset {
		maxconn = ov.maxconn
	}

	// The description names what is in force: the overrides that set a
	// part of the reply, then the firing rules not wholly overridden.
	var parts []string
	if hold != "" {
		parts = append(parts, hold)
	}
	for _, o := range d.Overrides {
		a := o.Action
		if a.Admin == "ready" && !ready {
			continue
		}
		if a.Op != "" && a.Op == ov.op || a.Admin != "" && a.Admin == ov.admin ||
			a.Weight != rules.Unset && a.Weight == ov.weight || a.Maxconn != rules.Unset && a.Maxconn == ov.maxconn {
			parts = append(parts, "override: "+o.Reason)
		}
	}
	for j, r := range svc.Rules {
		if d.Rules[j].State != Firing {
			continue
		}
		a := r.Action
		if a.Op != "" && ov.op == "" || a.Admin != "" && ov.admin == "" ||
			e.ruleWeight(r, &d.Rules[j]) != rules.Unset && ov.weight == rules.Unset || a.Maxconn != rules.Unset && ov.maxconn == rules.Unset {
			parts = append(parts, r.Label())
		}
	}
	d.Description = description(parts)

	rs.apply(now, &e.file.Reply, svc.UsesMaxconn, want{
		op: op, admin: admin, weight: min(weight, rules.MaxWeight), maxconn: maxconn,
		// A held server says up ready at its weight on every poll.
		pinned: ov.admin != "" || ov.weight != rules.Unset || hold != "",
	}, d)
	if p := d.prev; p != nil && p.full == d.full && p.Op == d.Op && p.Admin == d.Admin && p.Weight == d.Weight && p.Maxconn == d.Maxconn && p.Description == d.Description {
		// A fleet renders a thousand replies per cycle; most repeat.
		d.Reply = p.Reply
	} else {
		d.Reply = formatReply(d)
	}
	return overrideOut
}

// ruleWeight is the weight a firing rule asks for, floored at min_weight,
// or rules.Unset.
func (e *Evaluator) ruleWeight(r *rules.Rule, rr *RuleResult) int {
	w := r.Action.Weight
	if r.Weight != nil {
		w = rr.Weight
	}
	if w == rules.Unset {
		return w
	}
	return max(w, e.file.Reply.MinWeight)
}

// minMaxconn combines two maxconn limits: the lower wins, except that 0
// (unlimited) is no limit and loses to any real one.
func minMaxconn(a, b int) int {
	switch {
	case a == rules.Unset || a == 0 && b != rules.Unset:
		return b
	case b == rules.Unset || b == 0:
		return a
	}
	return min(a, b)
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
// OP[ ADMIN WEIGHT%][ maxconn:N][ #DESCRIPTION]\n, the admin word and
// the weight only while acting or restoring.
func formatReply(d *Decision) string {
	b := make([]byte, 0, 32+len(d.Description))
	b = append(b, d.Op...)
	if d.full {
		b = append(b, ' ')
		b = append(b, d.Admin...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(d.Weight), 10)
		b = append(b, '%')
	}
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
