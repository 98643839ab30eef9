package responder

import (
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/rules"
)

// TestLongestNameIsPolled checks the read cap against the rule files'
// limit on names: a service named with rules.MaxNameLen bytes is picked,
// with a "\r\n" line end too. A longer name was accepted by the loader
// and could never be polled.
func TestLongestNameIsPolled(t *testing.T) {
	name := strings.Repeat("n", rules.MaxNameLen)
	h := start(t, Options{ReadTimeout: 300 * time.Millisecond})
	h.srv.Publish(NewTable([]byte(defaultLine), map[string][]byte{name: []byte(workerLine)}))
	for _, end := range []string{"\n", "\r\n"} {
		if got := h.poll(name+end, false); got != workerLine {
			t.Errorf("line end %q: reply %q, want %q", end, got, workerLine)
		}
	}
	if got := h.poll(name+"n\r\n", false); got != "" {
		t.Errorf("a name one byte longer, with \\r\\n: reply %q; want none (over the cap)", got)
	}
}
