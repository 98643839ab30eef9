package pollbench

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
)

// MaxLine is the longest reply line accepted, HAProxy's default tune.bufsize.
// A longer line counts as Other.
const MaxLine = 16384

// Config describes one measurement against one address. The zero value is
// not valid: set Addr, and either Concurrency (closed loop) or Rate (open
// loop), and Duration and/or Count.
type Config struct {
	// Addr is the target, HOST:PORT.
	Addr string
	// Send is written right after connecting, as HAProxy's agent-send does
	// (include the "\n"). Empty: nothing is written.
	Send string
	// SendNames, when > 0, makes Send a pattern with one %d verb: the
	// polls send Send formatted with 0, 1, ... SendNames-1 in turn, each
	// worker starting elsewhere, as HAProxy polls the servers of a fleet
	// that each name themselves with agent-send.
	SendNames int
	// Expect, when not nil, must match the whole reply line (terminator
	// excluded); a complete line that does not match is a WrongReply.
	Expect *regexp.Regexp
	// ExpectLine, when Expect is nil and ExpectLine is not empty, is the
	// exact reply line expected (terminator excluded).
	ExpectLine string

	// Concurrency is the number of closed-loop workers, each polling back
	// to back. Used when Rate is 0.
	Concurrency int
	// Rate, when > 0, selects the open loop: polls per second, scheduled
	// at fixed intervals from the start of the run.
	Rate float64
	// Workers bounds the polls in flight in the open loop. 0 picks enough
	// to keep the schedule while every poll takes the whole Timeout.
	Workers int

	// Duration bounds the measured run (0: bounded by Count only).
	Duration time.Duration
	// Count bounds the number of polls (0: bounded by Duration only).
	Count int64
	// Warmup is polled with the same settings before measuring and not
	// reported.
	Warmup time.Duration
	// Timeout bounds each poll: connect, write and read together.
	Timeout time.Duration
	// KeepTimeWait closes the client side with a FIN instead of a reset.
	// By default the client closes with SO_LINGER 0 (as HAProxy closes its
	// checks), so no TIME_WAIT is left on loopback and long runs do not
	// run out of ephemeral ports.
	KeepTimeWait bool
	// ServerCPU, when not nil, reads the target process's CPU time; Run
	// calls it before and after the measured run (not the warmup) to
	// report the target's CPU per poll.
	ServerCPU func() (time.Duration, bool)
	// ServerMemory, when not nil, reads the target process's resident
	// memory; Run samples it during the measured run to report the peak
	// RSS under load and the VmHWM at its end.
	ServerMemory func() (Memory, bool)
}

// numberPattern reports whether s formats one integer into distinct names.
func numberPattern(s string) bool {
	a, b := fmt.Sprintf(s, 1), fmt.Sprintf(s, 2)
	return a != b && !strings.Contains(a, "%!")
}

// DefaultTimeout is used when Config.Timeout is 0.
const DefaultTimeout = time.Second

// maxWorkers caps the goroutines of the open loop.
const maxWorkers = 20000

// Validate reports the first problem that makes the configuration unusable.
func (c *Config) Validate() error {
	switch {
	case c.Addr == "":
		return errors.New("no target address")
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return fmt.Errorf("rate %v: must be a positive number", c.Rate)
	case c.Rate == 0 && c.Concurrency <= 0:
		return errors.New("set a concurrency (closed loop) or a rate (open loop)")
	case c.Rate > 0 && c.Concurrency > 0:
		return errors.New("concurrency (closed loop) and rate (open loop) exclude each other")
	case c.Duration <= 0 && c.Count <= 0:
		return errors.New("unbounded run: set a duration and/or a count")
	case c.Duration < 0 || c.Count < 0 || c.Warmup < 0 || c.Timeout < 0 || c.Workers < 0:
		return errors.New("durations and counts must not be negative")
	case c.Workers > maxWorkers:
		return fmt.Errorf("workers %d: at most %d", c.Workers, maxWorkers)
	case len(c.Send) > MaxLine:
		return fmt.Errorf("send string longer than %d bytes", MaxLine)
	case c.SendNames < 0 || c.SendNames > 1e6:
		return fmt.Errorf("send names %d: want 0 to 1000000", c.SendNames)
	case c.SendNames > 0 && !numberPattern(c.Send):
		return errors.New(`send names: the send string needs one number verb, such as "web%d" or "web%04d", and a newline`)
	}
	return nil
}

func (c *Config) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// openWorkers is the open loop's pool size: enough for every poll of one
// timeout window to be in flight at once, plus slack.
func (c *Config) openWorkers() int {
	if c.Workers > 0 {
		return c.Workers
	}
	n := int(math.Ceil(c.Rate*c.timeout().Seconds()*1.2)) + 8
	return min(n, maxWorkers)
}

// CompileExpect turns the --expect text into a regexp that must match the
// whole line.
func CompileExpect(expr string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(`^(?:` + expr + `)$`)
	if err != nil {
		return nil, fmt.Errorf("expect: %w", err)
	}
	return re, nil
}
