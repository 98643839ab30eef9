package rules

import (
	"fmt"
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
	return p.errs.Sorted()
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
func deref(n *yaml.Node) *yaml.Node { return yamlnode.Deref(n) }

// report returns the reporter of yamlnode's walker for this file: each
// problem at its node, its message prefixed with ctx.
func (p *parser) report(ctx string) yamlnode.Report {
	return func(at *yaml.Node, msg string) { p.errorf(at, ctx, "%s", msg) }
}

// entries returns a mapping's pairs in order; it reports keys that are not
// plain strings and keys given twice (what names the keys, e.g. "source").
// The first of two equal keys is kept. See yamlnode.EachEntry.
func (p *parser) entries(n *yaml.Node, ctx, what string) []pair {
	var pairs []pair
	yamlnode.EachEntry(n, what, p.report(ctx), func(e yamlnode.Pair) {
		pairs = append(pairs, pair{key: e.Key, val: e.Val})
	})
	return pairs
}

// fields returns a mapping's entries by key, reporting every key not in known.
func (p *parser) fields(n *yaml.Node, ctx string, known []string) map[string]pair {
	out := make(map[string]pair, len(known))
	for k, e := range yamlnode.Fields(n, known, p.report(ctx)) {
		out[k] = pair{key: e.Key, val: e.Val}
	}
	return out
}

// unknownKey reports k as not one of known, with a suggestion when one is near.
func (p *parser) unknownKey(k *yaml.Node, ctx string, known []string) {
	p.errorf(k, ctx, "%s", yamlnode.UnknownKey(k.Value, known))
}

// scalar returns the text of a key's value, reporting a value that is
// missing or not a scalar.
func (p *parser) scalar(e pair, ctx string) (string, bool) {
	return yamlnode.Scalar(yamlnode.Pair{Key: e.key, Val: e.val}, p.report(ctx))
}

// mappingOf checks that a key's value is a mapping; null counts as empty
// when allowNull.
func (p *parser) mappingOf(e pair, ctx string, allowNull bool) bool {
	return yamlnode.Mapping(yamlnode.Pair{Key: e.key, Val: e.val}, allowNull, p.report(ctx))
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
