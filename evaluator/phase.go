package evaluator

import (
	"strconv"
	"strings"
	"time"

	"github.com/haproxy-agent/agent/rules/ruleset"
)

// Phase says what the agent has to say to HAProxy, and so what its reply
// carries beyond the operational word.
type Phase string

// The phases of a service's reply.
const (
	// Acting: the agent wants something other than ready at 100% (a
	// drain, maint, down, another weight, a ramp), or holds a maxconn, or
	// an override pins the admin word or the weight. The reply carries
	// what it wants on every poll.
	Acting Phase = "acting"
	// Restoring: the agent stopped acting (or just started) less than
	// reply.restore_for ago, or let go of a maxconn: the reply carries
	// ready and the weight (and reply.maxconn) to undo its own action.
	Restoring Phase = "restoring"
	// Quiet: the reply is the operational word alone, so that what an
	// operator set through HAProxy's Runtime API stays in force.
	Quiet Phase = "quiet"
)

// Ramp is a weight climbing back linearly after a drain, maint or down
// ended or the weight rose: From at Since, the target To at Until.
type Ramp struct {
	From  int       `json:"from"`
	To    int       `json:"to"`
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
}

// want is what the rules and overrides of a service ask for in one
// evaluation, before the reply state decides what is said.
type want struct {
	// Action holds the words and numbers wanted; Maxconn is the limit
	// held, or ruleset.Unset. Weight is the percent wanted.
	ruleset.Action
	// abs is the absolute weight wanted, or ruleset.Unset: it wins over
	// the percent.
	abs int
	// pinned is set when an override in force sets the admin word or the
	// weight: the operator asked the agent to say it.
	pinned bool
}

// replyState is what one service's reply remembers from one evaluation to
// the next: whether it was acting, when its restore windows opened, and
// the ramp. Fleet mode keeps one per server.
type replyState struct {
	started bool
	// acting is the last evaluation's stance; calmSince is when acting
	// last ended (or the agent started), zero when no restore window is
	// open.
	acting    bool
	calmSince time.Time
	// holding is whether the last evaluation held a maxconn; releasedAt
	// is when the last hold ended (or the agent started), zero when none.
	holding    bool
	releasedAt time.Time
	// out is whether the last evaluation wanted drain, maint or down;
	// weight is the last weight the agent applied, ruleset.Unset before any.
	out    bool
	weight int
	// The ramp in progress, if ramping.
	ramping          bool
	rampFrom, rampTo int
	rampSince        time.Time

	// What the agent last told HAProxy before a restart (see resume).
	resumed, toldFull, toldMaxconn bool
	// unrestored is set, in fleet mode, while HAProxy may hold the server
	// out of rotation: a reply that stops acting carries the restore
	// until HAProxy was told it, whatever reply.restore_for says.
	unrestored bool
}

func newReplyState() replyState { return replyState{weight: ruleset.Unset} }

// resume seeds a fresh state with the reply the agent last sent before it
// restarted: a plain "up" means HAProxy holds nothing of the agent's, so no
// start-up restore is needed.
func (rs *replyState) resume(line string) {
	if rs.started {
		return
	}
	rs.resumed = true
	line, _, _ = strings.Cut(line, "#")
	told := ruleset.NewAction()
	for _, w := range strings.Fields(line) {
		op, isOp := ruleset.LookupOp(w)
		admin, isAdmin := ruleset.LookupAdmin(w)
		switch {
		case isOp:
			told.Op = op
		case isAdmin:
			told.Admin = admin
		case strings.HasPrefix(w, "maxconn:"):
			rs.toldMaxconn = true
		case strings.HasPrefix(w, "weight:"):
			rs.toldFull = true
		case strings.HasSuffix(w, "%"):
			if n, err := strconv.Atoi(strings.TrimSuffix(w, "%")); err == nil {
				told.Weight = n
			}
		}
	}
	rs.out = told.Out()
	rs.toldFull = told.Op.IsDown() || told.Admin != ruleset.NoAdmin || told.Weight != ruleset.Unset
	if told.Weight != ruleset.Unset {
		rs.weight = told.Weight
	}
}

func (rs *replyState) startRamp(now time.Time, from, to int) {
	rs.ramping, rs.rampFrom, rs.rampTo, rs.rampSince = true, from, to, now
}

// isNeutral reports whether w asks for nothing HAProxy would not do on its
// own: up (or the default), ready, 100%.
func (w *want) isNeutral() bool {
	return !w.Op.IsDown() && w.Admin == ruleset.Ready && w.Weight == 100 && w.abs == ruleset.Unset && !w.pinned
}

