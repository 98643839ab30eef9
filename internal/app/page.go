package app

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/override"
	"github.com/haproxy-agent/agent/internal/statuspage"
	"github.com/haproxy-agent/agent/rules"
)

// targetKind is what a decision answers for on the status page.
const targetKind = "service"

// record feeds the status page's history with one evaluation: every
// metric's value, every service's weight and state, each reply and since
// when it is so, the reply changes and the sources' errors. It runs on
// the loop goroutine.
func (a *agent) record(st *Status, changes []statuspage.Change) {
	samples := make([]statuspage.Sample, 0, len(st.Metrics)+2*len(st.Services))
	for _, m := range st.Metrics {
		v := math.NaN()
		if m.Value != nil {
			v = *m.Value
		}
		samples = append(samples, statuspage.Sample{Key: statuspage.MetricKey(m.Name), Value: v})
	}
	for _, d := range st.Services {
		samples = append(samples,
			statuspage.Sample{Key: statuspage.WeightKey(targetKind, d.Service), Value: float64(d.Weight)},
			statuspage.Sample{Key: statuspage.StateKey(targetKind, d.Service), Value: float64(statuspage.StateOf(d))})
	}
	a.history.Record(st.EvaluatedAt, samples)
	a.history.NoteReplies(st.EvaluatedAt, func(yield func(string, string) bool) {
		for _, ds := range [2][]*evaluator.Decision{st.Services, st.Servers} {
			for _, d := range ds {
				name := d.Service
				if d.Server != "" {
					name = d.Server
				}
				if !yield(name, d.Reply) {
					return
				}
			}
		}
	})
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
	for i, o := range d.Overrides {
		if i == statuspage.MaxNamedOverrides {
			parts = append(parts, strconv.Itoa(len(d.Overrides)-i)+" more overrides")
			break
		}
		parts = append(parts, "override: "+o.Reason)
	}
	parts = append(parts, d.Firing...)
	if len(parts) == 0 {
		return "no rule fires"
	}
	return strings.Join(parts, "; ")
}

// hostname is the machine's name, shown in the status page's title.
var hostname = sync.OnceValue(func() string {
	h, _ := os.Hostname()
	return h
})

// pages builds the status page's data. What is costly and the same for
// every load (the fleet's table, the rules' thresholds) is built once per
// evaluation, on the first load after it, and shared by every load until
// the next: no load copies the fleet.
type pages struct {
	a *agent

	mu   sync.Mutex
	snap *pageSnapshot
}

// pageSnapshot is what the page shows of one evaluation (one Status). It
// knows the Status by a weak pointer: a snapshot kept after a new
// evaluation must not keep the old one's decisions alive.
type pageSnapshot struct {
	st         weak.Pointer[Status]
	file       *rules.File
	fleet      *statuspage.Fleet
	thresholds map[string][]statuspage.Threshold
}

// snapshot returns the shared part of the page for st, building it when st
// is new; loads that come meanwhile wait for it rather than build it too.
func (p *pages) snapshot(st *Status) *pageSnapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.snap != nil && p.snap.st == weak.Make(st) {
		return p.snap
	}
	s := &pageSnapshot{st: weak.Make(st), file: st.file}
	if p.snap != nil && p.snap.file == st.file {
		s.thresholds = p.snap.thresholds
	} else {
		s.thresholds = statuspage.Thresholds(st.file)
	}
	if st.file.Fleet != nil {
		s.fleet = statuspage.NewFleet(st.Servers, st.Guardrail, st.EvaluatedAt, p.a.history.Since)
	}
	p.snap = s
	return s
}

