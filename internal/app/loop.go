package app

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/cycle"
	"github.com/haproxy-agent/agent/internal/reload"
	"github.com/haproxy-agent/agent/internal/statuspage"
	"github.com/haproxy-agent/agent/rules"
)

// loop is the one goroutine that owns the evaluator: it evaluates every
// interval, takes over reloaded rule sets, and re-evaluates at once when
// the operator overrides change.
func (a *agent) loop(ctx context.Context) {
	interval := a.current().file.Interval
	ticker := a.clock.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
			a.cycle(ctx)
		case s := <-a.swaps:
			old := a.current()
			s.rs.coll.Carry(old.coll)
			a.eval = a.eval.Reload(s.rs.file)
			a.loaded.Store(s.rs)
			a.log.Info("rule file reloaded", "trigger", s.why, "file", s.name, "rules", s.rs.file.RuleCount(), "hash", s.rs.file.Hash[:12])
			old.coll.Close()
			if iv := s.rs.file.Interval; iv != interval {
				interval = iv
				ticker.Reset(interval)
				a.history.SetStep(interval)
			}
			a.cycle(ctx)
			close(s.done)
		case done := <-a.kicks:
			a.evaluate(a.clock.Now(), 0)
			close(done)
		case <-a.overrides.Changed():
			// An override expired (changes made through the API kick).
			a.evaluate(a.clock.Now(), 0)
		case <-a.groupChanged:
			// A new out-set, leadership, or etcd lost or back.
			a.evaluate(a.clock.Now(), 0)
		}
	}
}

