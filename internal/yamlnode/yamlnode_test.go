package yamlnode

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestSuggest(t *testing.T) {
	candidates := []string{"interval", "stale_after", "drain", "down", "up", "keep_firing_for"}
	cases := []struct{ word, want, suffix string }{
		{"intervall", "interval", `; did you mean "interval"?`},
		{"INTERVAL", "interval", `; did you mean "interval"?`},
		{"drian", "drain", `; did you mean "drain"?`},
		{"dwn", "down", `; did you mean "down"?`},
		{"u", "up", `; did you mean "up"?`},
		{"stale", "stale_after", `; did you mean "stale_after"?`},               // cut short
		{"keep_firing", "keep_firing_for", `; did you mean "keep_firing_for"?`}, // cut short
		{"kee", "", ""}, // too short to be cut short
		{"xyz", "", ""},
		{"p", "up", `; did you mean "up"?`}, // one edit from "up"
		{"q", "", ""},                       // two edits from "up"
		{"", "", ""},
		{"completely_different", "", ""},
	}
	for _, c := range cases {
		if got := Suggest(c.word, candidates); got != c.want {
			t.Errorf("Suggest(%q) = %q, want %q", c.word, got, c.want)
		}
		if got := DidYouMean(c.word, candidates); got != c.suffix {
			t.Errorf("DidYouMean(%q) = %q, want %q", c.word, got, c.suffix)
		}
	}
	if got := Suggest("x", nil); got != "" {
		t.Errorf("Suggest with no candidates = %q", got)
	}
}

func TestEditDistance(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"", "abc", 3},
		{"kitten", "sitting", 3},
		{"drain", "drian", 2},
		{"same", "same", 0},
	}
	for _, c := range cases {
		if got := editDistance(c.a, c.b); got != c.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// node parses src and returns the value of its first key.
func node(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0].Content[1]
}

func TestKindNameIsNull(t *testing.T) {
	cases := []struct {
		src, kind string
		null      bool
	}{
		{"a: {b: 1}", "a mapping", false},
		{"a: [1]", "a list", false},
		{"a:", "nothing", true},
		{"a: ~", "nothing", true},
		{"a: null", "nothing", true},
		{`a: "null"`, `"null"`, false},
		{"a: x y", `"x y"`, false},
		{"a: &x 1\nb: *x", `"1"`, false}, // the first key's value, not the alias
	}
	for _, c := range cases {
		n := node(t, c.src)
		if got := KindName(n); got != c.kind {
			t.Errorf("%q: KindName = %q, want %q", c.src, got, c.kind)
		}
		if got := IsNull(n); got != c.null {
			t.Errorf("%q: IsNull = %v, want %v", c.src, got, c.null)
		}
	}
	if !IsNull(nil) {
		t.Error("IsNull(nil) = false")
	}
	if got := KindName(&yaml.Node{Kind: yaml.AliasNode}); got != "an alias" {
		t.Errorf("KindName(alias) = %q", got)
	}
	if got := KindName(&yaml.Node{Kind: yaml.DocumentNode}); got != "something else" {
		t.Errorf("KindName(document) = %q", got)
	}
}

func TestDecode(t *testing.T) {
	var n yaml.Node
	if err := Decode(yaml.NewDecoder(bytes.NewReader(nil)), &n); !errors.Is(err, io.EOF) {
		t.Errorf("empty input: %v, want EOF", err)
	}
	if err := Decode(yaml.NewDecoder(bytes.NewReader([]byte("a: 1\n"))), &n); err != nil {
		t.Errorf("a: 1: %v", err)
	}
	// A decoder without a reader panics inside the library.
	if err := Decode(&yaml.Decoder{}, &n); err == nil || err.Error()[:20] != "yaml: cannot parse: " {
		t.Errorf("panic: %v, want yaml: cannot parse: ...", err)
	}
}

func TestSyntaxPositions(t *testing.T) {
	cases := []struct {
		src             string
		wantLine        int
		wantMsgContains string
		tabLine, tabCol int // 0: no tab found
	}{
		{"a:\n\tb: 1\n", 2, "", 2, 1},
		{"a:\n  \tb: 1\n", 0, "", 2, 3},
		{"a: [1\n", 0, "", 0, 0},
	}
	for _, c := range cases {
		var n yaml.Node
		err := yaml.Unmarshal([]byte(c.src), &n)
		if err == nil {
			t.Fatalf("%q: no error", c.src)
		}
		line, msg, ok := SyntaxLine(err)
		if !ok || msg == "" {
			t.Fatalf("%q: SyntaxLine(%v) = %d, %q, %v", c.src, err, line, msg, ok)
		}
		if c.wantLine != 0 && line != c.wantLine {
			t.Errorf("%q: line %d, want %d", c.src, line, c.wantLine)
		}
		lines := Lines([]byte(c.src))
		l, col, ok := IndentTab(lines, ClampLine(lines, line))
		if c.tabLine == 0 {
			if ok {
				t.Errorf("%q: IndentTab found %d:%d", c.src, l, col)
			}
			continue
		}
		if !ok || l != c.tabLine || col != c.tabCol {
			t.Errorf("%q: IndentTab = %d:%d %v, want %d:%d", c.src, l, col, ok, c.tabLine, c.tabCol)
		}
	}
	if _, _, ok := SyntaxLine(errors.New("yaml: unknown anchor 'x' referenced")); ok {
		t.Error("SyntaxLine accepted an error without a line")
	}
}

