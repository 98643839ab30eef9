package rules

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"

	"github.com/haproxy-agent/agent/internal/yamlnode"
)

// httpSettings is what a source holds besides the agent's own keys:
// Prometheus' http_config, inline, as blackbox_exporter's modules hold it.
// Inline, HTTPClientConfig's own UnmarshalYAML (which sets the defaults and
// validates) is not called: the defaults are set before decoding, and
// Validate runs as a pass of its own.
type httpSettings struct {
	config.HTTPClientConfig `yaml:",inline"`
}

// httpVocabulary lists the keys of Prometheus' http_config at every depth.
// It only feeds did-you-mean suggestions: which keys are known where is
// asked of the YAML library itself (see httpProbe), so a key Prometheus
// adds is accepted even before it is listed here.
var httpVocabulary = []string{
	"basic_auth", "authorization", "oauth2", "bearer_token", "bearer_token_file", "tls_config",
	"follow_redirects", "enable_http2", "proxy_url", "no_proxy", "proxy_from_environment",
	"proxy_connect_header", "http_headers",
	"username", "username_file", "username_ref", "password", "password_file", "password_ref",
	"type", "credentials", "credentials_file", "credentials_ref",
	"client_id", "client_secret", "client_secret_file", "client_secret_ref", "scopes", "token_url",
	"endpoint_params", "grant_type", "signature_algorithm", "iss", "audience", "claims",
	"client_certificate_key", "client_certificate_key_file", "client_certificate_key_id", "client_certificate_key_ref",
	"ca", "ca_file", "ca_ref", "cert", "cert_file", "cert_ref", "key", "key_file", "key_ref",
	"server_name", "insecure_skip_verify", "min_version", "max_version",
	"values", "secrets", "files",
}

// maxHTTPDepth bounds how deep the HTTP settings are walked; Prometheus'
// go three levels down (oauth2 → tls_config → ca_file).
const maxHTTPDepth = 8

// httpConfig decodes the HTTP settings of source s (pairs, the source's
// keys that are not the agent's own) into Prometheus' type. Every key is
// checked first, where it stands: one the type does not know is reported
// with a suggestion, a value of the wrong type at the deepest key at
// fault. Then the whole is decoded and validated (at, the source's name,
// gives the position of a conflict between keys). Relative file names are
// taken from the rule file's directory. It reports whether the settings
// loaded.
func (p *parser) httpConfig(h *config.HTTPClientConfig, at *yaml.Node, pairs []pair, ctx string) bool {
	ok := true
	for _, kv := range pairs {
		switch path := []string{kv.key.Value}; {
		case !p.probe.known(path):
			p.unknownKey(kv.key, ctx, append(sourceKeys(), p.probe.candidates(nil)...))
			ok = false
		case !p.httpKeys(kv.val, path, ctx, 1):
			ok = false
		default:
			ok = p.httpValue(kv, nil, ctx) && ok
		}
	}
	if !ok {
		return false
	}
	cfg := httpSettings{config.DefaultHTTPClientConfig}
	if err := decodeNode(mappingOf(pairs), &cfg); err != nil {
		p.errorf(at, ctx, "%s", typeErrorText(err))
		return false
	}
	if err := cfg.Validate(); err != nil {
		p.errorf(at, ctx, "%v", err)
		return false
	}
	cfg.SetDirectory(p.dir())
	*h = cfg.HTTPClientConfig
	return true
}

// httpKeys checks n, found at path: where Prometheus' type wants a mapping
// it must be one, each of its keys must be one the type knows there, and
// so on down.
func (p *parser) httpKeys(n *yaml.Node, path []string, ctx string, depth int) bool {
	n = yamlnode.Deref(n)
	if yamlnode.IsNull(n) || depth > maxHTTPDepth || !p.probe.mapping(path) {
		return true // a value that is not a mapping: decoding checks it
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, ctx, "%s: want a mapping, got %s", strings.Join(path, "."), yamlnode.KindName(n))
		return false
	}
	before := len(p.errs)
	entries := p.entries(n, ctx, "key")
	ok := len(p.errs) == before // no duplicate, merge or non-string keys
	for _, e := range entries {
		sub := append(slices.Clip(path), e.key.Value)
		if !p.probe.known(sub) {
			where := path[len(path)-1]
			if s := yamlnode.Suggest(e.key.Value, p.probe.candidates(path)); s != "" {
				p.errorf(e.key, ctx, "unknown key %q in %s; did you mean %q?", e.key.Value, where, s)
			} else {
				p.errorf(e.key, ctx, "unknown key %q in %s", e.key.Value, where)
			}
			ok = false
			continue
		}
		ok = p.httpKeys(e.val, sub, ctx, depth+1) && ok
	}
	return ok
}

