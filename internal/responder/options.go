package responder

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Options. A zero field takes the default.
const (
	// DefaultReadTimeout bounds the wait for the agent-send line. HAProxy
	// writes that line right after connecting, so on any sane network it
	// arrives within a round trip; a poll without agent-send sends nothing,
	// and waiting longer would only delay its (default) reply and hold the
	// connection against MaxConnections. It stays well below HAProxy's
	// usual `timeout check` (1s or more).
	DefaultReadTimeout = 100 * time.Millisecond
	// DefaultWriteTimeout bounds the write of the reply.
	DefaultWriteTimeout = time.Second
	// DefaultMaxConnections caps the connections handled at once.
	DefaultMaxConnections = 1024
	// DefaultShutdownTimeout bounds how long Serve waits, once cancelled,
	// for in-flight polls before closing them.
	DefaultShutdownTimeout = 5 * time.Second
)

// maxRequestLine is the longest agent-send line read, newline included.
// Service names are short; anything longer is not HAProxy.
const maxRequestLine = 256

// maxLoggedNames bounds the set of unknown service names already logged,
// so that a client cycling through names cannot grow memory.
const maxLoggedNames = 100

// Options configure a Server.
type Options struct {
	// Logger receives the responder's logs. Nil discards them.
	Logger *slog.Logger
	// Registerer receives the responder's metrics. Nil keeps them
	// unregistered.
	Registerer prometheus.Registerer

	// ReadTimeout is the total time, counted from accept, allowed for the
	// agent-send line when the table has services (default
	// DefaultReadTimeout). It is one deadline, not a per-byte timeout, so
	// a client dripping bytes cannot extend it.
	ReadTimeout time.Duration
	// WriteTimeout bounds the write of the reply (default
	// DefaultWriteTimeout).
	WriteTimeout time.Duration
	// MaxConnections caps the connections handled at once (default
	// DefaultMaxConnections). Connections accepted past it are closed at
	// once, never queued, and counted.
	MaxConnections int
	// Allow lists the client networks allowed to poll. Empty allows
	// everyone; other clients are closed at once and counted. IPv4 clients
	// of a dual-stack listener match IPv4 prefixes.
	Allow []netip.Prefix
	// ShutdownTimeout bounds, once Serve's context is cancelled, the wait
	// for in-flight polls; those still open after it are closed (default
	// DefaultShutdownTimeout).
	ShutdownTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = DefaultReadTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = DefaultMaxConnections
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	return o
}
