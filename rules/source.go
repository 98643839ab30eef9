package rules

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/alecthomas/units"
	"github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"
)

var sourceNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_-]*$`)

// sources reads the sources section; every name is declared even when its
// definition has errors, so that metrics using it report nothing more.
// Each definition is decoded (decodeSource), then checked (checkSource)
// before the next one, so that problems at the same place keep their order.
func (p *parser) sources(f *File, n *yaml.Node) {
	for i, e := range p.entries(n, "", "source") {
		name := e.key.Value
		ctx := fmt.Sprintf("source %q: ", name)
		if i >= MaxSources {
			p.errorf(e.key, "", "too many sources: the limit is %d", MaxSources)
			return
		}
		s := &Source{Name: name, Timeout: min(DefaultTimeout, f.Interval), HTTP: config.DefaultHTTPClientConfig, Pos: posOf(e.key)}
		switch {
		case name == HostSource:
			p.errorf(e.key, "", "source %q is predeclared (the host's own metrics) and cannot be redefined", name)
			continue
		case !sourceNameRe.MatchString(name):
			p.errorf(e.key, "", "bad source name %q: want letters, digits, _ and -, starting with a letter or _", name)
		}
		f.Sources = append(f.Sources, s)
		if d, ok := p.decodeSource(e, ctx); ok {
			p.checkSource(f, s, d)
		}
	}
}

// sourceURL reads the one of scrape, prometheus, http and exec that names
// the source's kind and its address.
func (p *parser) sourceURL(s *Source, d sourceDoc) {
	ctx := d.ctx
	var given []pair
	for _, k := range []pair{d.scrape, d.prometheus, d.probe, d.exec} {
		if k.given() {
			given = append(given, k)
		}
	}
	switch {
	case len(given) > 1:
		p.errorf(given[1].key, ctx, "both %s and %s given: a source has one of them", given[0].key.Value, given[1].key.Value)
		return
	case len(given) == 0:
		p.errorf(d.key, ctx, "needs scrape: URL (a /metrics page), prometheus: URL (a Prometheus API), http: URL (a probe of a health endpoint) or exec: [PROGRAM, ARG...] (a command)")
		return
	}
	u := given[0]
	s.Kind = SourceKind(u.key.Value)
	if s.Kind == KindExec {
		p.execArgv(s, u, ctx)
		return
	}
	text, ok := p.scalar(u, ctx)
	if !ok {
		return
	}
	if err := checkURL(text); err != nil {
		p.errorf(u.val, ctx, "%s: bad URL %q: %v", u.key.Value, text, err)
		return
	}
	s.URL = text
}

// kindOptions reads the keys that belong to one kind of source, and
// reports those given to a source of another kind.
func (p *parser) kindOptions(s *Source, d sourceDoc) {
	p.kindOnly(s, d, probeKeys, KindHTTP)
	p.kindOnly(s, d, execKeys, KindExec)
	switch s.Kind {
	case KindHTTP:
		p.probeOptions(s, d)
	case KindExec:
		p.execOptions(s, d)
	}
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		var ue *url.Error
		if errors.As(err, &ue) {
			return ue.Err
		}
		return err
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("want an absolute http:// or https:// URL")
	case u.Host == "":
		return fmt.Errorf("no host")
	}
	return nil
}

// sourceLimits reads timeout, max_concurrency and body_limit.
func (p *parser) sourceLimits(f *File, s *Source, d sourceDoc) {
	if d.timeout.given() {
		if v, ok := p.duration(d.timeout, d.ctx); ok {
			switch {
			case v <= 0:
				p.errorf(d.timeout.val, d.ctx, "timeout must be greater than 0")
			case v > f.Interval:
				p.errorf(d.timeout.val, d.ctx, "timeout %s is longer than interval %s", fmtDuration(v), fmtDuration(f.Interval))
			default:
				s.Timeout = v
			}
		}
	}
	switch s.Kind {
	case KindScrape:
		s.BodyLimit = DefaultBodyLimit
	case KindHTTP:
		s.BodyLimit = DefaultProbeBodyLimit
	}
	if s.Kind == KindPrometheus {
		s.MaxConcurrency = DefaultMaxConcurrency
	}
	p.maxConcurrency(s, d)
	p.bodyLimit(s, d)
}

// maxConcurrency reads max_concurrency, for prometheus sources.
func (p *parser) maxConcurrency(s *Source, d sourceDoc) {
	if !d.maxConcurrency.given() {
		return
	}
	text, ok := p.scalar(d.maxConcurrency, d.ctx)
	switch {
	case !ok:
	case s.Kind != KindPrometheus:
		p.errorf(d.maxConcurrency.key, d.ctx, "max_concurrency applies to prometheus sources only")
	default:
		n, err := strconv.Atoi(strings.TrimSpace(text))
		if err != nil || n < 1 || n > MaxMaxConcurrency {
			p.errorf(d.maxConcurrency.val, d.ctx, "max_concurrency: want a whole number from 1 to %d, got %q", MaxMaxConcurrency, text)
		} else {
			s.MaxConcurrency = n
		}
	}
}

// bodyLimit reads body_limit, for scrape and http sources.
func (p *parser) bodyLimit(s *Source, d sourceDoc) {
	if !d.bodyLimit.given() {
		return
	}
	text, ok := p.scalar(d.bodyLimit, d.ctx)
	if !ok {
		return
	}
	if s.Kind == KindPrometheus || s.Kind == KindExec {
		p.errorf(d.bodyLimit.key, d.ctx, "body_limit applies to scrape and http sources only")
		return
	}
	n, err := units.ParseBase2Bytes(strings.TrimSpace(text))
	if err != nil || n <= 0 {
		p.errorf(d.bodyLimit.val, d.ctx, "body_limit: bad size %q: want a positive size such as 16MiB or 512KiB", text)
		return
	}
	s.BodyLimit = int64(n)
}
