package rules

import "go.yaml.in/yaml/v3"

// A rule file is read as Prometheus' model/rulefmt reads one, in two
// passes: each part (the top-level mapping, a source, a metric, a rule, a
// service, the reply and fleet sections) is first decoded into a plain
// struct, its *Doc type, which keeps the YAML key and value nodes of its
// fields for positions; decoding checks only the part's shape (a mapping
// or a string, and its keys). Then a check pass reads that struct,
// validates it and compiles it into the File. A part is decoded when the
// check reaches it, not the whole file first: nothing past a limit
// (MaxRules, MaxMetrics...) is decoded, and problems found at the same
// place, through a YAML alias used twice, keep the order of the parts.

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