// reevaluate has the loop evaluate again over the last values read and
// waits until the result is published.
func (a *agent) reevaluate(ctx context.Context) {
	done := make(chan struct{})
	select {
	case a.kicks <- done:
	case <-ctx.Done():
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// cycle reads every source once and evaluates. A cycle that overruns the
// interval makes the ticker drop the ticks it covered: those cycles are
// skipped, never stacked, and counted.
func (a *agent) cycle(ctx context.Context) {
	rs := a.current()
	now, start := a.clock.Now(), time.Now()
	a.lastSnap = rs.coll.Collect(ctx, now)
	if ctx.Err() != nil {
		return
	}
	for _, s := range a.lastSnap.Sources {
		// Every source's counter exists from its first read, so that
		// rate() over it works before the first error.
		errs := a.metrics.readErrors.WithLabelValues(s.Name)
		if !s.Up {
			errs.Inc()
		}
		// Log a source going down or coming back once, not every cycle.
		if prev, seen := a.sourceUp[s.Name]; !seen && !s.Up || seen && prev != s.Up {
			if s.Up {
				a.log.Info("source is back", sourceKey, s.Name)
			} else {
				a.log.Warn("source read failed; its metrics keep their last good value until stale_after", sourceKey, s.Name, "err", s.Err)
			}
		}
		a.sourceUp[s.Name] = s.Up
	}
	a.logStale()
	took := time.Since(start)
	a.evaluate(now, took)
	if over := took / rs.file.Interval; over > 0 {
		a.metrics.skipped.Add(float64(over))
		a.log.Warn("evaluation cycle overran the interval; skipping cycles", "took", took, "interval", rs.file.Interval, "skipped", int(over))
	}
}

// evaluate runs the rules over the last snapshot and publishes the result
// to every publisher.
func (a *agent) evaluate(now time.Time, collectTook time.Duration) {
	rs := a.current()
	start := time.Now()
	if rs.file.Fleet != nil {
		a.polls.reportPolls(now, a.eval)
	}
	if fl := rs.file.Fleet; fl != nil && fl.CountsAll && a.view != nil {
		a.eval.SetOutside(a.view.Outside())
	}
	a.lastGate = a.gate()
	res := cycle.Run(a.eval, now, a.lastSnap, a.servers(rs.file), a.overrides.Active(now))
	a.took = cycleTook{collect: collectTook, evaluate: time.Since(start)}
	a.publish(res)
}

// recordReplies logs the reply changes of res and records them in the
// state file, and keeps the changes for publishStatus.
func (a *agent) recordReplies(res *evaluator.Result) {
	rs := a.current()
	var changes []statuspage.Change
	fleetChanged := false
	if rs.file.Fleet != nil {
		changes, fleetChanged = a.fleetChanges(res)
	}
	for _, d := range res.Services {
		if prev, ok := a.replies[d.Service]; !ok || prev != d.Reply {
			a.log.Info("reply changed", "service", d.Service, "from", trimNL(prev), "to", trimNL(d.Reply), "firing", strings.Join(d.Firing, ", "), "phase", d.Phase)
			a.replies[d.Service] = d.Reply
			changes = append(changes, statuspage.Change{
				Time: res.Time, Target: d.Service, From: trimNL(prev), To: trimNL(d.Reply), Why: why(d),
			})
		}
	}
	if len(changes) > 0 || fleetChanged {
		a.saveReplies(res)
	}
	a.changes = changes
}

// publishStatus publishes res to /status, /metrics and the status page,
// with the reply changes recordReplies found.
func (a *agent) publishStatus(res *evaluator.Result) {
	rs := a.current()
	changes := a.changes
	a.changes = nil
	st := newStatus(rs.file, res, a.lastSnap, a.took.evaluate, a.took.collect)
	if a.group != nil {
		gs := a.group.Status()
		st.Group = &gs
	}
	a.record(st, changes)
	if a.view != nil {
		// As last read: the view reads HAProxy every interval too.
		st.HAProxy = a.view.Status()
		if pushBackend(rs.file) != "" {
			st.Push = a.pusher.Status()
		}
	}
	a.status.Store(st)
	a.statusJSON.drop(st)
	a.metrics.evaluated(a.took.evaluate + a.took.collect)
}

// saveReplies records in the state file what HAProxy is now told, so that
// a restarted agent knows whether a start-up restore is needed. A failed
// write is logged: the agent keeps serving.
func (a *agent) saveReplies(res *evaluator.Result) {
	told := make(map[string]string, len(res.Services)+len(res.Servers))
	for _, d := range res.Services {
		told[d.Service] = trimNL(d.Reply)
	}
	// In fleet mode, by server (Evaluator.Resume takes them so), with
	// the servers HAProxy may hold out and why.
	var outBy map[string]string
	for _, d := range res.Servers {
		told[d.Server] = trimNL(d.Reply)
		if d.OutBy != "" {
			if outBy == nil {
				outBy = map[string]string{}
			}
			outBy[d.Server] = d.OutBy
		}
	}
	if err := a.overrides.SaveReplies(told, outBy); err != nil {
		a.log.Error("cannot record the replies in the state file; a restart may restore more than needed", "err", err)
	}
}

// sourceKey is the log key of a source's name: promslog's own "source" is
// the code location, and a clash renames ours to "logged_source".
const sourceKey = "source_name"

// logStale logs a metric going stale (its last good value outlived
// stale_after) once, and its return once, not every cycle.
func (a *agent) logStale() {
	for _, m := range a.lastSnap.Metrics {
		// A missing metric with an age had a good value that expired.
		stale := m.Missing != "" && m.Age > 0
		switch {
		case stale && !a.stale[m.Name]:
			a.log.Warn("metric is stale: its last good value is older than stale_after", "metric", m.Name, sourceKey, m.Source, "age", m.Age.Round(time.Millisecond), "reason", m.Missing)
		case !stale && a.stale[m.Name] && m.Missing == "":
			a.log.Info("metric has a value again", "metric", m.Name, sourceKey, m.Source)
		case !stale && m.Missing != "":
			continue // still missing, now for another reason: keep the flag
		}
		a.stale[m.Name] = stale
	}
}

func trimNL(s string) string {
	if n := len(s); n > 0 && s[n-1] == '\n' {
		return s[:n-1]
	}
	return s
}

// watch turns file changes and SIGHUP into reloads until ctx is done.
func (a *agent) watch(ctx context.Context) error {
	if a.o.RulesPath == "" {
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-a.o.Reload:
				a.log.Info("ignoring SIGHUP: the built-in rule file does not change")
			}
		}
	}
	w, err := reload.New(a.o.RulesPath, reload.Options{
		Debounce: a.o.ReloadDebounce,
		Recheck:  a.o.ReloadRecheck,
		Read:     rules.ReadFile,
		Logger:   a.log,
	})
	if err != nil {
		return err
	}
	w.Loaded(a.current().file.Hash)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		if err := w.Run(ctx); err != nil {
			a.log.Error("rule file watcher stopped; reload with SIGHUP", "err", err)
		}
	})
	for {
		var why string
		select {
		case <-ctx.Done():
			return nil
		case <-w.Events():
			why = "file changed"
		case <-a.o.Reload:
			why = "SIGHUP"
		}
		hash, _ := a.reload(ctx, why)
		if ctx.Err() != nil {
			return nil
		}
		// Even "" (nothing could be read): the file coming back, unchanged
		// or not, must then be loaded, and its failure cleared.
		w.Loaded(hash)
	}
}
