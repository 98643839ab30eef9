package evaluator

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/haproxy-agent/agent/rules/ruleset"
)

// Sample is one metric's value in a snapshot, or why there is none.
type Sample struct {
	Value float64
	// Missing is why there is no usable value; empty when Value is valid.
	Missing string
	// Servers, in fleet mode, holds each server's own value by server
	// name (the query returned a vector keyed by the fleet's label); Value
	// is then unused and a server not in it is missing. Nil: the sample is
	// shared by every server.
	Servers map[string]float64
	// ServerMissing says why a server of the vector has no value.
	ServerMissing map[string]string
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
	Action ruleset.Action `json:"action"`
	Reason string         `json:"reason"`
	// Created is when the override was made.
	Created time.Time `json:"created"`
	// Expires is when it stops applying; zero never.
	Expires time.Time `json:"expires,omitzero"`
}

// Outcome is the value of a rule's condition in one evaluation. It is a
// small integer, not text: a fleet keeps one per rule and server, and its
// String (and its JSON) is the word.
type Outcome uint8

// The outcomes of a condition.
const (
	False Outcome = iota
	True
	Unknown
)

var outcomeWords = [...]string{False: "false", True: "true", Unknown: "unknown"}

// String returns the outcome's word: "true", "false" or "unknown".
func (o Outcome) String() string {
	if int(o) < len(outcomeWords) {
		return outcomeWords[o]
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// MarshalText writes the outcome as its word.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText reads an outcome's word, as in /status: clients of the
// JSON get back the values the agent wrote.
func (o *Outcome) UnmarshalText(b []byte) error {
	i, err := lookupWord(outcomeWords[:], b, "outcome")
	*o = Outcome(i)
	return err
}

// State is a rule's place in the pending → firing → resolved cycle. Like
// Outcome it is a small integer whose String (and JSON) is the word.
type State uint8

// The rule states, as in Prometheus alerting rules.
const (
	Inactive State = iota
	Pending
	Firing
)

var stateWords = [...]string{Inactive: "inactive", Pending: "pending", Firing: "firing"}

// String returns the state's word: "inactive", "pending" or "firing".
func (s State) String() string {
	if int(s) < len(stateWords) {
		return stateWords[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText writes the state as its word.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a state's word, as in /status.
func (s *State) UnmarshalText(b []byte) error {
	i, err := lookupWord(stateWords[:], b, "rule state")
	*s = State(i)
	return err
}

// lookupWord returns the index of word in words.
func lookupWord(words []string, word []byte, what string) (int, error) {
	for i, w := range words {
		if w == string(word) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown %s %q (want one of %s)", what, word, strings.Join(words, ", "))
}

// Value is one metric a rule read, as it saw it.
type Value struct {
	Name    string  `json:"name"`
	Value   float64 `json:"value"`
	Missing string  `json:"missing,omitempty"`
}

// RuleText is a rule as its results show it, made once per rule file and
// shared by every result of the rule (in a fleet, every server's).
type RuleText struct {
	Name string `json:"name"`
	Expr string `json:"expr"`
	// Action is the rule's action as written; a computed weight shows as
	// "weight EXPR" here and its value in RuleResult.Weight.
	Action string `json:"action"`
}

// RuleResult is what one rule did in one evaluation. A fleet keeps one
// per rule and server: it holds what is the same for every server (the
// rule's name, expression and action) through one shared pointer, and its
// outcome and state as small integers.
type RuleResult struct {
	// RuleText is the rule's name, expression and action as written
	// (read as r.Name, r.Expr, r.Action); never nil in a result the
	// evaluator made.
	*RuleText
	// ActiveSince is when the rule became pending or firing; zero when inactive.
	ActiveSince time.Time `json:"active_since,omitzero"`
	// Values are the metrics the rule's expressions read.
	Values []Value `json:"values"`
	// Error is a run-time expression error, if any.
	Error string `json:"error,omitempty"`
	// Weight is the computed weight percent of a `weight:` rule (at most
	// ruleset.MaxWeight), or ruleset.Unset (left out of JSON). It is an
	// int32 to share a word with Outcome and State.
	Weight int32 `json:"weight"`
	// Outcome is the condition's value; Unknown when a metric it needs is
	// missing or the expression failed at run time (see Error).
	Outcome Outcome `json:"result"`
	State   State   `json:"state"`
}

// Text returns the rule's name, expression and action: empty for a
// result made without them (a zero RuleResult).
func (r *RuleResult) Text() RuleText {
	if r.RuleText == nil {
		return RuleText{}
	}
	return *r.RuleText
}

// Decision is the reply for one service and how it came about.
type Decision struct {
	Service string     `json:"service"`
	Op      ruleset.Op `json:"op"`
	// Admin is the administrative word the agent wants; the reply carries
	// it (and Weight) only in the acting and restoring phases.
	Admin ruleset.Admin `json:"admin"`
	// Weight is the weight percent the agent applies now: the target, or
	// the ramp's current step; with Absolute, the absolute weight.
	Weight int `json:"weight"`
	// Absolute says Weight is an absolute weight (the reply's weight:N,
	// HAProxy 3.1+), not a percent of the server line's weight.
	Absolute bool `json:"absolute,omitempty"`
	// Maxconn is the maxconn sent, or ruleset.Unset when the reply carries
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
	Firing []string     `json:"firing"`
	Rules  []RuleResult `json:"rules"`
	// Overrides are those in force for the decision; a fleet server's
	// decisions share one list of those for every server (and its JSON
	// lists only those naming it).
	Overrides []Override `json:"overrides,omitempty"`
	// Server names the fleet server the decision is for; empty outside
	// fleet mode.
	Server string `json:"server,omitempty"`
	// Held is true when the rules would take the server out of rotation
	// but the guardrail keeps it in.
	Held bool `json:"held,omitempty"`
	// Stale is true for a server discovery no longer lists: it keeps its
	// last decision until stale_after, then it is forgotten.
	Stale bool `json:"stale,omitempty"`
	// OutBy, in fleet mode, says why HAProxy may hold the server out of
	// rotation: OutByRules or OutByOverride; empty when it is in rotation
	// there. It is set from the decision that took the server out until
	// HAProxy was told its restore, so a server just released still has
	// it.
	OutBy string `json:"out_by,omitempty"`
	// Restore is true for a stale server HAProxy may still hold out of
	// rotation: it is answered its restore, and counts as out, until it
	// was told that or has not polled for fleet.forget_after.
	Restore bool `json:"restore,omitempty"`

	// byOverride is true when an override takes the server out.
	byOverride bool

	// prev is the same server's decision of the evaluation before, whose
	// reply line is reused when it is the same; nil outside fleet mode.
	prev *Decision
	// kept: the server was out by its rules before a restart, and the
	// rules that take it out count while pending too (see Resume).
	kept bool
}

// Action returns the words and numbers the decision wants, as one action.
func (d *Decision) Action() ruleset.Action {
	return ruleset.Action{Op: d.Op, Admin: d.Admin, Weight: d.Weight, Absolute: d.Absolute, Maxconn: d.Maxconn}
}

// Why HAProxy may hold a fleet server out of rotation (Decision.OutBy).
const (
	OutByRules    = "rules"
	OutByOverride = "override"
)

// Out reports whether the decision takes the server out of rotation, as
// ruleset.Action.Out defines it.
func (d *Decision) Out() bool { return d.Action().Out() }

// RulesOut reports whether the rules, not an override, take the server
// out of rotation: what the guardrail limits.
func (d *Decision) RulesOut() bool { return d.Out() && !d.byOverride }

// Result is the outcome of one evaluation of a whole rule file.
type Result struct {
	Time time.Time `json:"time"`
	// Services holds one decision per service, in File.Services order;
	// empty in fleet mode.
	Services []*Decision `json:"services"`
	// Servers, in fleet mode, holds one decision per known server, sorted
	// by name.
	Servers []*Decision `json:"servers,omitempty"`
	// DiscoveryRefused, in fleet mode, says why the servers listed were
	// refused (with those the fleet remembers, over its limit) and the
	// last list kept; empty when they were taken.
	DiscoveryRefused string `json:"discovery_refused,omitempty"`
	// Overrides, in fleet mode, are the overrides in force for every
	// server, listed once (a server's decision lists those naming it).
	Overrides []Override `json:"overrides,omitempty"`
	// Guardrail is the fleet's max_unavailable at work; nil outside fleet
	// mode.
	Guardrail *Guardrail `json:"guardrail,omitempty"`
}

// Guardrail says how many servers are out of rotation and which ones the
// guardrail holds in.
type Guardrail struct {
	// MaxUnavailable is the limit as the file writes it ("none" without one).
	MaxUnavailable string `json:"max_unavailable"`
	// Allowed is how many servers may be out at once.
	Allowed int `json:"allowed"`
	// Servers is how many servers are known (stale ones included).
	Servers int `json:"servers"`
	// Out is how many are out of rotation after the guardrail.
	Out int `json:"out"`
	// Held names the servers held in, sorted.
	Held []string `json:"held"`
}

// Server returns the decision for the named fleet server, or nil.
func (r *Result) Server(name string) *Decision {
	i, ok := slices.BinarySearchFunc(r.Servers, name, func(d *Decision, n string) int { return strings.Compare(d.Server, n) })
	if !ok {
		return nil
	}
	return r.Servers[i]
}

// Service returns the decision for the named service ("" is the default),
// or nil.
func (r *Result) Service(name string) *Decision {
	if name == "" {
		name = ruleset.DefaultService
	}
	for _, d := range r.Services {
		if d.Service == name {
			return d
		}
	}
	return nil
}
