package override

import (
	"fmt"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/rules"
)

// Record is an override as the HTTP API and the state file carry it. The
// action is in rule-file syntax ("drain", "up, ready", "weight 50%") so that
// what an operator reads is what they would type.
type Record struct {
	ID string `json:"id"`
	// Service is the service the override applies to; empty means all.
	Service string    `json:"service"`
	Action  string    `json:"action"`
	Reason  string    `json:"reason"`
	Created time.Time `json:"created"`
	// Expires is when the override stops applying; absent (zero) means never.
	Expires time.Time `json:"expires,omitzero"`
}

// NewRecord returns the wire form of o.
func NewRecord(o evaluator.Override) Record {
	return Record{
		ID:      o.ID,
		Service: o.Service,
		Action:  o.Action.String(),
		Reason:  o.Reason,
		Created: o.Created.UTC(),
		Expires: expiresUTC(o.Expires),
	}
}

func expiresUTC(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// Override parses the record back into the form the evaluator applies.
func (r Record) Override() (evaluator.Override, error) {
	a, err := rules.ParseAction(r.Action)
	if err != nil {
		return evaluator.Override{}, fmt.Errorf("override %q: %w", r.ID, err)
	}
	return evaluator.Override{
		ID:      r.ID,
		Service: r.Service,
		Action:  a,
		Reason:  r.Reason,
		Created: r.Created,
		Expires: r.Expires,
	}, nil
}

// Records returns the wire form of every override in ovs, in order.
func Records(ovs []evaluator.Override) []Record {
	rs := make([]Record, len(ovs))
	for i, o := range ovs {
		rs[i] = NewRecord(o)
	}
	return rs
}

// AddRequest is the body of POST /api/v1/overrides.
type AddRequest struct {
	// Action is in rule-file syntax, e.g. "drain" or "weight 50%".
	Action string `json:"action"`
	// Service limits the override to one service; empty means all.
	Service string `json:"service,omitempty"`
	// Reason is required: it is shown in HAProxy as "override: REASON".
	Reason string `json:"reason"`
	// TTL is a duration such as "90m", "1h30m" or "2d"; empty means
	// DefaultTTL (1h), "0" or "forever" that the override never expires.
	TTL string `json:"ttl,omitempty"`
}

// listResponse is the body of GET and DELETE answers: the overrides listed
// or removed, oldest first.
type listResponse struct {
	Overrides []Record `json:"overrides"`
}

// errorResponse is the body of every error answer.
type errorResponse struct {
	Error string `json:"error"`
}
