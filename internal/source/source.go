// Package source reads metric values from the places a rule file names: a
// scraped /metrics page, a Prometheus-compatible query API, the host's own
// counters, a probe of a health endpoint, or a command's output. Each kind is a sample.Reader; New picks one by the
// source's kind.
package source

import (
	"fmt"
	"log/slog"

	"github.com/haproxy-agent/agent/internal/sample"
	"github.com/haproxy-agent/agent/rules"
)

// New builds the Reader of src, discarding log output. It has the
// signature of sample.NewReaderFunc.
func New(src *rules.Source) (sample.Reader, error) {
	return NewWithLogger(nil)(src)
}

// NewWithLogger returns a sample.NewReaderFunc whose readers log through
// logger (query warnings from Prometheus, for instance). A nil logger
// discards.
func NewWithLogger(logger *slog.Logger) sample.NewReaderFunc {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return func(src *rules.Source) (sample.Reader, error) {
		l := logger.With("source_name", src.Name) // not "source": promslog's key for the code location
		switch src.Kind {
		case rules.KindScrape:
			return newScrape(src)
		case rules.KindPrometheus:
			return newPromQL(src, l)
		case rules.KindHost:
			return newHost()
		case rules.KindHTTP:
			return newProbe(src)
		case rules.KindExec:
			return newCommand(src)
		}
		return nil, fmt.Errorf("source %q: unknown kind %q", src.Name, src.Kind)
	}
}
