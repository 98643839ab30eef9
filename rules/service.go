package rules

import (
	"fmt"
	"regexp"

	"go.yaml.in/yaml/v3"

	"github.com/haproxy-agent/agent/internal/yamlnode"
)

var serviceNameRe = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)

// MaxNameLen caps a service's or a fleet server's name, in bytes: the
// responder reads at most 256 bytes of a poll's agent-send line
// (internal/responder), and the name must fit with "\r\n" after it. A
// longer name could never be polled.
const MaxNameLen = 254

// nameProblem says why name cannot name a service or a fleet server
// (what: "service" or "server"), or "".
func nameProblem(what, name string) string {
	switch {
	case name == DefaultService:
		return fmt.Sprintf("bad %s name %q: it names the default service, which polls without agent-send get", what, name)
	case len(name) > MaxNameLen:
		return fmt.Sprintf("%s name too long: %d bytes, the limit is %d (HAProxy's agent-send line, read up to 256 bytes with its line end)", what, len(name), MaxNameLen)
	case !serviceNameRe.MatchString(name):
		return fmt.Sprintf("bad %s name %q: want letters, digits, _, . and - (it is matched against HAProxy's agent-send line)", what, shorten(name))
	}
	return ""
}

// services reads the services section into f.Services after the default.
// Each service is decoded (decodeService), then its rules are read.
func (p *parser) services(c *compiler, f *File, n *yaml.Node) {
	for i, e := range p.entries(n, "", "service") {
		if i >= MaxServices {
			p.errorf(e.key, "", "too many services: the limit is %d", MaxServices)
			return
		}
		name := e.key.Value
		ctx := fmt.Sprintf("service %q: ", name)
		switch {
		case name == DefaultService:
			p.errorf(e.key, "", "service name %q is reserved for the top-level rules; put them under rules: or rename the service", name)
			continue
		case nameProblem("service", name) != "":
			p.errorf(e.key, "", "%s", nameProblem("service", name))
			continue
		}
		svc := &Service{Name: name, Pos: posOf(e.key)}
		f.Services = append(f.Services, svc)
		if d, ok := p.decodeService(e, ctx); ok && d.rules.given() {
			p.ruleList(c, svc, d.rules, ctx)
		}
	}
}

// serviceDoc is one entry of the services section as the file writes it.
type serviceDoc struct {
	rules pair // the zero pair when absent
}

// decodeService decodes the definition of the service named by e.key: a
// mapping, whose keys it checks. A service with nothing after its name may
// be a file cut short: one without rules says so with {} or rules: [].
func (p *parser) decodeService(e pair, ctx string) (serviceDoc, bool) {
	if yamlnode.IsNull(e.val) {
		p.errorf(e.key, ctx, "missing value: a file cut short must not load as a service without rules; write {} or \"rules: []\" for none")
		return serviceDoc{}, false
	}
	if !p.mappingOf(e, ctx, false) {
		return serviceDoc{}, false
	}
	fs := p.fields(e.val, ctx, []string{"rules"})
	return serviceDoc{rules: fs["rules"]}, true
}