// apply turns what is wanted into d's reply at now, advancing the state:
// the ramp, the phase, and which parts the reply carries.
func (rs *replyState) apply(now time.Time, cfg *ruleset.Reply, usesMaxconn bool, w want, d *Decision) {
	rs.start(now, usesMaxconn)
	w.Weight = rs.ramp(now, cfg, w.Out(), w.Weight, d)
	acting := !w.isNeutral()
	restoring := rs.restoreWindow(now, cfg, acting)
	held := w.Maxconn != ruleset.Unset
	releasing := rs.releaseWindow(now, cfg, usesMaxconn, held)
	maxconn := w.Maxconn
	if releasing {
		maxconn = cfg.Maxconn
	}
	d.Op, d.Admin, d.Weight, d.Maxconn = w.Op, w.Admin, w.Weight, maxconn
	d.Absolute = w.abs != ruleset.Unset
	if d.Absolute {
		// No ramp: the agent cannot tell what percent an absolute
		// weight is of the server's own.
		d.Weight, d.Ramp = w.abs, nil
	}
	rs.setPhase(cfg, d, acting || held, restoring, releasing)
	d.full = acting || restoring
}

// start opens, on the first evaluation, the restore windows for what an
// earlier run of the agent may have left in HAProxy: everything, unless the
// reply it last sent is known (see resume) and carried no such part.
func (rs *replyState) start(now time.Time, usesMaxconn bool) {
	if rs.started {
		return
	}
	rs.started = true
	if !rs.resumed || rs.toldFull {
		rs.calmSince = now
	}
	if !rs.resumed && usesMaxconn || rs.toldMaxconn {
		rs.releasedAt = now
	}
}

// ramp returns the weight to send for target, setting d.Ramp: a weight
// climbing back after the server was out or its weight rose, so that it
// does not take a full share of traffic at once. Only the weight sent
// differs from the target; out (the server wanted out) ends any ramp.
func (rs *replyState) ramp(now time.Time, cfg *ruleset.Reply, out bool, target int, d *Decision) int {
	weight := target
	d.Ramp = nil
	switch {
	case cfg.Ramp <= 0 || out:
		rs.ramping = false
	case rs.out:
		// From min_weight, but above 0: 0% would take it out again.
		rs.startRamp(now, max(cfg.MinWeight, 1), target)
	case rs.ramping:
		rs.rampTo = max(rs.rampTo, target)
	case rs.weight != ruleset.Unset && target > rs.weight:
		rs.startRamp(now, rs.weight, target)
	}
	if rs.ramping {
		// The climb toward the highest target seen; a target under the
		// step reached ends the ramp at once (lowering never waits).
		el := now.Sub(rs.rampSince)
		step := rs.rampFrom + int(int64(rs.rampTo-rs.rampFrom)*int64(el)/int64(cfg.Ramp))
		if el >= cfg.Ramp || step >= target {
			rs.ramping = false
		} else {
			weight = step
			d.Ramp = &Ramp{From: rs.rampFrom, To: target, Since: rs.rampSince, Until: rs.rampSince.Add(cfg.Ramp)}
		}
	}
	rs.out, rs.weight = out, weight
	return weight
}

// restoreWindow records whether the agent is acting and reports whether it
// is restoring: it stopped acting less than reply.restore_for ago (or
// reply.restore_always is set), so the reply still carries ready and the
// weight to undo what it said.
func (rs *replyState) restoreWindow(now time.Time, cfg *ruleset.Reply, acting bool) (restoring bool) {
	switch {
	case acting:
		rs.calmSince = time.Time{}
	case rs.acting:
		rs.calmSince = now
	}
	rs.acting = acting
	return !acting && (cfg.RestoreAlways || rs.unrestored || !rs.calmSince.IsZero() && now.Sub(rs.calmSince) < cfg.RestoreFor)
}

// releaseWindow is restoreWindow for maxconn: it records whether a limit
// is held and reports whether the reply must still carry reply.maxconn to
// undo one the agent let go of.
func (rs *replyState) releaseWindow(now time.Time, cfg *ruleset.Reply, usesMaxconn, held bool) (releasing bool) {
	switch {
	case held:
		rs.releasedAt = time.Time{}
	case rs.holding:
		rs.releasedAt = now
	}
	rs.holding = held
	return !held && (cfg.RestoreAlways && (usesMaxconn || !rs.releasedAt.IsZero()) ||
		!rs.releasedAt.IsZero() && now.Sub(rs.releasedAt) < cfg.RestoreFor)
}

// setPhase sets d.Phase and, while restoring, d.QuietAt: when the last
// open restore window closes and the reply goes quiet (never, with
// reply.restore_always). acting includes holding a maxconn.
func (rs *replyState) setPhase(cfg *ruleset.Reply, d *Decision, acting, restoring, releasing bool) {
	d.QuietAt = time.Time{}
	switch {
	case acting:
		d.Phase = Acting
	case restoring || releasing:
		d.Phase = Restoring
		if cfg.RestoreAlways {
			return
		}
		if restoring {
			d.QuietAt = rs.calmSince.Add(cfg.RestoreFor)
		}
		if releasing {
			if t := rs.releasedAt.Add(cfg.RestoreFor); t.After(d.QuietAt) {
				d.QuietAt = t
			}
		}
	default:
		d.Phase = Quiet
	}
}
