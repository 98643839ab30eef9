package evaluator

import (
	"time"

	"github.com/haproxy-agent/agent/internal/jsonout"
	"github.com/haproxy-agent/agent/rules"
)

// Sample is one metric's value in a snapshot, or why there is none.
type Sample struct {
	Value float64
	// Missing is why there is no usable value; empty when Value is valid.
	Missing string
}

// Snapshot maps metric names to their values for one evaluation. A metric
// absent from the map is missing with reason "no value".
type Snapshot map[string]Sample

// Override is an operator's instruction that wins over the rules of a
// service until it expires.
type Override struct {
	ID string `json:"id"`
	// Service is the service it applies to; empty applies it to every service.
	Service string `json:"service"`
	// Action holds the words and numbers that win; unset parts are left to
	// the rules.
	Action rules.Action `json:"action"`
	Reason string       `json:"reason"`
	// Created is when the override was made.
	Created time.Time `json:"created"`
	// Expires is when it stops applying; zero never.
	Expires time.Time `json:"expires,omitzero"`
}

// Outcome is the value of a rule's condition in one evaluation.
type Outcome string

// The outcomes of a condition.
const (
	True    Outcome = "true"
	False   Outcome = "false"
	Unknown Outcome = "unknown"
)

// State is a rule's place in the pending → firing → resolved cycle.
type State string

// The rule states, as in Prometheus alerting rules.
const (
	Inactive State = "inactive"
	Pending  State = "pending"
	Firing   State = "firing"
)

// Value is one metric a rule read, as it saw it.
type Value struct {
	Name    string  `json:"name"`
	Value   float64 `json:"value"`
	Missing string  `json:"missing,omitempty"`
}

// MarshalJSON writes a value that is not a finite number as null: JSON has
// no NaN or infinities, and encoding/json would fail the whole document,
// leaving /status and `agent eval --output json` empty exactly when a
// source is down (NaN) or a ratio divides by zero (+Inf). A metric that is
// not missing but infinite says so in "non_finite" ("+Inf", "-Inf").
func (v Value) MarshalJSON() ([]byte, error) {
	out := struct {
		Name      string   `json:"name"`
		Value     *float64 `json:"value"`
		NonFinite string   `json:"non_finite,omitempty"`
		Missing   string   `json:"missing,omitempty"`
	}{Name: v.Name, Missing: v.Missing}
	out.Value, out.NonFinite = jsonout.Number(v.Value)
	if v.Missing != "" {
		out.Value, out.NonFinite = nil, ""
	}
	return jsonout.Compact(out)
}

// RuleResult is what one rule did in one evaluation.
type RuleResult struct {
	Name string `json:"name"`
	Expr string `json:"expr"`
	// Outcome is the condition's value; Unknown when a metric it needs is
	// missing or the expression failed at run time (see Error).
	Outcome Outcome `json:"result"`
	State   State   `json:"state"`
	// ActiveSince is when the rule became pending or firing; zero when inactive.
	ActiveSince time.Time `json:"active_since,omitzero"`
	// Action is the rule's action as written; a computed weight shows as
	// "weight EXPR" here and its value in Weight.
	Action string `json:"action"`
	// Weight is the computed weight percent of a `weight:` rule, or
	// rules.Unset (left out of JSON).
	Weight int `json:"weight"`
	// Values are the metrics the rule's expressions read.
	Values []Value `json:"values"`
	// Error is a run-time expression error, if any.
	Error string `json:"error,omitempty"`
}

// Decision is the reply for one service and how it came about.
type Decision struct {
	Service string `json:"service"`
	Op      string `json:"op"`
	// Admin is the administrative word the agent wants; the reply carries
	// it (and Weight) only in the acting and restoring phases.
	Admin string `json:"admin"`
	// Weight is the weight percent the agent applies now: the target, or
	// the ramp's current step.
	Weight int `json:"weight"`
	// Maxconn is the maxconn sent, or rules.Unset when the reply carries
	// none (left out of JSON).
	Maxconn int `json:"maxconn"`
	// Phase says what the reply carries: everything (acting, restoring)
	// or the operational word alone (quiet).
	Phase Phase `json:"phase"`
	// QuietAt is when a restoring reply becomes plain "up" if nothing
	// changes; zero in the other phases and with restore_for: always.
	QuietAt time.Time `json:"quiet_at,omitzero"`
	// Ramp is the weight ramp in progress, or nil.
	Ramp        *Ramp  `json:"ramp,omitempty"`
	Description string `json:"description,omitempty"`
	// Reply is the exact line sent to HAProxy, ending in "\n".
	Reply string `json:"reply"`
	// full is whether Reply carries the admin word and the weight.
	full bool
	// Firing names the firing rules, in file order.
	Firing    []string     `json:"firing"`
	Rules     []RuleResult `json:"rules"`
	Overrides []Override   `json:"overrides,omitempty"`
}

// Result is the outcome of one evaluation of a whole rule file.
type Result struct {
	Time time.Time `json:"time"`
	// Services holds one decision per service, in File.Services order.
	Services []*Decision `json:"services"`
}

// Service returns the decision for the named service ("" is the default),
// or nil.
func (r *Result) Service(name string) *Decision {
	if name == "" {
		name = rules.DefaultService
	}
	for _, d := range r.Services {
		if d.Service == name {
			return d
		}
	}
	return nil
}
