package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/haproxy-agent/agent/rules"
)

// otherKind reports whether a file's load errors show it is of the other
// kind (a test file given to `agent check`, a rule file given to `agent
// test`): a top-level key that only the other kind has, reported as
// unknown. The other errors of such a file say nothing useful, so the
// caller prints only which command the file is for.
func otherKind(err error, key string) bool {
	var errs rules.Errors
	if !errors.As(err, &errs) {
		return false
	}
	for _, e := range errs {
		if e.Pos.Col == 1 && strings.HasPrefix(e.Msg, fmt.Sprintf("unknown key %q", key)) {
			return true
		}
	}
	return false
}
