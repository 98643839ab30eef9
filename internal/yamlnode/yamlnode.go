// Package yamlnode holds helpers for walking yaml.v3 nodes with positions
// and naming what was found: a node's kind for messages, did-you-mean
// suggestions for unknown names, and the file position of a syntax error or
// of a byte inside a scalar's value.
package yamlnode

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// KindName names what a node holds, for messages: "a mapping", "a list",
// "nothing" for null, the quoted value of any other scalar, "an alias"
// (where one is not followed, as for a key), or "something else".
func KindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if IsNull(n) {
			return "nothing"
		}
		return strconv.Quote(n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "something else"
}

// IsNull reports whether n is missing or a null scalar (~, null or nothing).
func IsNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// Decode decodes dec's next document into v (a *yaml.Node, or a value
// of any type yaml.v3 decodes into), turning a panic of the YAML library
// into an error: no input may crash the caller.
func Decode(dec *yaml.Decoder, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: cannot parse: %v", r)
		}
	}()
	return dec.Decode(v)
}

var syntaxRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// SyntaxLine splits a yaml.v3 syntax error of the form "yaml: line N: msg"
// into its line and message; ok is false for any other error. The line may
// lie past the last one: see ClampLine.
func SyntaxLine(err error) (line int, msg string, ok bool) {
	m := syntaxRe.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, "", false
	}
	line, _ = strconv.Atoi(m[1])
	return line, m[2], true
}

// Lines splits a file into its lines, numbered from 1 as yaml.v3 numbers
// them: element i is line i+1.
func Lines(data []byte) []string {
	return strings.Split(string(data), "\n")
}

// Line returns the text of 1-based line n, without a trailing "\r", or ""
// when there is no such line.
func Line(lines []string, n int) string {
	if n < 1 || n > len(lines) {
		return ""
	}
	return strings.TrimSuffix(lines[n-1], "\r")
}

// ClampLine puts a line that yaml.v3 named into the file: at the end of the
// input the library names the line after the last.
func ClampLine(lines []string, line int) int {
	return min(max(line, 1), len(lines))
}

// IndentTab finds a tab in the indentation of line, or else of the line
// after it (yaml.v3 may name the line before the tab), and returns its line
// and 1-based column; ok is false when neither line is indented with a tab.
func IndentTab(lines []string, line int) (l, col int, ok bool) {
	for _, l := range []int{line, line + 1} {
		text := Line(lines, l)
		if i := strings.IndexByte(text, '\t'); i >= 0 && strings.TrimLeft(text[:i], " ") == "" {
			return l, i + 1, true
		}
	}
	return 0, 0, false
}

// ValueCol maps byte off of a scalar's value to its 1-based column (in
// runes, as yaml.v3 counts columns) in text, the file's line n.Line. It
// succeeds only when the scalar sits on one line and its value is written
// there verbatim (plain, or quoted without escapes), so that a reported
// column is never a guess; ok is false otherwise.
func ValueCol(text string, n *yaml.Node, off int) (col int, ok bool) {
	if n.Kind != yaml.ScalarNode || strings.ContainsAny(n.Value, "\n\r") || off < 0 || off > len(n.Value) {
		return 0, false
	}
	skip := 0
	switch n.Style {
	case 0, yaml.TaggedStyle:
	case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
		skip = 1
	default:
		return 0, false
	}
	start := 0
	for c := 1; c < n.Column && start < len(text); c++ {
		_, size := utf8.DecodeRuneInString(text[start:])
		start += size
	}
	start += skip
	if start > len(text) || !strings.HasPrefix(text[start:], n.Value) {
		return 0, false
	}
	return utf8.RuneCountInString(text[:start+off]) + 1, true
}