// page builds the status page's data from the published state, with the
// card of the fleet server asked for.
func (p *pages) page(server string) *statuspage.Page {
	a := p.a
	st := a.status.Load()
	snap := p.snapshot(st)
	now := a.clock.Now()
	pg := &statuspage.Page{
		Now:         now,
		Host:        hostname(),
		RulesFile:   st.RulesFile,
		RulesHash:   st.RulesHash,
		EvaluatedAt: st.EvaluatedAt,
		Fleet:       snap.fleet,
	}
	if rs := a.reloadState.Load(); rs != nil {
		pg.Reload = statuspage.Reload{OK: rs.Success, Time: rs.Time, SuccessTime: rs.SuccessTime, Errors: rs.Errors}
	}
	if g := st.Group; g != nil {
		pg.Group = &statuspage.Group{ID: g.ID, Leader: g.Leader, Up: g.Up, Error: g.Error, IsLeader: g.IsLeader,
			Replicas: g.Replicas, OutSet: g.OutSet, Revision: g.Revision, PublishedAt: g.PublishedAt}
		if !g.Up {
			pg.Notes = append(pg.Notes, "etcd is unreachable: this replica keeps the last out-set and overrides it read, lets no further server out, and refuses new overrides until etcd is back ("+g.Error+")")
		}
	}
	if err := a.overrides.LoadError(); err != nil {
		pg.Notes = append(pg.Notes, "The state file could not be read and was moved aside; the overrides it held are no longer in force: "+err.Error())
	}
	for _, d := range st.Services {
		pg.Targets = append(pg.Targets, statuspage.FromDecision(targetKind, d, now))
	}
	if snap.fleet != nil && server != "" {
		pg.Asked = server
		if t, ok := fleetCard(st, server, now); ok {
			pg.Targets = append(pg.Targets, t)
		}
	}
	for i := range pg.Targets {
		t := &pg.Targets[i]
		t.Since, t.SinceStart, _ = a.history.Since(t.Name)
	}
	for _, s := range st.Sources {
		ps := statuspage.Source{
			Name: s.Name, Kind: s.Kind, Up: s.Up, Duration: time.Duration(s.DurationSeconds * float64(time.Second)),
			LastSuccess: s.LastSuccess, LastError: s.LastError,
		}
		if e, ok := a.history.LastSourceError(s.Name); ok {
			ps.LastError, ps.LastErrorTime = e.Err, e.Time
		}
		pg.Sources = append(pg.Sources, ps)
	}
	pg.HAProxy, pg.HAProxyNote = haproxyRows(st)
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
			Age: time.Duration(m.AgeSeconds * float64(time.Second)), Missing: m.Missing, Servers: m.Servers,
			Thresholds: snap.thresholds[m.Name]}
		if m.Value != nil {
			pm.Value = *m.Value
		}
		pg.Metrics = append(pg.Metrics, pm)
	}
	for _, o := range a.overrides.List(now) {
		pg.Overrides = append(pg.Overrides, statuspage.Override{
			ID: o.ID, Service: o.Service, Action: o.Action.String(), Reason: o.Reason, Created: o.Created, Expires: o.Expires,
		})
	}
	switch {
	case st.file.Fleet != nil && server != "" && len(pg.Targets) > 0:
		// An override may name one server: the one whose card is shown
		// (the form would list the whole fleet otherwise).
		pg.ServiceNames = []string{server}
	case st.file.Fleet == nil && len(st.file.Services) > 1:
		for _, s := range st.file.Services {
			pg.ServiceNames = append(pg.ServiceNames, s.Name)
		}
	}
	return pg
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

// maxHAProxyRows is how many servers the page lists in HAProxy's view
// before it lists only those that drift.
const maxHAProxyRows = 100

// haproxyRows is HAProxy's view for the page: every server, or in a large
// fleet the drifting ones only, and each HAProxy that cannot be read.
func haproxyRows(st *Status) ([]statuspage.HAProxyServer, string) {
	var rows []statuspage.HAProxyServer
	total := 0
	for _, h := range st.HAProxy {
		total += len(h.Servers)
	}
	onlyDrift := total > maxHAProxyRows
	for _, h := range st.HAProxy {
		if !h.Up {
			rows = append(rows, statuspage.HAProxyServer{HAProxy: h.Address, Error: h.Error})
		}
		for _, s := range h.Servers {
			if onlyDrift && !s.Drift {
				continue
			}
			rows = append(rows, statuspage.HAProxyServer{
				HAProxy: h.Address, Proxy: s.Proxy, Server: s.Server.Server, Target: s.Target, Reply: strings.TrimSuffix(s.Reply, "\n"),
				Status: s.Status, Weight: s.Weight, AgentStatus: s.AgentStatus, LastAgent: s.LastAgent, Drift: s.Drift, Cause: s.Cause,
			})
		}
	}
	note := ""
	if onlyDrift {
		note = fmt.Sprintf("%d servers: only those that drift are listed; /status has them all.", total)
	}
	return rows, note
}
