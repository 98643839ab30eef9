package responder

import (
	"bytes"
	"sync/atomic"
)

// DefaultService is the service name that always selects a table's default
// reply, as does an empty agent-send line or none at all.
const DefaultService = "default"

// Table is the set of reply lines of one evaluation: the default reply and
// one reply per named service. A Table is immutable once built; build a new
// one and publish it to change what polls get.
type Table struct {
	def       []byte
	byService map[string][]byte
	// fleet: every name is a server's, the default reply is an empty line,
	// and polls always read their agent-send line.
	fleet bool
	// answered counts, by server, the polls answered with its line (see
	// NewFleetTableAnswered).
	answered map[string]*atomic.Uint64
}

// NewFleetTable builds the table of a fleet: the replies by server name.
// A poll that names no server (no agent-send line, an empty line or
// DefaultService) or an unknown one gets an empty line, which HAProxy takes
// as "no change", and is counted as an unknown_server poll. It copies its
// argument.
func NewFleetTable(byServer map[string][]byte) *Table {
	t := NewTable(nil, byServer)
	t.fleet = true
	if t.byService == nil {
		t.byService = map[string][]byte{}
	}
	return t
}

// NewFleetTableAnswered is NewFleetTable where each poll answered with a
// server's line (written in full) adds one to that server's counter in
// answered, if it has one: the publisher learns which lines HAProxy was
// told without ever making a poll wait. A counter stands for one line: the
// publisher gives a server a new one when its line changes, so that a poll
// still answering from an older table is not taken for the new line. The
// map is not copied; the counters are the publisher's.
func NewFleetTableAnswered(byServer map[string][]byte, answered map[string]*atomic.Uint64) *Table {
	t := NewFleetTable(byServer)
	t.answered = answered
	return t
}

// NewTable builds a table from the default reply and the replies by service
// name. It copies its arguments, so the caller may reuse them. Every reply
// is made to end in exactly one "\n" (HAProxy ignores a line without one).
// A service named DefaultService is dropped: that name always selects the
// default reply.
//
// Whether a poll's agent-send line is read at all depends on the table: a
// table without services is answered at once, without reading, because
// HAProxy without agent-send writes nothing and would otherwise wait for the
// read deadline.
func NewTable(defaultReply []byte, byService map[string][]byte) *Table {
	t := &Table{def: line(defaultReply)}
	if len(byService) > 0 {
		t.byService = make(map[string][]byte, len(byService))
		for name, reply := range byService {
			if name == DefaultService {
				continue
			}
			t.byService[name] = line(reply)
		}
	}
	return t
}

// line returns a copy of b ending in exactly one newline.
func line(b []byte) []byte {
	b = bytes.TrimRight(b, "\r\n")
	out := make([]byte, len(b)+1)
	copy(out, b)
	out[len(b)] = '\n'
	return out
}

// readsLine reports whether polls read an agent-send line: the table has
// services besides the default, or is a fleet's.
func (t *Table) readsLine() bool { return len(t.byService) > 0 || t.fleet }
