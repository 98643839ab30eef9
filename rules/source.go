package rules

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/alecthomas/units"
	"github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"

	"github.com/haproxy-agent/agent/internal/yamlnode"
)

var sourceNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_-]*$`)

// sourceKeys are the keys of a source besides Prometheus' http_config.
var sourceKeys = []string{"scrape", "prometheus", "timeout", "body_limit", "max_concurrency"}

// httpKeys are the keys of Prometheus' http_config, read from its type.
var httpKeys = yamlKeys(reflect.TypeFor[config.HTTPClientConfig]())

// sources reads the sources section; every name is declared even when its
// definition has errors, so that metrics using it report nothing more.
func (p *parser) sources(f *File, n *yaml.Node) {
	all := append(append([]string(nil), sourceKeys...), httpKeys...)
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
			case slices.Contains(httpKeys, k):
				httpPairs = append(httpPairs, kv)
			default:
				p.unknownKey(kv.key, ctx, all)
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

var (
	yamlFieldRe = regexp.MustCompile(`field (\S+) not found in type (\S+)`)
	yamlLinePfx = regexp.MustCompile(`^line \d+: `)
)

// httpConfig decodes the http_config keys of a source with yaml.v3 into
// Prometheus' type, which validates itself. Decoding goes through encoded
// text because only a Decoder can refuse unknown keys. Relative file names
// are taken from the rule file's directory. It reports whether the settings
// decoded.
func (p *parser) httpConfig(s *Source, at *yaml.Node, pairs []pair, ctx string) bool {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, kv := range pairs {
		m.Content = append(m.Content, kv.key, kv.val)
	}
	text, err := yaml.Marshal(m)
	if err != nil {
		p.errorf(at, ctx, "http settings: %v", err)
		return false
	}
	dec := yaml.NewDecoder(bytes.NewReader(text))
	dec.KnownFields(true)
	cfg := config.DefaultHTTPClientConfig
	err = decodeValue(dec, &cfg)
	if err == nil {
		cfg.SetDirectory(p.dir())
		s.HTTP = cfg
		return true
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		p.errorf(at, ctx, "%v", err)
		return false
	}
	for _, msg := range te.Errors {
		msg = yamlLinePfx.ReplaceAllString(msg, "")
		if f := yamlFieldRe.FindStringSubmatch(msg); f != nil {
			if k, parent, path := findKey(pairs, f[1]); k != nil {
				known := keysAt(path)
				where := ""
				if parent != "" {
					where = " in " + parent
				}
				if sug := yamlnode.Suggest(k.Value, known); sug != "" {
					p.errorf(k, ctx, "unknown key %q%s; did you mean %q?", k.Value, where, sug)
				} else {
					p.errorf(k, ctx, "unknown key %q%s", k.Value, where)
				}
				continue
			}
		}
		p.errorf(at, ctx, "%s", msg)
	}
	return false
}

// decodeValue decodes one document, containing any panic of the library.
func decodeValue(dec *yaml.Decoder, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot decode: %v", r)
		}
	}()
	return dec.Decode(v)
}

// findKey finds, depth first, a mapping key named name under the pairs,
// and returns it with its parent's key and the path of keys to the parent.
func findKey(pairs []pair, name string) (key *yaml.Node, parent string, path []string) {
	var walk func(n *yaml.Node, path []string, depth int) (*yaml.Node, []string)
	walk = func(n *yaml.Node, path []string, depth int) (*yaml.Node, []string) {
		// Aliases are not followed: what they name is found where it is
		// defined, and following them could take exponential time.
		if n == nil || n.Kind != yaml.MappingNode || depth > 16 {
			return nil, nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == name {
				return n.Content[i], path
			}
			if k, p := walk(n.Content[i+1], append(path, n.Content[i].Value), depth+1); k != nil {
				return k, p
			}
		}
		return nil, nil
	}
	for _, kv := range pairs {
		if k, p := walk(kv.val, []string{kv.key.Value}, 0); k != nil {
			return k, p[len(p)-1], p
		}
	}
	return nil, "", nil
}

// keysAt returns the yaml keys of the http_config struct found by following
// path from HTTPClientConfig.
func keysAt(path []string) []string {
	t := reflect.TypeFor[config.HTTPClientConfig]()
	for _, name := range path {
		ft, ok := fieldByYAML(t, name)
		if !ok {
			return nil
		}
		t = ft
	}
	return yamlKeys(t)
}

// fieldByYAML returns the (dereferenced) type of the field of struct t that
// YAML calls name.
func fieldByYAML(t reflect.Type, name string) (reflect.Type, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil, false
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")
		if len(tag) > 1 && tag[1] == "inline" {
			if ft, ok := fieldByYAML(f.Type, name); ok {
				return ft, true
			}
			continue
		}
		if tag[0] == name {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			return ft, true
		}
	}
	return nil, false
}

// yamlKeys lists the yaml keys of struct t, inline fields included.
func yamlKeys(t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")
		switch {
		case len(tag) > 1 && tag[1] == "inline":
			keys = append(keys, yamlKeys(f.Type)...)
		case tag[0] != "" && tag[0] != "-":
			keys = append(keys, tag[0])
		}
	}
	return keys
}
