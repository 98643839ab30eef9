package rules

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/haproxy-agent/agent/internal/yamlnode"
)

// parser collects every problem of one file while walking its YAML nodes.
type parser struct {
	file  string
	data  []byte
	lines []string // the file's lines, split on first use
	errs  Errors
	probe httpProbe // which keys http_config knows where, asked once per parse
}

// pair is one entry of a YAML mapping.
type pair struct{ key, val *yaml.Node }

func posOf(n *yaml.Node) Pos { return Pos{Line: n.Line, Col: n.Column} }

// errAt records a problem at pos; ctx prefixes the message, e.g. `rule "x": `.
func (p *parser) errAt(pos Pos, ctx, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Pos: pos, Msg: ctx + fmt.Sprintf(format, args...)})
}

// errorf records a problem at the node's position.
func (p *parser) errorf(n *yaml.Node, ctx, format string, args ...any) {
	p.errAt(posOf(n), ctx, format, args...)
}

// sorted returns the problems in file order, duplicates removed.
func (p *parser) sorted() Errors {
	sort.SliceStable(p.errs, func(i, j int) bool {
		a, b := p.errs[i].Pos, p.errs[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	out := p.errs[:0]
	for i, e := range p.errs {
		if i > 0 && *e == *p.errs[i-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}

// line returns the text of a 1-based line, or "".
func (p *parser) line(n int) string {
	return yamlnode.Line(p.allLines(), n)
}

// allLines returns the file's lines, splitting them on first use.
func (p *parser) allLines() []string {
	if p.lines == nil {
		p.lines = yamlnode.Lines(p.data)
	}
	return p.lines
}

// innerPos maps a position inside a scalar's value (byte offset off, then
// line and col, both 1-based, within the text that starts there) to a
// position in the file. It succeeds only when the scalar sits on one line
// and its text appears verbatim in the file, so a reported column is never
// a guess; ok is false otherwise.
func (p *parser) innerPos(n *yaml.Node, off, line, col int) (pos Pos, ok bool) {
	if line != 1 || off < 0 || off > len(n.Value) {
		return Pos{}, false
	}
	inner := n.Value[off:]
	b := 0
	for c := 1; c < col && b < len(inner); c++ {
		_, size := utf8.DecodeRuneInString(inner[b:])
		b += size
	}
	c, ok := yamlnode.ValueCol(p.line(n.Line), n, off+b)
	if !ok {
		return Pos{}, false
	}
	return Pos{Line: n.Line, Col: c}, true
}

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 64; i++ {
		n = n.Alias
	}
	return n
}

// entries returns a mapping's pairs in order; it reports keys that are not
// plain strings and keys given twice (what names the keys, e.g. "source").
// The first of two equal keys is kept.
func (p *parser) entries(n *yaml.Node, ctx, what string) []pair {
	n = deref(n)
	pairs := make([]pair, 0, len(n.Content)/2)
	seen := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, ctx, "keys must be strings, not %s", yamlnode.KindName(k))
			continue
		}
		if k.Tag == "!!merge" {
			p.errorf(k, ctx, "YAML merge keys (<<) are not supported")
			continue
		}
		if first, dup := seen[k.Value]; dup {
			p.errorf(k, ctx, "duplicate %s %q (first at %d:%d)", what, k.Value, first.Line, first.Column)
			continue
		}
		seen[k.Value] = k
		pairs = append(pairs, pair{key: k, val: v})
	}
	return pairs
}

// fields returns a mapping's entries by key, reporting every key not in known.
func (p *parser) fields(n *yaml.Node, ctx string, known []string) map[string]pair {
	out := make(map[string]pair, len(known))
	for _, e := range p.entries(n, ctx, "key") {
		if !slices.Contains(known, e.key.Value) {
			p.unknownKey(e.key, ctx, known)
			continue
		}
		out[e.key.Value] = e
	}
	return out
}

// unknownKey reports k as not one of known, with a suggestion when one is near.
func (p *parser) unknownKey(k *yaml.Node, ctx string, known []string) {
	if s := yamlnode.Suggest(k.Value, known); s != "" {
		p.errorf(k, ctx, "unknown key %q; did you mean %q?", k.Value, s)
		return
	}
	p.errorf(k, ctx, "unknown key %q (want one of %s)", k.Value, strings.Join(known, ", "))
}

// scalar returns the text of a key's value, reporting a value that is
// missing or not a scalar.
func (p *parser) scalar(e pair, ctx string) (string, bool) {
	switch {
	case yamlnode.IsNull(e.val):
		p.errorf(e.key, ctx, "%s: missing value", e.key.Value)
		return "", false
	case e.val.Kind != yaml.ScalarNode:
		p.errorf(e.val, ctx, "%s: want a single value, got %s", e.key.Value, yamlnode.KindName(e.val))
		return "", false
	}
	return e.val.Value, true
}

// mappingOf checks that a key's value is a mapping; null counts as empty
// when allowNull.
func (p *parser) mappingOf(e pair, ctx string, allowNull bool) bool {
	if yamlnode.IsNull(e.val) {
		if !allowNull {
			p.errorf(e.key, ctx, "%s: missing value", e.key.Value)
		}
		return false
	}
	if e.val.Kind != yaml.MappingNode {
		p.errorf(e.val, ctx, "%s: want a mapping, got %s", e.key.Value, yamlnode.KindName(e.val))
		return false
	}
	return true
}

// hasControl reports whether s holds a control character, which would break
// the one-line reply.
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return true
		}
	}
	return false
}
