package rules

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/alecthomas/units"
	"github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"
)

var sourceNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_-]*$`)

// sourceKeys are the keys of a source besides Prometheus' http_config.
var sourceKeys = []string{"scrape", "prometheus", "timeout", "body_limit", "max_concurrency"}

// sources reads the sources section; every name is declared even when its
// definition has errors, so that metrics using it report nothing more.
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
		if !p.mappingOf(e, ctx, false) {
			continue
		}
		var httpPairs []pair
		set := map[string]pair{}
		for _, kv := range p.entries(e.val, ctx, "key") {
			switch k := kv.key.Value; {
			case slices.Contains(sourceKeys, k):
				set[k] = kv
			default: // Prometheus' http_config, checked by httpConfig
				httpPairs = append(httpPairs, kv)
			}
		}
		p.sourceURL(s, e, set, ctx)
		p.sourceLimits(f, s, set, ctx)
		if len(httpPairs) > 0 && p.httpConfig(s, e.key, httpPairs, ctx) {
			p.httpClient(s, e.val, ctx)
		}
	}
}

// sourceURL reads the one of scrape/prometheus that names the source's kind.
func (p *parser) sourceURL(s *Source, e pair, set map[string]pair, ctx string) {
	sc, hasScrape := set["scrape"]
	pr, hasProm := set["prometheus"]
	var u pair
	switch {
	case hasScrape && hasProm:
		p.errorf(pr.key, ctx, "both scrape and prometheus given: a source has one of them")
		return
	case hasScrape:
		s.Kind, u = KindScrape, sc
	case hasProm:
		s.Kind, u = KindPrometheus, pr
	default:
		p.errorf(e.key, ctx, "needs scrape: URL (a /metrics page) or prometheus: URL (a Prometheus API)")
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

// sourceLimits reads timeout and body_limit.
func (p *parser) sourceLimits(f *File, s *Source, set map[string]pair, ctx string) {
	if e, ok := set["timeout"]; ok {
		if d, ok := p.duration(e, ctx); ok {
			switch {
			case d <= 0:
				p.errorf(e.val, ctx, "timeout must be greater than 0")
			case d > f.Interval:
				p.errorf(e.val, ctx, "timeout %s is longer than interval %s", fmtDuration(d), fmtDuration(f.Interval))
			default:
				s.Timeout = d
			}
		}
	}
	if s.Kind == KindScrape {
		s.BodyLimit = DefaultBodyLimit
	}
	if s.Kind == KindPrometheus {
		s.MaxConcurrency = DefaultMaxConcurrency
	}
	if e, ok := set["max_concurrency"]; ok {
		text, ok := p.scalar(e, ctx)
		switch {
		case !ok:
		case s.Kind != KindPrometheus:
			p.errorf(e.key, ctx, "max_concurrency applies to prometheus sources only")
		default:
			n, err := strconv.Atoi(strings.TrimSpace(text))
			if err != nil || n < 1 || n > MaxMaxConcurrency {
				p.errorf(e.val, ctx, "max_concurrency: want a whole number from 1 to %d, got %q", MaxMaxConcurrency, text)
			} else {
				s.MaxConcurrency = n
			}
		}
	}
	if e, ok := set["body_limit"]; ok {
		text, ok := p.scalar(e, ctx)
		if !ok {
			return
		}
		if s.Kind == KindPrometheus {
			p.errorf(e.key, ctx, "body_limit applies to scrape sources only")
			return
		}
		n, err := units.ParseBase2Bytes(strings.TrimSpace(text))
		if err != nil || n <= 0 {
			p.errorf(e.val, ctx, "body_limit: bad size %q: want a positive size such as 16MiB or 512KiB", text)
			return
		}
		s.BodyLimit = int64(n)
	}
}
