package rules

import "go.yaml.in/yaml/v3"

// topKeys are the keys a rule file may have, in the order they are checked.
var topKeys = []string{"interval", "stale_after", "sources", "metrics", "rules", "services", "reply", "fleet"}

// fileDoc is the top-level mapping of a rule file as it is written:
// decoded and its keys checked, nothing more. Each section keeps its key
// and value nodes (the zero pair when absent) for the check pass
// (checkFile), which reads the sections in dependency order.
type fileDoc struct {
	interval, staleAfter pair
	sources, metrics     pair
	rules, services      pair
	reply, fleet         pair
}

// decodeFile decodes the top-level mapping, reporting unknown and
// duplicate keys.
func (p *parser) decodeFile(root *yaml.Node) fileDoc {
	fs := p.fields(root, "", topKeys)
	return fileDoc{
		interval: fs["interval"], staleAfter: fs["stale_after"],
		sources: fs["sources"], metrics: fs["metrics"],
		rules: fs["rules"], services: fs["services"],
		reply: fs["reply"], fleet: fs["fleet"],
	}
}