// httpValue decodes one entry of the settings, under the keys of parents,
// and reports an error at the deepest key whose value alone fails to
// decode: a type error belongs to one value, so each child of a failing
// mapping is tried on its own. A failure that is not a type error (a
// check of the mapping as a whole, such as two CAs in one tls_config) is
// reported at the entry itself.
func (p *parser) httpValue(kv pair, parents []pair, ctx string) bool {
	err := decodeNode(nest(parents, kv), &httpSettings{config.DefaultHTTPClientConfig})
	if err == nil {
		return true
	}
	var te *yaml.TypeError
	if v := yamlnode.Deref(kv.val); errors.As(err, &te) && v != nil && v.Kind == yaml.MappingNode && len(parents) < maxHTTPDepth {
		for i := 0; i+1 < len(v.Content); i += 2 {
			child := pair{key: v.Content[i], val: v.Content[i+1]}
			if !p.httpValue(child, append(slices.Clip(parents), kv), ctx) {
				return false
			}
		}
	}
	name := kv.key.Value
	if len(parents) > 0 {
		name = parents[len(parents)-1].key.Value + "." + name
	}
	p.errorf(kv.key, ctx, "%s: %s", name, typeErrorText(err))
	return false
}

// typeErrorText is the message of a decoding error without the library's
// "yaml: unmarshal errors:" and "line N:" prefixes: the caller gives the
// position.
func typeErrorText(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err.Error()
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		if strings.HasPrefix(m, "line ") {
			if _, rest, ok := strings.Cut(m, ": "); ok {
				m = rest
			}
		}
		msgs[i] = m
	}
	return strings.Join(msgs, "; ")
}

// decodeNode decodes n into v, containing any panic of the library.
func decodeNode(n *yaml.Node, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot decode: %v", r)
		}
	}()
	return n.Decode(v)
}

// mappingOf makes a mapping node of pairs.
func mappingOf(pairs []pair) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, kv := range pairs {
		m.Content = append(m.Content, kv.key, kv.val)
	}
	return m
}

// nest makes the mapping {p0: {p1: ... {kv}}} of parents' keys around kv,
// so that kv decodes where it stands, alone.
func nest(parents []pair, kv pair) *yaml.Node {
	n := mappingOf([]pair{kv})
	for i := len(parents) - 1; i >= 0; i-- {
		n = mappingOf([]pair{{key: parents[i].key, val: n}})
	}
	return n
}

// httpProbe asks the YAML library, with KnownFields set, which keys
// Prometheus' http_config knows where, by decoding small documents that
// it writes itself (key names only, no values of the file). Answers are
// kept for the parse: a file asks about each path once.
type httpProbe struct {
	answers map[string]bool
}

// known reports whether path, keys from the top of the settings, names a
// field: the document {p0: {p1: ... null}} decodes without a type error.
func (pr *httpProbe) known(path []string) bool {
	return pr.ask(path, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"})
}

// mapping reports whether the field at path takes a mapping, so that its
// keys are worth checking: {p0: ... {}} decodes without a type error.
func (pr *httpProbe) mapping(path []string) bool {
	return pr.ask(path, &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"})
}

// candidates returns the words of httpVocabulary known under path.
func (pr *httpProbe) candidates(path []string) []string {
	var out []string
	for _, w := range httpVocabulary {
		if pr.known(append(slices.Clip(path), w)) {
			out = append(out, w)
		}
	}
	return out
}

// ask decodes, strictly, leaf under the keys of path. An error that is
// not a type error (a check that the whole mapping fails, such as oauth2's
// need of a client_id) still means the keys were known.
func (pr *httpProbe) ask(path []string, leaf *yaml.Node) bool {
	id := fmt.Sprintf("%d%q", leaf.Kind, path)
	if ok, seen := pr.answers[id]; seen {
		return ok
	}
	n := leaf
	for i := len(path) - 1; i >= 0; i-- {
		n = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: path[i]}, n,
		}}
	}
	ok := false
	if text, err := yaml.Marshal(n); err == nil {
		dec := yaml.NewDecoder(bytes.NewReader(text))
		dec.KnownFields(true)
		var te *yaml.TypeError
		err := yamlnode.Decode(dec, &httpSettings{})
		ok = !errors.As(err, &te)
	}
	if pr.answers == nil {
		pr.answers = map[string]bool{}
	}
	pr.answers[id] = ok
	return ok
}
