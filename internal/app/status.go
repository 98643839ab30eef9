package app

import (
	"net/http"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/collect"
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
	OverrideStateError string                `json:"override_state_error,omitempty"`
	Services           []*evaluator.Decision `json:"services"`
	// Servers, in fleet mode, holds each server's decision, by name.
	Servers []*evaluator.Decision `json:"servers,omitempty"`
	// Guardrail is the fleet's max_unavailable at work.
	Guardrail *evaluator.Guardrail `json:"guardrail,omitempty"`
	// Discovery is the fleet's discovery query as last read.
	Discovery *collect.MetricValue `json:"discovery,omitempty"`
	Metrics   []MetricStatus       `json:"metrics"`
	Sources   []SourceStatus       `json:"sources"`
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
	return st
}

// handleStatus serves the latest Status as JSON; a Status that cannot be
// encoded is a 500 with the reason, never an empty 200.
func (a *agent) handleStatus(w http.ResponseWriter, r *http.Request) {
	st := *a.status.Load()
	st.Reload = a.reloadState.Load()
	if err := a.overrides.LoadError(); err != nil {
		st.OverrideStateError = err.Error()
	}
	if err := jsonout.Serve(w, http.StatusOK, st); err != nil {
		a.log.Error("cannot encode /status", "err", err)
	}
}
