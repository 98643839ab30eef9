package app

import (
	"net/http"
	"sync"
	"time"
	"weak"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/collect"
	"github.com/haproxy-agent/agent/internal/decisionjson"
	"github.com/haproxy-agent/agent/internal/haproxypush"
	"github.com/haproxy-agent/agent/internal/haproxyview"
	"github.com/haproxy-agent/agent/internal/jsonout"
	"github.com/haproxy-agent/agent/internal/replica"
	"github.com/haproxy-agent/agent/rules"
)

// Status is the document /status serves: what the agent replies and why.
// Its field names are stable: scripts may rely on them.
type Status struct {
	RulesFile   string    `json:"rules_file"`
	RulesHash   string    `json:"rules_hash"`
	EvaluatedAt time.Time `json:"evaluated_at"`
	// CollectSeconds and EvaluateSeconds are how long the last cycle took
	// to read the sources and to run the rules.
	CollectSeconds  float64       `json:"collect_seconds"`
	EvaluateSeconds float64       `json:"evaluate_seconds"`
	Reload          *ReloadStatus `json:"reload"`
	// OverrideStateError is why the state file was moved aside at start,
	// if it was: the overrides it held are no longer in force.
	OverrideStateError string                 `json:"override_state_error,omitempty"`
	Services           decisionjson.Decisions `json:"services"`
	// Servers, in fleet mode, holds each server's decision, by name.
	Servers decisionjson.Decisions `json:"servers,omitempty"`
	// Overrides, in fleet mode, are the overrides in force for every
	// server, listed once; each server lists those naming it.
	Overrides []evaluator.Override `json:"overrides,omitempty"`
	// Guardrail is the fleet's max_unavailable at work.
	Guardrail *evaluator.Guardrail `json:"guardrail,omitempty"`
	// Discovery is the fleet's discovery query as last read.
	Discovery *collect.MetricValue `json:"discovery,omitempty"`
	Metrics   []MetricStatus       `json:"metrics"`
	Sources   []SourceStatus       `json:"sources"`
	// HAProxy is, with --haproxy.runtime-api, each HAProxy's view of the
	// servers that answer to this agent, beside their reply, with drift.
	HAProxy []haproxyview.HAProxyStatus `json:"haproxy,omitempty"`
	// Push is, in push mode, each HAProxy's push state.
	Push []haproxypush.Status `json:"push,omitempty"`
	// Group is the etcd replica group as this replica saw it at the
	// evaluation; absent without --etcd.endpoints.
	Group *replica.Status `json:"group,omitempty"`

	file *rules.File
}

// ReloadStatus is the outcome of the last load of the rule file.
type ReloadStatus struct {
	Success     bool      `json:"success"`
	Time        time.Time `json:"time"`
	SuccessTime time.Time `json:"success_time"`
	Hash        string    `json:"hash"`
	// Errors are the last failed load's errors, FILE:LINE:COL: message.
	Errors []string `json:"errors,omitempty"`
}

// MetricStatus is one metric as the last cycle read it.
type MetricStatus struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	// Value is null when the metric is missing or not a finite number;
	// NonFinite then names it ("+Inf", "-Inf"), which rules do compare.
	Value      *float64 `json:"value"`
	NonFinite  string   `json:"non_finite,omitempty"`
	AgeSeconds float64  `json:"age_seconds"`
	Missing    string   `json:"missing,omitempty"`
	// Servers, in fleet mode, is how many servers the metric's vector
	// result gave a value (Value is then null: see each server's rules).
	Servers int `json:"servers,omitempty"`
}

// SourceStatus is the health of one source.
type SourceStatus struct {
	Name            string    `json:"name"`
	Kind            string    `json:"kind"`
	Up              bool      `json:"up"`
	DurationSeconds float64   `json:"duration_seconds"`
	LastError       string    `json:"last_error,omitempty"`
	LastSuccess     time.Time `json:"last_success,omitzero"`
}

func newStatus(f *rules.File, res *evaluator.Result, snap *collect.Result, evalTook, collectTook time.Duration) *Status {
	st := &Status{
		RulesFile:       f.Path,
		RulesHash:       f.Hash,
		EvaluatedAt:     res.Time,
		CollectSeconds:  collectTook.Seconds(),
		EvaluateSeconds: evalTook.Seconds(),
		Services:        res.Services,
		Servers:         res.Servers,
		Guardrail:       res.Guardrail,
		Overrides:       res.Overrides,
		Discovery:       snap.Discovery,
		file:            f,
	}
	for _, m := range snap.Metrics {
		ms := MetricStatus{Name: m.Name, Source: m.Source, AgeSeconds: m.Age.Seconds(), Missing: m.Missing}
		if m.ByServer != nil {
			ms.Servers = len(m.ByServer)
		} else if m.Missing == "" {
			ms.Value, ms.NonFinite = jsonout.Number(m.Value)
		}
		st.Metrics = append(st.Metrics, ms)
	}
	for _, s := range snap.Sources {
		st.Sources = append(st.Sources, SourceStatus{
			Name: s.Name, Kind: s.Kind, Up: s.Up, DurationSeconds: s.Duration.Seconds(),
			LastError: s.Err, LastSuccess: s.LastSuccess,
		})
	}
	if res.DiscoveryRefused != "" && snap.Discovery != nil {
		// A list refused is a failed discovery read: say why.
		d := *snap.Discovery
		d.Missing = res.DiscoveryRefused
		st.Discovery = &d
	}
	return st
}

// handleStatus serves the latest Status as JSON; a Status that cannot be
// encoded is a 500 with the reason, never an empty 200.
func (a *agent) handleStatus(w http.ResponseWriter, r *http.Request) {
	a.statusJSON.get(a).Write(w)
}

// statusCache holds /status encoded once per evaluation (and reload
// outcome) and shared by every reader: at 10,000 servers × 10 rules the
// document is tens of MB, and one per reader multiplied the agent's
// memory by the number of readers. One document is built at a time;
// readers wanting the new one wait for it. It holds no evaluation alive:
// the Status it was built from is known by a weak pointer, and the
// document itself is dropped when a new evaluation is published.
type statusCache struct {
	mu  sync.Mutex
	st  weak.Pointer[Status]
	rl  *ReloadStatus
	doc jsonout.Document
}

// get returns the document for the latest Status, building it if the
// Status or the reload outcome changed since the last build.
func (c *statusCache) get(a *agent) jsonout.Document {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, rl := a.status.Load(), a.reloadState.Load()
	if weak.Make(st) == c.st && rl == c.rl && c.doc.Len() > 0 {
		return c.doc
	}
	doc := *st
	doc.Reload = rl
	if err := a.overrides.LoadError(); err != nil {
		doc.OverrideStateError = err.Error()
	}
	c.st, c.rl, c.doc = weak.Pointer[Status]{}, nil, jsonout.Document{} // the old one may go while the new one is built
	d, err := jsonout.NewDocument(http.StatusOK, doc)
	if err != nil {
		a.log.Error("cannot encode /status", "err", err)
	}
	c.st, c.rl, c.doc = weak.Make(st), rl, d
	return d
}

// drop lets the document of an evaluation earlier than st go once its
// readers are done, rather than when the next reader comes, which at
// idle may be never: the next reader builds st's. It never waits for a
// build under way, and keeps a document already built for st.
func (c *statusCache) drop(st *Status) {
	if c.mu.TryLock() {
		if c.st != weak.Make(st) {
			c.st, c.rl, c.doc = weak.Pointer[Status]{}, nil, jsonout.Document{}
		}
		c.mu.Unlock()
	}
}
