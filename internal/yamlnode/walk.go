package yamlnode

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Pair is one entry of a mapping: its key, and its value with aliases
// followed.
type Pair struct{ Key, Val *yaml.Node }

// Report receives a problem found while walking: the node at fault and
// the message. The walker's owner adds the file, the position and any
// context.
type Report func(at *yaml.Node, msg string)

// Reportf formats a message for r.
func (r Report) Reportf(at *yaml.Node, format string, args ...any) {
	r(at, fmt.Sprintf(format, args...))
}

// EachEntry calls each for the entries of mapping n in order, n and the
// values followed through aliases (an alias is what it names, everywhere
// in the agent's files). It reports keys that are not plain strings,
// merge keys (<<) and keys given twice (what names the keys in that
// message, e.g. "key"), and skips them: of two equal keys the first counts.
func EachEntry(n *yaml.Node, what string, report Report, each func(Pair)) {
	n = Deref(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return
	}
	seen := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], Deref(n.Content[i+1])
		switch {
		case k.Kind != yaml.ScalarNode:
			report.Reportf(k, "keys must be strings, not %s", KindName(k))
			continue
		case k.Tag == "!!merge":
			report(k, "YAML merge keys (<<) are not supported")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			report.Reportf(k, "duplicate %s %q (first at %d:%d)", what, k.Value, first.Line, first.Column)
			continue
		}
		seen[k.Value] = k
		each(Pair{Key: k, Val: v})
	}
}

// Entries returns the entries of mapping n in order: see EachEntry.
func Entries(n *yaml.Node, what string, report Report) []Pair {
	var out []Pair
	EachEntry(n, what, report, func(e Pair) { out = append(out, e) })
	return out
}

// Fields returns the entries of mapping n by key, reporting every key not
// in known (see UnknownKey) besides what EachEntry reports.
func Fields(n *yaml.Node, known []string, report Report) map[string]Pair {
	out := make(map[string]Pair, len(known))
	EachEntry(n, "key", report, func(e Pair) {
		if !slices.Contains(known, e.Key.Value) {
			report(e.Key, UnknownKey(e.Key.Value, known))
			return
		}
		out[e.Key.Value] = e
	})
	return out
}

// UnknownKey says that key is not one of known: with a suggestion when
// one is near, or else with the list.
func UnknownKey(key string, known []string) string {
	if s := Suggest(key, known); s != "" {
		return fmt.Sprintf("unknown key %q; did you mean %q?", key, s)
	}
	return fmt.Sprintf("unknown key %q (want one of %s)", key, strings.Join(known, ", "))
}

// Scalar returns the text of e's value, reporting a value that is missing
// or not a single value.
func Scalar(e Pair, report Report) (string, bool) {
	switch {
	case IsNull(e.Val):
		report.Reportf(e.Key, "%s: missing value", e.Key.Value)
		return "", false
	case e.Val.Kind != yaml.ScalarNode:
		report.Reportf(e.Val, "%s: want a single value, got %s", e.Key.Value, KindName(e.Val))
		return "", false
	}
	return e.Val.Value, true
}

// List returns the items of e's value, each followed through aliases;
// null is an empty list. It reports a value that is not a list.
func List(e Pair, report Report) ([]*yaml.Node, bool) {
	if IsNull(e.Val) {
		return nil, true
	}
	if e.Val.Kind != yaml.SequenceNode {
		report.Reportf(e.Val, "%s: want a list, got %s", e.Key.Value, KindName(e.Val))
		return nil, false
	}
	items := make([]*yaml.Node, len(e.Val.Content))
	for i, n := range e.Val.Content {
		items[i] = Deref(n)
	}
	return items, true
}

// Mapping reports whether e's value is a mapping, reporting it when it is
// not; null is reported as a missing value unless allowNull, and is never
// a mapping.
func Mapping(e Pair, allowNull bool, report Report) bool {
	if IsNull(e.Val) {
		if !allowNull {
			report.Reportf(e.Key, "%s: missing value", e.Key.Value)
		}
		return false
	}
	if e.Val.Kind != yaml.MappingNode {
		report.Reportf(e.Val, "%s: want a mapping, got %s", e.Key.Value, KindName(e.Val))
		return false
	}
	return true
}
