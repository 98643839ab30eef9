package rules

import (
	"slices"
	"strings"
)

// srcKind is one kind of source: the key that names it, the keys it takes,
// how a source and a metric of it are checked, and what its metrics are
// (selections from series, or PromQL queries). srcKinds lists every kind:
// nothing else in the parser switches on a source's kind.
//
// Adding a kind takes three pieces, each in a file of its own:
//
//  1. rules/source_NAME.go: its settings type (what Source.Config holds,
//     with a doc comment per key), a kind value whose check reads the
//     source's keys into it and whose metric checks a metric's select, and
//     the value added to srcKinds below;
//  2. internal/source/NAME.go: its reader, added to that package's readers
//     table (the reader takes Source.Config);
//  3. docs/rules.md: a section with every key and a worked example.
//
// Backtests need nothing more: a kind whose metrics are not queries reads
// the history: query of each metric, as scrape and host do.
type srcKind struct {
	name SourceKind
	// key names the kind in a source and holds its target (scrape: URL);
	// empty for a predeclared kind, which a file cannot define.
	key string
	// target says what key takes, for the message of a source without a
	// kind: "URL (a /metrics page)".
	target string
	// options are the kind's own keys besides key and timeout.
	options []string
	// http says whether the source takes Prometheus' http_config keys
	// inline; for a kind without, any other key is unknown.
	http bool
	// query says whether a metric of the kind is a PromQL query (query:),
	// which is its own history and may return a vector by server; the
	// metrics of other kinds select series (select:) and take history:.
	query bool
	// newConfig returns the kind's settings with their defaults, for a
	// source whose timeout is already set.
	newConfig func(s *Source) any
	// check reads the kind's target (the value of key) and options into
	// s.Config; each problem is reported at its key.
	check func(p *parser, s *Source, d sourceDoc)
	// metric checks the select or query of a metric of the kind and fills
	// m; it reports the first problem and returns false then.
	metric func(p *parser, m *Metric, d metricDoc, ref metricRef) bool
}

// srcKinds is the table of source kinds, in the order messages list them.
// init fills it: a kind's checks name the other kinds in messages.
var srcKinds []*srcKind

func init() {
	srcKinds = []*srcKind{scrapeKind, prometheusKind, httpKind, execKind, haproxyKind, hostKind}
}

// kindOf returns the kind named name, or nil.
func kindOf(name SourceKind) *srcKind {
	for _, k := range srcKinds {
		if k.name == name {
			return k
		}
	}
	return nil
}

// kindKeys are the keys that name a kind in a source.
func kindKeys() []string {
	var keys []string
	for _, k := range srcKinds {
		if k.key != "" {
			keys = append(keys, k.key)
		}
	}
	return keys
}

// sourceKeys are the keys of a source besides Prometheus' http_config:
// the kinds' keys, timeout, and every kind's options.
func sourceKeys() []string {
	keys := append(kindKeys(), "timeout")
	for _, k := range srcKinds {
		for _, o := range k.options {
			if !slices.Contains(keys, o) {
				keys = append(keys, o)
			}
		}
	}
	return keys
}

// kindNames lists the names of the kinds for which keep holds, as "a and
// b" or "a, b and c".
func kindNames(keep func(*srcKind) bool) string {
	var names []string
	for _, k := range srcKinds {
		if keep(k) {
			names = append(names, string(k.name))
		}
	}
	return andList(names)
}

// andList joins names as "a", "a and b" or "a, b and c".
func andList(names []string) string {
	if len(names) <= 1 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// HasQuery reports whether the metrics of source s are PromQL queries,
// their own history, rather than series selected from what it reads.
func HasQuery(s *Source) bool {
	k := kindOf(s.Kind)
	return k != nil && k.query
}

// queryKinds names the kinds whose metrics are queries, selectKinds the
// others, for messages: "prometheus", "scrape and host".
func queryKinds() string  { return kindNames(func(k *srcKind) bool { return k.query }) }
func selectKinds() string { return kindNames(func(k *srcKind) bool { return !k.query }) }
