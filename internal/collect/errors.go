package collect

import (
	"context"
	"time"
)

// TimeoutError is the error of a read that did not finish within its
// source's timeout. It reads "timeout after 1s" and matches
// context.DeadlineExceeded with errors.Is.
type TimeoutError struct {
	// After is the timeout that expired.
	After time.Duration
}

func (e *TimeoutError) Error() string { return "timeout after " + e.After.String() }

// Unwrap lets errors.Is(err, context.DeadlineExceeded) hold.
func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }
