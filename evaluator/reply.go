package evaluator

import (
	"strconv"
	"strings"
	"time"

	"github.com/haproxy-agent/agent/rules/ruleset"
)

// MaxDescription is the longest description HAProxy keeps; longer ones are
// cut here so that what the agent shows is what HAProxy shows.
const MaxDescription = 127

// MaxReplyLen is the longest reply line the agent sends, newline left
// out: every part at its longest (an override's maxconn may be any int),
// then a description of MaxDescription bytes.
const MaxReplyLen = len("stopped maint 256% maxconn:-9223372036854775808 #") + MaxDescription

// noneFiring is an empty list shared by every decision (appending to it
// allocates a new one), so that JSON shows [] rather than null.
var noneFiring = []string{}

// decide combines the firing rules of one service and the overrides in
// force into what the agent wants, then lets the service's reply state
// decide what d's reply says.
//
// target is the name overrides are matched against besides the service's:
// in fleet mode the server's. hold, when set, is why the rules may not take
// the server out of rotation (the guardrail): their op and admin words give
// way to up and ready, and hold leads the description. It reports whether
// an override in force takes the server out of rotation.
func (e *Evaluator) decide(now time.Time, svc *ruleset.Service, d *Decision, overrides *overrideSet, rs *replyState, target, hold string) (overrideOut bool) {
	w := e.combineRules(svc, d)
	if hold != "" {
		// Held in rotation, and a weight of 0% is out too: hold it at
		// min_weight, but above 0.
		w.Op, w.Admin = ruleset.Up, ruleset.Ready
		w.Weight = max(w.Weight, e.file.Reply.MinWeight, 1)
	}
	applied := overrides.forTarget(now, svc.Name, target)
	d.Overrides = applied.in
	ov := applied.ov
	w.overlay(ov)
	d.Description = e.describe(svc, d, applied, hold)

	w.Weight = min(w.Weight, ruleset.MaxWeight)
	// A held server says up ready at its weight on every poll.
	w.pinned = ov.Admin != ruleset.NoAdmin || ov.Weight != ruleset.Unset || ov.abs != ruleset.Unset || hold != ""
	rs.apply(now, &e.file.Reply, svc.UsesMaxconn, w, d)
	d.Reply = reuseReply(d)
	return ov.Out()
}

// overrideSet is the overrides of one evaluation, sorted out once: those
// that apply to everything are combined once and shared by every decision
// they apply to, so that overrides for all servers cost a fleet one
// combination per evaluation, not one per server.
type overrideSet struct {
	all []Override
	// wide is what applies to a target no override names: the overrides
	// for everything (Service ""; in fleet mode also the default
	// service's name, which every server answers for).
	wide applied
	// named holds the names overrides give, for the targets that need a
	// combination of their own.
	named map[string]bool
	// wideName is the service name that counts as everything, or "".
	wideName  string
	defWeight int
}

// applied is the overrides in force for one target and what they combine
// to: the parts of the reply they set, the description parts naming them,
// and the description they make alone.
type applied struct {
	in    []Override
	ov    want
	parts []string
	desc  string
}

// newOverrideSet sorts out the overrides in force at now. wideName is the
// service every target answers for (fleet mode), or "".
func newOverrideSet(now time.Time, overrides []Override, wideName string, defWeight int) *overrideSet {
	s := &overrideSet{all: overrides, wideName: wideName, defWeight: defWeight}
	wide := make([]Override, 0, len(overrides))
	for _, o := range overrides {
		if !o.Expires.IsZero() && !now.Before(o.Expires) {
			continue
		}
		if o.Service == "" || o.Service == wideName && wideName != "" {
			wide = append(wide, o)
			continue
		}
		if s.named == nil {
			s.named = make(map[string]bool)
		}
		s.named[o.Service] = true
	}
	if len(wide) == len(overrides) {
		wide = overrides // all of them: no copy (the caller's slice is not changed)
	}
	if len(wide) == 0 {
		wide = nil
	}
	s.wide = combined(wide, defWeight)
	return s
}

// forTarget returns the overrides that apply to the service named svc
// (and target, the fleet server), combined: the shared combination of
// the overrides for everything unless one names either.
func (s *overrideSet) forTarget(now time.Time, svc, target string) applied {
	if !s.named[target] && (svc == s.wideName || !s.named[svc]) {
		return s.wide
	}
	return combined(inForce(now, s.all, svc, target), s.defWeight)
}

