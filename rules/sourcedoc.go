package rules

import (
	"slices"

	"github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"
)

// sourceDoc is one entry of the sources section as the file writes it:
// decoded, nothing checked but the keys' syntax. The agent's own keys
// keep their key and value nodes (the zero pair when absent); every other
// key is Prometheus' http_config, inline, which the check pass decodes
// into its type (httpConfig).
type sourceDoc struct {
	key  *yaml.Node // the source's name
	node *yaml.Node // its mapping
	ctx  string     // prefixes every message about the source

	// kinds are the keys that name a kind (scrape, prometheus...), in
	// file order: one is expected.
	kinds []pair
	// target is the one of kinds the source is of, once checkSource found it.
	target  pair
	timeout pair
	// options are the kinds' own keys, in file order.
	options []pair
	http    []pair
}

// option returns the option named name, or the zero pair.
func (d sourceDoc) option(name string) pair {
	for _, o := range d.options {
		if o.key.Value == name {
			return o
		}
	}
	return pair{}
}

// decodeSource decodes the definition of the source named by e.key,
// reporting a definition that is not a mapping, and keys that are not
// strings or are given twice.
func (p *parser) decodeSource(e pair, ctx string) (d sourceDoc, ok bool) {
	if !p.mappingOf(e, ctx, false) {
		return d, false
	}
	d = sourceDoc{key: e.key, node: e.val, ctx: ctx}
	kindKeys, keys := kindKeys(), sourceKeys()
	for _, kv := range p.entries(e.val, ctx, "key") {
		switch k := kv.key.Value; {
		case slices.Contains(kindKeys, k):
			d.kinds = append(d.kinds, kv)
		case k == "timeout":
			d.timeout = kv
		case slices.Contains(keys, k):
			d.options = append(d.options, kv)
		default: // Prometheus' http_config, checked by httpConfig
			d.http = append(d.http, kv)
		}
	}
	return d, true
}

// checkSource checks a decoded source into s: its kind, then the kind's
// target and options, its timeout, and its HTTP settings and the client
// serve would build.
func (p *parser) checkSource(f *File, s *Source, d sourceDoc) {
	k := p.sourceKind(&d)
	p.sourceTimeout(f, s, d)
	if k == nil {
		return
	}
	s.Kind, s.Config = k.name, k.newConfig(s)
	k.check(p, s, d)
	for _, o := range d.options {
		if !slices.Contains(k.options, o.key.Value) {
			p.errorf(o.key, d.ctx, "%s applies to %s sources only", o.key.Value,
				kindNames(func(k *srcKind) bool { return slices.Contains(k.options, o.key.Value) }))
		}
	}
	if len(d.http) == 0 {
		return
	}
	if !k.http {
		for _, kv := range d.http {
			p.unknownKey(kv.key, d.ctx, append([]string{k.key, "timeout"}, k.options...))
		}
		return
	}
	h := s.Config.(interface {
		httpSettings() *config.HTTPClientConfig
	}).httpSettings()
	if p.httpConfig(h, d.key, d.http, d.ctx) {
		p.httpClient(h, d.node, d.ctx)
	}
}