func TestLines(t *testing.T) {
	lines := Lines([]byte("a\r\nb\n\tc"))
	cases := []struct {
		n          int
		line       string
		clamped    int
		tabL, tabC int
	}{
		{-1, "", 1, 0, 0},
		{0, "", 1, 0, 0},
		{1, "a", 1, 0, 0},
		{2, "b", 2, 3, 1}, // the tab is on the line after
		{3, "\tc", 3, 3, 1},
		{4, "", 3, 0, 0},
	}
	for _, c := range cases {
		if got := Line(lines, c.n); got != c.line {
			t.Errorf("Line(%d) = %q, want %q", c.n, got, c.line)
		}
		if got := ClampLine(lines, c.n); got != c.clamped {
			t.Errorf("ClampLine(%d) = %d, want %d", c.n, got, c.clamped)
		}
		l, col, ok := IndentTab(lines, c.n)
		if ok != (c.tabL != 0) || l != c.tabL || col != c.tabC {
			t.Errorf("IndentTab(%d) = %d:%d %v, want %d:%d", c.n, l, col, ok, c.tabL, c.tabC)
		}
	}
	if l, _, ok := IndentTab(Lines([]byte("a: x\tb\n")), 1); ok {
		t.Errorf("IndentTab found a tab after text on line %d", l)
	}
}

func TestValueCol(t *testing.T) {
	cases := []struct {
		src  string
		off  int
		want int // 0: not ok
	}{
		{"a: 1+1x10", 0, 4},
		{"a: 1+1x10", 3, 7},
		{"a: 1+1x10", 6, 10}, // just past the end
		{"a: 1+1x10", 7, 0},  // beyond the value
		{"a: 1+1x10", -1, 0},
		{"a: '1+1x10'", 2, 7},
		{`a: "1+1x10"`, 2, 7},
		{"é: ü+x", 2, 5},        // columns count runes; é and ü are two bytes each
		{`a: "1\t2"`, 0, 0},     // an escape: not verbatim
		{"a: |\n  1+1\n", 0, 0}, // a block scalar
		{"a: !!str 1+1", 0, 0},  // the node starts at its tag
		{"a: [1]", 0, 0},        // not a scalar
		{"a: x\n  y", 0, 0},     // folded over two lines
	}
	for _, c := range cases {
		n := node(t, c.src)
		text := Line(Lines([]byte(c.src)), n.Line)
		col, ok := ValueCol(text, n, c.off)
		if ok != (c.want != 0) || col != c.want {
			t.Errorf("%q off %d: ValueCol = %d %v, want %d", c.src, c.off, col, ok, c.want)
		}
	}
}

func TestFindAndDeref(t *testing.T) {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("a: &x {b: 1}\nc: *x\nd: [1]\n"), &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	k, v := Find(root, "c")
	if k == nil || k.Line != 2 || k.Column != 1 || v.Kind != yaml.MappingNode {
		t.Fatalf("Find(c) = %v, %v", k, v)
	}
	if k, v := Find(v, "b"); k == nil || k.Line != 1 || v.Value != "1" {
		t.Errorf("Find(b) through the alias = %v, %v", k, v)
	}
	for _, key := range []string{"nope", ""} {
		if k, v := Find(root, key); k != nil || v != nil {
			t.Errorf("Find(%q) = %v, %v", key, k, v)
		}
	}
	if _, d := Find(root, "d"); d == nil {
		t.Fatal("no d")
	} else if k, v := Find(d, "x"); k != nil || v != nil {
		t.Errorf("Find in a list = %v, %v", k, v)
	}
	if Deref(nil) != nil {
		t.Error("Deref(nil) != nil")
	}
	loop := &yaml.Node{Kind: yaml.AliasNode}
	loop.Alias = loop
	if Deref(loop) != loop {
		t.Error("Deref of a cycle did not stop")
	}
}