// combined combines in and names the overrides that set a part of the
// reply, for the description.
func combined(in []Override, defWeight int) applied {
	ov, ready := combineOverrides(in, defWeight)
	parts := overrideParts(in, ov, ready)
	return applied{in: in, ov: ov, parts: parts, desc: description(parts)}
}

// combineRules lists the firing rules of svc in d.Firing and combines what
// they ask for, part by part, falling back on reply.default for a part no
// rule sets. Combining does not depend on rule order (maint over drain
// over ready, the lowest weight, the lowest real maxconn), except that the
// first down-type rule in file order names the operational word. maxconn
// stays ruleset.Unset when no rule sets one.
func (e *Evaluator) combineRules(svc *ruleset.Service, d *Decision) want {
	def := e.file.Reply.Default
	w := want{Action: ruleset.NewAction(), abs: ruleset.Unset}
	d.Firing = noneFiring
	for j, r := range svc.Rules {
		rr := &d.Rules[j]
		if !e.counts(r, rr, d) {
			continue
		}
		if rr.State == Firing {
			d.Firing = append(d.Firing, r.Name)
		}
		a := r.Action
		if a.Op.IsDown() && w.Op == ruleset.NoOp {
			w.Op = a.Op
		}
		if a.Admin > w.Admin {
			w.Admin = a.Admin
		}
		if a.Absolute {
			w.abs = minWeight(w.abs, a.Weight)
		} else if rw := e.ruleWeight(r, rr); rw != ruleset.Unset {
			w.Weight = minWeight(w.Weight, rw)
		}
		w.Maxconn = minMaxconn(w.Maxconn, a.Maxconn)
	}
	if w.Op == ruleset.NoOp {
		w.Op = def.Op
	}
	if w.Admin == ruleset.NoAdmin {
		w.Admin = def.Admin
	}
	if w.Weight == ruleset.Unset {
		w.Weight = def.Weight
	}
	return w
}

