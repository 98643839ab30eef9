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
// decide what d's reply says.
//
// target is the name overrides are matched against besides the service's:
// in fleet mode the server's. hold, when set, is why the rules may not take
// the server out of rotation (the guardrail): their op and admin words give
// way to up and ready, and hold leads the description. It reports whether
// an override in force takes the server out of rotation.
func (e *Evaluator) decide(now time.Time, svc *rules.Service, d *Decision, overrides []Override, rs *replyState, target, hold string) (overrideOut bool) {
	w := e.combineRules(svc, d)
	if hold != "" {
		// Held in rotation, and a weight of 0% is out too: hold it at
		// min_weight, but above 0.
		w.op, w.admin = "up", "ready"
		w.weight = max(w.weight, e.file.Reply.MinWeight, 1)
	}
	d.Overrides = inForce(now, overrides, svc.Name, target)
	ov, ready := combineOverrides(d.Overrides, e.file.Reply.Default.Weight)
	w.overlay(ov)
	d.Description = e.describe(svc, d, ov, ready, hold)

	w.weight = min(w.weight, rules.MaxWeight)
	// A held server says up ready at its weight on every poll.
	w.pinned = ov.admin != "" || ov.weight != rules.Unset || hold != ""
	rs.apply(now, &e.file.Reply, svc.UsesMaxconn, w, d)
	d.Reply = reuseReply(d)
	return ov.out()
}

// combineRules lists the firing rules of svc in d.Firing and combines what
// they ask for, part by part, falling back on reply.default for a part no
// rule sets. Combining does not depend on rule order (maint over drain
// over ready, the lowest weight, the lowest real maxconn), except that the
// first down-type rule in file order names the operational word. maxconn
// stays rules.Unset when no rule sets one.
func (e *Evaluator) combineRules(svc *rules.Service, d *Decision) want {
	def := e.file.Reply.Default
	w := want{weight: rules.Unset, maxconn: rules.Unset}
	d.Firing = noneFiring
	for j, r := range svc.Rules {
		rr := &d.Rules[j]
		if rr.State != Firing {
			continue
		}
		d.Firing = append(d.Firing, r.Name)
		a := r.Action
		if isDown(a.Op) && w.op == "" {
			w.op = a.Op
		}
		if adminRank(a.Admin) > adminRank(w.admin) {
			w.admin = a.Admin
		}
		if rw := e.ruleWeight(r, rr); rw != rules.Unset && (w.weight == rules.Unset || rw < w.weight) {
			w.weight = rw
		}
		w.maxconn = minMaxconn(w.maxconn, a.Maxconn)
	}
	if w.op == "" {
		w.op = def.Op
	}
	if w.admin == "" {
		w.admin = def.Admin
	}
	if w.weight == rules.Unset {
		w.weight = def.Weight
	}
	return w
}

// inForce returns the overrides that apply now to the service named svc
// (or to target, the fleet server): those for every service or for either
// name, not expired; nil when none does.
func inForce(now time.Time, overrides []Override, svc, target string) []Override {
	var in []Override
	for _, o := range overrides {
		if o.Service != "" && o.Service != svc && o.Service != target || !o.Expires.IsZero() && !now.Before(o.Expires) {
			continue
		}
		in = append(in, o)
	}
	return in
}

// combineOverrides combines the overrides in force as rules combine, part
// by part; a part none sets stays empty or rules.Unset so that the rules
// keep it. ready means "ignore the rules' admin word and weight" and loses
// to any other override's admin word; when it counts, it
// restores the default weight unless an override sets one. ready reports
// whether it counts.
func combineOverrides(in []Override, defWeight int) (ov want, ready bool) {
	ov.weight, ov.maxconn = rules.Unset, rules.Unset
	for _, o := range in {
		if o.Action.Admin == "ready" {
			ready = true
		} else if adminRank(o.Action.Admin) > adminRank(ov.admin) {
			ov.admin = o.Action.Admin
		}
	}
	ready = ready && ov.admin == ""
	for _, o := range in {
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
			ov.weight = defWeight
		}
	}
	return ov, ready
}

// overlay lets the overrides win over the rules, part by part: each part
// ov sets replaces w's.
func (w *want) overlay(ov want) {
	if ov.op != "" {
		w.op = ov.op
	}
	if ov.admin != "" {
		w.admin = ov.admin
	}
	if ov.weight != rules.Unset {
		w.weight = ov.weight
	}
	if ov.maxconn != rules.Unset {
		w.maxconn = ov.maxconn
	}
}

// describe names what is in force, so that an operator reading HAProxy's
// stats page sees why: hold first, then the overrides that set a part of
// the reply, then the firing rules not wholly overridden. ov and ready are
// what combineOverrides made of d.Overrides.
func (e *Evaluator) describe(svc *rules.Service, d *Decision, ov want, ready bool, hold string) string {
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
	return description(parts)
}

// reuseReply returns d's reply line: the previous decision's when every
// part of it is the same, since a fleet renders a thousand replies per
// cycle and most repeat; a freshly formatted one otherwise.
func reuseReply(d *Decision) string {
	if p := d.prev; p != nil && p.full == d.full && p.Op == d.Op && p.Admin == d.Admin && p.Weight == d.Weight && p.Maxconn == d.Maxconn && p.Description == d.Description {
		return p.Reply
	}
	return formatReply(d)
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
