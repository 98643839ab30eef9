package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/haproxy-agent/agent/rules"
)

// hintOtherKind prints hint under a file's load errors when they show the
// file is of the other kind (a test file given to `agent check`, a rule
// file given to `agent test`): a top-level key that only the other kind
// has, reported as unknown.
func hintOtherKind(w io.Writer, err error, key, hint string) {
	var errs rules.Errors
	if !errors.As(err, &errs) {
		return
	}
	for _, e := range errs {
		if e.Pos.Col == 1 && strings.HasPrefix(e.Msg, fmt.Sprintf("unknown key %q", key)) {
			fmt.Fprintln(w, failedIndent+hint)
			return
		}
	}
}
