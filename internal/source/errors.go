package source

import (
	"context"
	"errors"
	"io"
	"net/url"
	"syscall"
	"time"

	"github.com/haproxy-agent/agent/internal/sample"
)

// shortError prints a short message while keeping the full error chain for
// errors.Is and errors.As.
type shortError struct {
	msg string
	err error
}

func (e *shortError) Error() string { return e.msg }
func (e *shortError) Unwrap() error { return e.err }

// describe turns a transport error into the short text an SRE reads in
// /status and in stale reasons: "timeout after 1s", "connection refused".
func describe(ctx context.Context, timeout time.Duration, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &sample.TimeoutError{After: timeout}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// Drop the `Get "http://..."` prefix: the source is named elsewhere.
		err = ue.Err
	}
	switch {
	case errors.Is(err, context.Canceled):
		return &shortError{"canceled", err}
	case errors.Is(err, syscall.ECONNREFUSED):
		return &shortError{"connection refused", err}
	case errors.Is(err, syscall.ECONNRESET):
		return &shortError{"connection reset", err}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &shortError{"truncated body (unexpected EOF)", err}
	}
	return err
}
