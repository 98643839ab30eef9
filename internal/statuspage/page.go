package statuspage

import "time"

// Page is what the status page shows. The agent builds one per request
// from its latest published state; the page only reads it.
type Page struct {
	Now time.Time
	// Host is the name of the machine the agent runs on, in the title.
	Host        string
	RulesFile   string
	RulesHash   string
	EvaluatedAt time.Time
	Reload      Reload
	// Notes are warnings shown at the top, such as a state file that was
	// moved aside.
	Notes []string
	// Targets are what the agent answers for with a full card, in the
	// order to show: the services, or in fleet mode the one server asked
	// for (none when none was asked).
	Targets []Target
	// Fleet, in fleet mode, is every server in a line each, with the
	// counts; nil outside fleet mode.
	Fleet *Fleet
	// Asked is the fleet server asked for (?server=); Targets holds its
	// card when it is known.
	Asked   string
	Sources []Source
	// HAProxy is, with --haproxy.runtime-api, HAProxy's view of the
	// servers beside the agent's reply; HAProxyNote says what is left
	// out (a large fleet shows only the servers that drift).
	HAProxy     []HAProxyServer
	HAProxyNote string
	Metrics     []Metric
	Overrides   []Override
	// ServiceNames are the names an override may be limited to, for the
	// form; empty hides the choice.
	ServiceNames []string
	// Group is the etcd replica group the agent belongs to; nil without one.
	Group *Group
}

// Group is a replica group as this replica sees it.
type Group struct {
	ID, Leader string
	Up         bool
	Error      string
	IsLeader   bool
	Replicas   []string
	// OutSet is the latest out-set read, with its etcd revision and when
	// the leader published it (zero before any).
	OutSet      []string
	Revision    int64
	PublishedAt time.Time
}

// Reload is the outcome of the last load of the rule file.
type Reload struct {
	OK          bool
	Time        time.Time
	SuccessTime time.Time
	// Errors are the failed load's errors, FILE:LINE:COL: message.
	Errors []string
}

// Target is one thing the agent answers for (a service, a fleet server):
// its reply, why, and the rules behind it.
type Target struct {
	// Kind is what the target is ("service", "server"), shown before its name.
	Kind string
	Name string
	// Reply is the line sent to HAProxy, without its newline.
	Reply string
	// Reason says in plain words what the reply does and why.
	Reason string
	// Since is when the reply became what it is; SinceStart says it has
	// been so since the agent first saw the target. Zero when unknown.
	Since      time.Time
	SinceStart bool
	// State is where the reply puts the server; Out is true when it takes
	// it out of rotation (draining or out).
	State State
	Out   bool
	// Facts are further name/value lines about the target (a phase, a
	// guardrail hold), shown under the reason in order.
	Facts []Fact
	Rules []Rule
	// WeightKey is the History key of the weight it sent, StateKey that of
	// its state (in, draining, out); empty for none.
	WeightKey, StateKey string
}

// Fact is one name/value line about a target.
type Fact struct {
	Name, Value string
}

// Rule is one rule as the last evaluation saw it.
type Rule struct {
	Name   string
	Expr   string
	Action string
	// Result is true, false or unknown; State inactive, pending or firing.
	Result string
	State  string
	// Since is when the rule became pending or firing; zero when inactive.
	Since  time.Time
	Values []Value
	Error  string
}

// Value is one metric as a rule saw it.
type Value struct {
	Name    string
	Value   float64
	Missing string
}

// Source is the health of one metric source.
type Source struct {
	Name        string
	Kind        string
	Up          bool
	Duration    time.Duration
	LastSuccess time.Time
	// LastError is the last failed read's error, kept after the source
	// recovers; LastErrorTime is when it happened.
	LastError     string
	LastErrorTime time.Time
}

// HAProxyServer is one server as an HAProxy shows it, beside the reply
// that applies to it.
type HAProxyServer struct {
	HAProxy, Proxy, Server string
	// Target is the service or fleet server whose reply applies.
	Target, Reply string
	// Status, Weight, AgentStatus and LastAgent are HAProxy's status,
	// weight, agent check result and the last agent reply it read.
	Status, AgentStatus, LastAgent string
	Weight                         int
	// Drift says HAProxy has held another state than the reply for too
	// long; Cause is the likely reason. Error, for an HAProxy that cannot
	// be read, is why (the other fields are empty).
	Drift        bool
	Cause, Error string
}

// Metric is one declared metric as the last cycle read it.
type Metric struct {
	Name   string
	Source string
	// Query is its selector or PromQL query, as written in the rule file.
	Query string
	Value float64
	Age   time.Duration
	// Missing says why there is no value; empty when Value is valid.
	Missing string
	// Servers, in fleet mode, is how many servers a metric read by
	// server gave a value; Value is then not used (each server's rules
	// show its own).
	Servers int
	// Thresholds are where the rules that read it turn, drawn on its
	// chart.
	Thresholds []Threshold
}

// Override is an operator override in force.
type Override struct {
	ID string
	// Service is the service it applies to; empty for all.
	Service string
	Action  string
	Reason  string
	Created time.Time
	// Expires is when it ends; zero never.
	Expires time.Time
}

// MetricKey is the History key of a metric's values.
func MetricKey(name string) string { return "metric\x00" + name }

// WeightKey is the History key of the weight sent for a target.
func WeightKey(kind, name string) string { return "weight\x00" + kind + "\x00" + name }

// StateKey is the History key of a target's state, as StateValue gives it.
func StateKey(kind, name string) string { return "state\x00" + kind + "\x00" + name }
