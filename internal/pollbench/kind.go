package pollbench

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// Kind classifies the outcome of one poll. OK is the zero value.
type Kind int

// The outcomes of a poll. Every poll ends in exactly one of them.
const (
	OK         Kind = iota // a complete line that passed the expectation
	Refused                // connect refused (nothing listens, or the backlog overflowed with RST)
	Timeout                // connect, write or read did not finish within the poll timeout
	Reset                  // the target reset the connection before a complete line arrived
	Incomplete             // the target closed before sending a line terminator (includes closing without any data)
	WrongReply             // a complete line that did not match the expectation
	Other                  // anything else (address errors, a line longer than MaxLine, ...)
	numKinds
)

var kindNames = [numKinds]string{"ok", "refused", "timeout", "reset", "incomplete", "wrong_reply", "other"}

// String returns the kind's name as used in reports: ok, refused, timeout,
// reset, incomplete, wrong_reply or other.
func (k Kind) String() string {
	if k < 0 || k >= numKinds {
		return "unknown"
	}
	return kindNames[k]
}

// ErrorKinds lists every kind except OK, in report order.
func ErrorKinds() []Kind {
	return []Kind{Refused, Timeout, Reset, Incomplete, WrongReply, Other}
}

// classify maps a network error to a Kind. It never returns OK.
func classify(err error) Kind {
	switch {
	case err == nil:
		return Other
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNABORTED):
		return Reset
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT):
		return Timeout
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return Incomplete
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return Timeout
	}
	return Other
}
