package rules

import (
	"go.yaml.in/yaml/v3"
)

// sourceKeys are the keys of a source besides Prometheus' http_config.
var sourceKeys = []string{"scrape", "prometheus", "http", "exec", "timeout", "body_limit", "max_concurrency",
	"method", "headers", "body", "valid_status_codes", "json", "env", "dir"}

// kindKeys are the keys that name a source's kind and its address.
var kindKeys = []string{"scrape", "prometheus", "http", "exec"}

// probeKeys are the keys of http sources only, execKeys those of exec
// sources only.
var (
	probeKeys = []string{"method", "headers", "body", "valid_status_codes", "json"}
	execKeys  = []string{"env", "dir"}
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

	scrape, prometheus, probe, exec    pair
	timeout, bodyLimit, maxConcurrency pair
	// opts holds the keys of one kind only (probeKeys, execKeys) by name.
	opts map[string]pair
	http []pair
}

// decodeSource decodes the definition of the source named by e.key,
// reporting a definition that is not a mapping, and keys that are not
// strings or are given twice.
func (p *parser) decodeSource(e pair, ctx string) (d sourceDoc, ok bool) {
	if !p.mappingOf(e, ctx, false) {
		return d, false
	}
	d = sourceDoc{key: e.key, node: e.val, ctx: ctx, opts: map[string]pair{}}
	for _, kv := range p.entries(e.val, ctx, "key") {
		switch kv.key.Value {
		case "scrape":
			d.scrape = kv
		case "prometheus":
			d.prometheus = kv
		case "http":
			d.probe = kv
		case "exec":
			d.exec = kv
		case "method", "headers", "body", "valid_status_codes", "json", "env", "dir":
			d.opts[kv.key.Value] = kv
		case "timeout":
			d.timeout = kv
		case "body_limit":
			d.bodyLimit = kv
		case "max_concurrency":
			d.maxConcurrency = kv
		default: // Prometheus' http_config, checked by httpConfig
			d.http = append(d.http, kv)
		}
	}
	return d, true
}

// checkSource checks a decoded source into s: its kind and address, its
// limits and the options of its kind, then its HTTP settings and the
// client serve would build.
func (p *parser) checkSource(f *File, s *Source, d sourceDoc) {
	p.sourceURL(s, d)
	p.sourceLimits(f, s, d)
	p.kindOptions(s, d)
	if len(d.http) > 0 && s.Kind == KindExec {
		k := d.http[0].key
		if p.probe.known([]string{k.Value}) {
			p.errorf(k, d.ctx, "%s: an exec source takes no HTTP settings", k.Value)
		} else {
			p.unknownKey(k, d.ctx, []string{"exec", "timeout", "env", "dir"})
		}
		return
	}
	if len(d.http) > 0 && p.httpConfig(s, d.key, d.http, d.ctx) {
		p.httpClient(s, d.node, d.ctx)
	}
}
