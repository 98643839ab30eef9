package rules

import (
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// duration reads a key's value as a Prometheus-style duration (1m30s).
func (p *parser) duration(e pair, ctx string) (time.Duration, bool) {
	s, ok := p.scalar(e, ctx)
	if !ok {
		return 0, false
	}
	d, err := model.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		p.errorf(e.val, ctx, "%s: bad duration %q: want a number and a unit, such as 5s, 1m30s or 2h", e.key.Value, s)
		return 0, false
	}
	return time.Duration(d), true
}

// boolean reads a key's value as true or false.
func (p *parser) boolean(e pair, ctx string) (bool, bool) {
	s, ok := p.scalar(e, ctx)
	if !ok {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	p.errorf(e.val, ctx, "%s: want true or false, got %q", e.key.Value, s)
	return false, false
}

// fmtDuration renders d the way the file writes durations.
func fmtDuration(d time.Duration) string {
	return model.Duration(d).String()
}

// percent parses "N%" (or a bare N) as an integer percent within [0, 256].
func percent(s string) (int, bool) {
	s = strings.TrimSuffix(strings.TrimSpace(s), "%")
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > MaxWeight {
		return 0, false
	}
	return n, true
}
