// Package rules reads, validates and compiles agent rule files.
//
// A rule file names where metric values come from (sources), the names rule
// expressions use for them (metrics), and per service the rules that turn
// those values into an HAProxy agent reply. Parse checks everything at once
// and compiles every expression, so a *File that loaded can always be
// evaluated: nothing is parsed or compiled later. The compiled file it
// returns is defined in package ruleset (File is ruleset.File), which is
// what the evaluator reads.
package rules

import (
	"fmt"
	"strings"
	"time"
)

// MaxMaxConcurrency caps max_concurrency, far below the connection limit
// of a Prometheus server (512 by default).
const MaxMaxConcurrency = 64

// MaxReplyDuration bounds reply.restore_for and reply.ramp.
const MaxReplyDuration = 24 * time.Hour

// Error is one problem found in a rule file, at a position.
type Error struct {
	File string
	Pos  Pos
	Msg  string
}

func (e *Error) Error() string {
	if e.Pos.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Col, e.Msg)
}

// Errors is every problem found in a rule file, in file order.
type Errors []*Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}
