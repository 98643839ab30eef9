package override

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/haproxy-agent/agent/rules"
)

// MaxReason is the longest reason accepted, in characters. The reply's
// description is cut at 127 characters and also names the firing rules.
const MaxReason = 100

// ValidationError is a request the store refuses: the client's fault, so
// the HTTP API answers it with 400.
type ValidationError struct {
	Msg string
}

func (e *ValidationError) Error() string { return e.Msg }

func invalid(format string, args ...any) error {
	return &ValidationError{Msg: fmt.Sprintf(format, args...)}
}

// IsValidation reports whether err is (or wraps) a ValidationError.
func IsValidation(err error) bool {
	var v *ValidationError
	return errors.As(err, &v)
}

// DefaultTTL is how long an override lasts when no TTL is given: a
// forgotten override expires, as a forgotten Alertmanager silence does.
const DefaultTTL = time.Hour

// ParseTTL parses a time-to-live: Go durations ("90m", "1h30m", "0.5h") and
// Prometheus ones ("2d", "1w") are both accepted; "" means DefaultTTL, and
// "0" or "forever" an override that never expires. Negative values and
// values under one second are refused.
func ParseTTL(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return DefaultTTL, nil
	case "forever":
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		md, merr := model.ParseDuration(s)
		if merr != nil {
			return 0, invalid("ttl %q: want a duration such as 30m, 2h or 1d, or forever", s)
		}
		d = time.Duration(md)
	}
	switch {
	case d < 0:
		return 0, invalid("ttl %q: must not be negative (0 or forever: never expires)", s)
	case d > 0 && d < time.Second:
		// It would expire before HAProxy's next poll could see it.
		return 0, invalid("ttl %q: under one second; give 1s or more (0 or forever: never expires)", s)
	}
	return d, nil
}

// checkReason enforces what HAProxy can show: the reason ends up after `#`
// in a one-line ASCII reply.
func checkReason(r string) error {
	if strings.TrimSpace(r) == "" {
		return invalid("a reason is required: say why, it is shown in HAProxy as \"override: REASON\"")
	}
	if len(r) > MaxReason {
		return invalid("reason is %d characters long; at most %d are allowed", len(r), MaxReason)
	}
	for i := 0; i < len(r); i++ {
		if c := r[i]; c < 0x20 || c > 0x7e {
			return invalid("reason may hold printable ASCII only (HAProxy shows it as-is): %q at byte %d", r[i:i+1], i)
		}
	}
	return nil
}

// checkAction accepts what rules.ParseAction could have produced and
// refuses an action that would change nothing.
func checkAction(a rules.Action) error {
	if !a.Op.Valid() {
		return invalid("unknown operational state %q: want one of %s", a.Op, strings.Join(rules.OpWords, ", "))
	}
	if !a.Admin.Valid() {
		return invalid("unknown administrative state %q: want one of %s", a.Admin, strings.Join(rules.AdminWords, ", "))
	}
	if a.Weight != rules.Unset && (a.Weight < 0 || a.Weight > rules.MaxWeight) {
		return invalid("weight %d%%: want 0%% to %d%%", a.Weight, rules.MaxWeight)
	}
	if a.Maxconn != rules.Unset && a.Maxconn < 0 {
		return invalid("maxconn %d: want 0 or more (0 means unlimited)", a.Maxconn)
	}
	if a.Op == rules.NoOp && a.Admin == rules.NoAdmin && a.Weight == rules.Unset && a.Maxconn == rules.Unset {
		return invalid("the action sets nothing: want drain, maint, down, ready, weight N%% or maxconn N")
	}
	return nil
}

// ParseAction parses an override's action: rule-file syntax as
// rules.ParseAction reads it ("drain", "down", "weight 50%",
// "maint, maxconn 10"), except that "ready" without an operational word
// also means "up". An operator who says ready means "back in rotation,
// whatever the rules say", and a rule's down would otherwise still win.
func ParseAction(s string) (rules.Action, error) {
	a, err := rules.ParseAction(s)
	if err != nil {
		return a, err
	}
	if a.Admin == rules.Ready && a.Op == rules.NoOp {
		a.Op = rules.Up
	}
	return a, nil
}
