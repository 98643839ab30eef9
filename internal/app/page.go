package app

import (
	"context"
	"math"
	"strings"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/override"
	"github.com/haproxy-agent/agent/internal/statuspage"
)

// targetKind is what a decision answers for on the status page.
const targetKind = "service"

// record feeds the status page's history with one evaluation: every
// metric's value, every service's weight, the reply changes and the
// sources' errors. It runs on the loop goroutine.
func (a *agent) record(st *Status, changes []statuspage.Change) {
	samples := make([]statuspage.Sample, 0, len(st.Metrics)+len(st.Services))
	for _, m := range st.Metrics {
		v := math.NaN()
		if m.Value != nil {
			v = *m.Value
		}
		samples = append(samples, statuspage.Sample{Key: statuspage.MetricKey(m.Name), Value: v})
	}
	for _, d := range st.Services {
		samples = append(samples, statuspage.Sample{Key: statuspage.WeightKey(targetKind, d.Service), Value: float64(d.Weight)})
	}
	a.history.Record(st.EvaluatedAt, samples)
	for _, c := range changes {
		a.history.AddChange(c)
	}
	for _, s := range st.Sources {
		if !s.Up {
			a.history.NoteSourceError(s.Name, st.EvaluatedAt, s.LastError)
		}
	}
}

// why names what made a reply: its overrides and firing rules.
func why(d *evaluator.Decision) string {
	var parts []string
	for _, o := range d.Overrides {
		parts = append(parts, "override: "+o.Reason)
	}
	parts = append(parts, d.Firing...)
	if len(parts) == 0 {
		return "no rule fires"
	}
	return strings.Join(parts, "; ")
}

// page builds the status page's data from the published state.
func (a *agent) page() *statuspage.Page {
	st := a.status.Load()
	now := a.clock.Now()
	p := &statuspage.Page{
		Now:         now,
		RulesFile:   st.RulesFile,
		RulesHash:   st.RulesHash,
		EvaluatedAt: st.EvaluatedAt,
	}
	if rs := a.reloadState.Load(); rs != nil {
		p.Reload = statuspage.Reload{OK: rs.Success, Time: rs.Time, SuccessTime: rs.SuccessTime, Errors: rs.Errors}
	}
	if err := a.overrides.LoadError(); err != nil {
		p.Notes = append(p.Notes, "The state file could not be read and was moved aside; the overrides it held are no longer in force: "+err.Error())
	}
	for _, d := range st.Services {
		p.Targets = append(p.Targets, statuspage.FromDecision(targetKind, d, now))
	}
	p.Targets = append(p.Targets, fleetTargets(st, now)...)
	for _, s := range st.Sources {
		ps := statuspage.Source{
			Name: s.Name, Kind: s.Kind, Up: s.Up, Duration: time.Duration(s.DurationSeconds * float64(time.Second)),
			LastSuccess: s.LastSuccess, LastError: s.LastError,
		}
		if e, ok := a.history.LastSourceError(s.Name); ok {
			ps.LastError, ps.LastErrorTime = e.Err, e.Time
		}
		p.Sources = append(p.Sources, ps)
	}
	queries := make(map[string]string, len(st.file.Metrics))
	for _, m := range st.file.Metrics {
		q := m.Selector
		if m.Query != "" {
			q = m.Query
		}
		queries[m.Name] = q
	}
	for _, m := range st.Metrics {
		pm := statuspage.Metric{Name: m.Name, Source: m.Source, Query: queries[m.Name],
			Age: time.Duration(m.AgeSeconds * float64(time.Second)), Missing: m.Missing, Servers: m.Servers}
		if m.Value != nil {
			pm.Value = *m.Value
		}
		p.Metrics = append(p.Metrics, pm)
	}
	for _, o := range a.overrides.List(now) {
		p.Overrides = append(p.Overrides, statuspage.Override{
			ID: o.ID, Service: o.Service, Action: o.Action.String(), Reason: o.Reason, Created: o.Created, Expires: o.Expires,
		})
	}
	if st.file.Fleet != nil {
		// An override may name one server.
		for _, d := range st.Servers {
			p.ServiceNames = append(p.ServiceNames, d.Server)
		}
	} else if len(st.file.Services) > 1 {
		for _, s := range st.file.Services {
			p.ServiceNames = append(p.ServiceNames, s.Name)
		}
	}
	return p
}

// pageOverrides lets the status page's forms change the overrides; each
// change returns once the reply carries it, as through the API.
type pageOverrides struct{ a *agent }

func (p pageOverrides) Add(ctx context.Context, req statuspage.AddRequest) error {
	o, ttl, err := override.AddRequest(req).Parse()
	if err == nil {
		_, err = p.a.overrides.Add(o, ttl)
	}
	if err != nil {
		return err
	}
	p.a.reevaluate(ctx)
	return nil
}

func (p pageOverrides) Remove(ctx context.Context, id string) error {
	if _, err := p.a.overrides.Remove(id); err != nil {
		return err
	}
	p.a.reevaluate(ctx)
	return nil
}

func (p pageOverrides) Clear(ctx context.Context) error {
	if _, err := p.a.overrides.Clear(); err != nil {
		return err
	}
	p.a.reevaluate(ctx)
	return nil
}
