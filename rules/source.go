package rules

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/alecthomas/units"
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
		s := &Source{Name: name, Timeout: min(DefaultTimeout, f.Interval), Pos: posOf(e.key)}
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

// sourceKind finds the kind of the source: the one key of a kind it
// has, which becomes d.target. It reports a source with none or several.
func (p *parser) sourceKind(d *sourceDoc) *srcKind {
	switch len(d.kinds) {
	case 0:
		var want []string
		for _, k := range srcKinds {
			if k.key != "" {
				want = append(want, k.key+": "+k.target)
			}
		}
		p.errorf(d.key, d.ctx, "needs %s", orList(want))
		return nil
	case 1:
		d.target = d.kinds[0]
		for _, k := range srcKinds {
			if k.key == d.target.key.Value {
				return k
			}
		}
		return nil
	}
	p.errorf(d.kinds[1].key, d.ctx, "both %s and %s given: a source has one of them", d.kinds[0].key.Value, d.kinds[1].key.Value)
	return nil
}

// sourceURL returns the URL the kind's key names, or "" when it is not
// an absolute http(s) URL (reported).
func (p *parser) sourceURL(d sourceDoc) string {
	u := d.target
	text, ok := p.scalar(u, d.ctx)
	if !ok {
		return ""
	}
	if err := checkURL(text); err != nil {
		p.errorf(u.val, d.ctx, "%s: bad URL %q: %v", u.key.Value, text, err)
		return ""
	}
	return text
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

// sourceTimeout reads timeout, which every kind takes.
func (p *parser) sourceTimeout(f *File, s *Source, d sourceDoc) {
	if !d.timeout.given() {
		return
	}
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

// bodyLimit reads body_limit into limit.
func (p *parser) bodyLimit(limit *int64, d sourceDoc) {
	o := d.option("body_limit")
	if !o.given() {
		return
	}
	text, ok := p.scalar(o, d.ctx)
	if !ok {
		return
	}
	n, err := units.ParseBase2Bytes(strings.TrimSpace(text))
	if err != nil || n <= 0 {
		p.errorf(o.val, d.ctx, "body_limit: bad size %q: want a positive size such as 16MiB or 512KiB", text)
		return
	}
	*limit = int64(n)
}

// orList joins names as "a", "a or b" or "a, b or c".
func orList(names []string) string {
	if len(names) <= 1 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