// counts reports whether rule r's action is part of d: it is firing, or
// d keeps a server out after a restart (see Resume) and r would take it
// out and has not let go.
func (e *Evaluator) counts(r *ruleset.Rule, rr *RuleResult, d *Decision) bool {
	if rr.State == Firing {
		return true
	}
	return d.kept && e.takesOut(r, rr) && (rr.State == Pending || rr.Outcome == Unknown && r.OnMissing == ruleset.Keep)
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
// by part; a part none sets stays empty or ruleset.Unset so that the rules
// keep it. ready means "ignore the rules' admin word and weight" and loses
// to any other override's admin word; when it counts, it
// restores the default weight unless an override sets one. ready reports
// whether it counts.
func combineOverrides(in []Override, defWeight int) (ov want, ready bool) {
	ov.Weight, ov.abs, ov.Maxconn = ruleset.Unset, ruleset.Unset, ruleset.Unset
	for _, o := range in {
		if o.Action.Admin == ruleset.Ready {
			ready = true
		} else if o.Action.Admin > ov.Admin {
			ov.Admin = o.Action.Admin
		}
	}
	ready = ready && ov.Admin == ruleset.NoAdmin
	for _, o := range in {
		a := o.Action
		if a.Admin == ruleset.Ready && !ready {
			continue
		}
		switch {
		case a.Op.IsDown() && !ov.Op.IsDown():
			ov.Op = a.Op
		case a.Op != ruleset.NoOp && ov.Op == ruleset.NoOp:
			ov.Op = a.Op
		}
		if a.Absolute {
			ov.abs = minWeight(ov.abs, a.Weight)
		} else if a.Weight != ruleset.Unset {
			ov.Weight = minWeight(ov.Weight, a.Weight)
		}
		ov.Maxconn = minMaxconn(ov.Maxconn, a.Maxconn)
	}
	if ready {
		ov.Admin = ruleset.Ready
		if ov.Weight == ruleset.Unset && ov.abs == ruleset.Unset {
			ov.Weight = defWeight
		}
	}
	return ov, ready
}

// overlay lets the overrides win over the rules, part by part: each part
// ov sets replaces w's. The weight is one part, percent or absolute: an
// override setting either replaces both of the rules'.
func (w *want) overlay(ov want) {
	if ov.Op != ruleset.NoOp {
		w.Op = ov.Op
	}
	if ov.Admin != ruleset.NoAdmin {
		w.Admin = ov.Admin
	}
	if ov.Weight != ruleset.Unset || ov.abs != ruleset.Unset {
		w.abs = ov.abs
		if ov.Weight != ruleset.Unset {
			w.Weight = ov.Weight
		}
	}
	if ov.Maxconn != ruleset.Unset {
		w.Maxconn = ov.Maxconn
	}
}

// describe names what is in force, so that an operator reading HAProxy's
// stats page sees why: hold first, then the overrides that set a part of
// the reply, then the firing rules not wholly overridden. ov is
// d.Overrides combined.
func (e *Evaluator) describe(svc *ruleset.Service, d *Decision, ov applied, hold string) string {
	var ruleParts []string
	for j, r := range svc.Rules {
		if !e.counts(r, &d.Rules[j], d) {
			continue
		}
		a := r.Action
		if a.Op != ruleset.NoOp && ov.ov.Op == ruleset.NoOp || a.Admin != ruleset.NoAdmin && ov.ov.Admin == ruleset.NoAdmin ||
			(a.Absolute || e.ruleWeight(r, &d.Rules[j]) != ruleset.Unset) && ov.ov.Weight == ruleset.Unset && ov.ov.abs == ruleset.Unset ||
			a.Maxconn != ruleset.Unset && ov.ov.Maxconn == ruleset.Unset {
			ruleParts = append(ruleParts, r.Label())
		}
	}
	if hold == "" && !d.kept && len(ruleParts) == 0 {
		return ov.desc // the overrides' alone, made once for all they apply to
	}
	parts := make([]string, 0, 2+len(ov.parts)+len(ruleParts))
	if hold != "" {
		parts = append(parts, hold)
	}
	parts = append(parts, ov.parts...)
	if d.kept {
		parts = append(parts, "out before restart")
	}
	return description(append(parts, ruleParts...))
}

// overrideParts names, for the description, the overrides of in that set
// a part of ov (what combineOverrides made of in, with ready): only as
// many as the description can show.
func overrideParts(in []Override, ov want, ready bool) []string {
	var parts []string
	n := 0
	for _, o := range in {
		a := o.Action
		if a.Admin == ruleset.Ready && !ready {
			continue
		}
		if a.Op != ruleset.NoOp && a.Op == ov.Op || a.Admin != ruleset.NoAdmin && a.Admin == ov.Admin ||
			a.Weight != ruleset.Unset && (a.Absolute && a.Weight == ov.abs || !a.Absolute && a.Weight == ov.Weight) ||
			a.Maxconn != ruleset.Unset && a.Maxconn == ov.Maxconn {
			p := "override: " + o.Reason
			parts = append(parts, p)
			if n += len(p) + 2; n > MaxDescription {
				break // the rest would be cut
			}
		}
	}
	return parts
}

// reuseReply returns d's reply line: the previous decision's when every
// part of it is the same, since a fleet renders a thousand replies per
// cycle and most repeat; a freshly formatted one otherwise.
func reuseReply(d *Decision) string {
	if p := d.prev; p != nil && p.full == d.full && p.Op == d.Op && p.Admin == d.Admin && p.Weight == d.Weight && p.Absolute == d.Absolute && p.Maxconn == d.Maxconn && p.Description == d.Description {
		return p.Reply
	}
	return formatReply(d)
}

// minWeight combines two weights of one kind: the lower wins; ruleset.Unset
// is none.
func minWeight(a, b int) int {
	if a == ruleset.Unset || b != ruleset.Unset && b < a {
		return b
	}
	return a
}

// ruleWeight is the weight percent a firing rule asks for, floored at
// min_weight, or ruleset.Unset (also for an absolute weight).
func (e *Evaluator) ruleWeight(r *ruleset.Rule, rr *RuleResult) int {
	if r.Action.Absolute {
		return ruleset.Unset
	}
	w := r.Action.Weight
	if r.Weight != nil {
		w = int(rr.Weight)
	}
	if w == ruleset.Unset {
		return w
	}
	return max(w, e.file.Reply.MinWeight)
}

// minMaxconn combines two maxconn limits: the lower wins, except that 0
// (unlimited) is no limit and loses to any real one.
func minMaxconn(a, b int) int {
	switch {
	case a == ruleset.Unset || a == 0 && b != ruleset.Unset:
		return b
	case b == ruleset.Unset || b == 0:
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
// the weight only while acting or restoring; an absolute weight is
// weight:N in place of WEIGHT%.
func formatReply(d *Decision) string {
	b := make([]byte, 0, 32+len(d.Description))
	b = append(b, d.Op.String()...)
	if d.full {
		b = append(b, ' ')
		b = append(b, d.Admin.String()...)
		b = append(b, ' ')
		if d.Absolute {
			b = append(b, "weight:"...)
		}
		b = strconv.AppendInt(b, int64(d.Weight), 10)
		if !d.Absolute {
			b = append(b, '%')
		}
	}
	if d.Maxconn != ruleset.Unset {
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
