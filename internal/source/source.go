// Package source reads metric values from the places a rule file names: a
// scraped /metrics page, a Prometheus-compatible query API, the host's own
// counters, a probe of a health endpoint, or a command's output. Each kind's reader is a sample.Reader in a file of its
// own, found by the source's kind in readers.
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
		newReader, ok := readers[src.Kind]
		if !ok {
			return nil, fmt.Errorf("source %q: unknown kind %q", src.Name, src.Kind)
		}
		return newReader(src, l)
	}
}

// readers builds the reader of each kind of source from its settings
// (src.Config, the kind's type in package rules). A new kind adds its
// reader here, in a file of its own.
var readers = map[rules.SourceKind]func(src *rules.Source, logger *slog.Logger) (sample.Reader, error){
	rules.KindScrape:     func(src *rules.Source, _ *slog.Logger) (sample.Reader, error) { return newScrape(src) },
	rules.KindPrometheus: func(src *rules.Source, l *slog.Logger) (sample.Reader, error) { return newPromQL(src, l) },
	rules.KindHost:       func(*rules.Source, *slog.Logger) (sample.Reader, error) { return newHost() },
	rules.KindHTTP:       func(src *rules.Source, _ *slog.Logger) (sample.Reader, error) { return newProbe(src) },
	rules.KindExec:       func(src *rules.Source, _ *slog.Logger) (sample.Reader, error) { return newCommand(src) },
	rules.KindHAProxy:    func(src *rules.Source, _ *slog.Logger) (sample.Reader, error) { return newHAProxyStat(src) },
}
