package rules

import "github.com/haproxy-agent/agent/internal/haproxyapi"

// KindHAProxy names the haproxy kind of source: HAProxy's own view, read
// with `show stat` on its Runtime API once per cycle. Every numeric column
// is a series named after it (scur, qcur, weight, chkfail...), labelled
// proxy and server, and up is 1 for a row whose status is UP (or "no
// check": in rotation without a health check), else 0.
const KindHAProxy SourceKind = "haproxy"

// HAProxyUp is the series a haproxy source adds to show stat's columns.
const HAProxyUp = "up"

// HAProxyLabel is the label that names a server in a haproxy source's
// series: fleet mode reads its metrics by it.
const HAProxyLabel = "server"

// HAProxyConfig is what a haproxy source reads.
type HAProxyConfig struct {
	// Address is the Runtime API (haproxy: ADDRESS): unix:/path,
	// tcp:HOST:PORT or a socket path.
	Address string
}

var haproxyKind = &srcKind{
	name:      KindHAProxy,
	key:       "haproxy",
	target:    "ADDRESS (HAProxy's Runtime API: unix:/path, tcp:HOST:PORT or a socket path)",
	newConfig: func(*Source) any { return &HAProxyConfig{} },
	check: func(p *parser, s *Source, d sourceDoc) {
		text, ok := p.scalar(d.target, d.ctx)
		if !ok {
			return
		}
		if _, _, err := haproxyapi.ParseAddress(text); err != nil {
			p.errorf(d.target.val, d.ctx, "haproxy: %v", err)
			return
		}
		s.Config.(*HAProxyConfig).Address = text
	},
	metric: seriesMetric(KindHAProxy),
}
