package ruleset

import (
	"fmt"
	"strconv"
)

// Op is the operational word of an agent reply. The zero value, NoOp, is
// no word: an action that leaves the operational state to others.
type Op uint8

// The operational words.
const (
	NoOp Op = iota
	Up
	Down
	Fail
	Stopped
)

// Admin is the administrative word of an agent reply. The words are
// ordered as they combine: maint over drain over ready. The zero value,
// NoAdmin, leaves the administrative state to others.
type Admin uint8

// The administrative words, in rising precedence.
const (
	NoAdmin Admin = iota
	Ready
	Drain
	Maint
)

// The words of an action, the one list every package uses (overrides,
// test files, the agent's metrics). Read them; do not modify them.
var (
	// OpWords set the operational state, Action.Op.
	OpWords = opNames[1:]
	// AdminWords set the administrative state, Action.Admin.
	AdminWords = adminNames[1:]
)

var (
	opNames    = [...]string{NoOp: "", Up: "up", Down: "down", Fail: "fail", Stopped: "stopped"}
	adminNames = [...]string{NoAdmin: "", Ready: "ready", Drain: "drain", Maint: "maint"}
)

// String returns the word as HAProxy reads it; "" for NoOp.
func (o Op) String() string {
	if o.Valid() {
		return opNames[o]
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// MarshalText writes the word, so that JSON shows "down" rather than a number.
func (o Op) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Valid reports whether o is one of the words (or NoOp).
func (o Op) Valid() bool { return int(o) < len(opNames) }

// UnmarshalText reads a word as MarshalText writes it.
func (o *Op) UnmarshalText(b []byte) error {
	w, ok := LookupOp(string(b))
	if !ok && len(b) > 0 {
		return fmt.Errorf("unknown operational state %q", b)
	}
	*o = w
	return nil
}

// IsDown reports whether o takes the server down: down, fail or stopped.
func (o Op) IsDown() bool { return o >= Down }

// String returns the word as HAProxy reads it; "" for NoAdmin.
func (a Admin) String() string {
	if a.Valid() {
		return adminNames[a]
	}
	return "admin(" + strconv.Itoa(int(a)) + ")"
}

// MarshalText writes the word, so that JSON shows "drain" rather than a number.
func (a Admin) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// Valid reports whether a is one of the words (or NoAdmin).
func (a Admin) Valid() bool { return int(a) < len(adminNames) }

// UnmarshalText reads a word as MarshalText writes it.
func (a *Admin) UnmarshalText(b []byte) error {
	w, ok := LookupAdmin(string(b))
	if !ok && len(b) > 0 {
		return fmt.Errorf("unknown administrative state %q", b)
	}
	*a = w
	return nil
}

// LookupOp returns the operational word s names (lower case), and whether
// it names one.
func LookupOp(s string) (Op, bool) {
	for i, n := range opNames {
		if i > 0 && n == s {
			return Op(i), true
		}
	}
	return NoOp, false
}

// LookupAdmin returns the administrative word s names (lower case), and
// whether it names one.
func LookupAdmin(s string) (Admin, bool) {
	for i, n := range adminNames {
		if i > 0 && n == s {
			return Admin(i), true
		}
	}
	return NoAdmin, false
}

// Out reports whether a reply carrying a's parts takes the server out of
// rotation: a down operational word (down, fail, stopped), drain or maint,
// or a weight of 0%, which HAProxy treats as sending the server nothing.
// It is the one definition of "out" that evaluation, the fleet guardrail,
// backtests, the status page and the agent's metrics share.
func (a Action) Out() bool {
	return a.Op.IsDown() || a.Admin >= Drain || a.Weight == 0
}

// NewAction returns an action that sets nothing.
func NewAction() Action {
	return Action{Weight: Unset, Maxconn: Unset}
}
