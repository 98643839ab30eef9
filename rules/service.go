package rules

import (
	"fmt"
	"regexp"

	"go.yaml.in/yaml/v3"
)

var serviceNameRe = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)

// services reads the services section into f.Services after the default.
func (p *parser) services(c *compiler, f *File, n *yaml.Node) {
	for _, e := range p.entries(n, "", "service") {
		name := e.key.Value
		ctx := fmt.Sprintf("service %q: ", name)
		switch {
		case name == DefaultService:
			p.errorf(e.key, "", "service name %q is reserved for the top-level rules; put them under rules: or rename the service", name)
			continue
		case !serviceNameRe.MatchString(name):
			p.errorf(e.key, "", "bad service name %q: want letters, digits, _, . and - (it is matched against HAProxy's agent-send line)", name)
			continue
		}
		svc := &Service{Name: name, Pos: posOf(e.key)}
		f.Services = append(f.Services, svc)
		if !p.mappingOf(e, ctx, true) {
			continue
		}
		fs := p.fields(e.val, ctx, []string{"rules"})
		if r, ok := fs["rules"]; ok {
			p.ruleList(c, svc, r, ctx)
		}
	}
}
