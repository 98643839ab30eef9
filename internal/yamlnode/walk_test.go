package yamlnode

import (
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// collect is a Report that keeps "LINE:COL: message" lines.
type collect []string

func (c *collect) report() Report {
	return func(at *yaml.Node, msg string) {
		*c = append(*c, fmt.Sprintf("%d:%d: %s", at.Line, at.Column, msg))
	}
}

func root(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

func TestEntries(t *testing.T) {
	n := root(t, "a: &x {b: 1}\nc: *x\na: 2\n<<: {d: 1}\n? [k]\n: v\n")
	var c collect
	var keys []string
	for _, e := range Entries(n, "key", c.report()) {
		keys = append(keys, e.Key.Value+"="+KindName(e.Val))
	}
	if got := strings.Join(keys, " "); got != `a=a mapping c=a mapping` {
		t.Errorf("entries: %s (the alias's value must be followed)", got)
	}
	want := []string{
		`3:1: duplicate key "a" (first at 1:1)`,
		`4:1: YAML merge keys (<<) are not supported`,
		`5:3: keys must be strings, not a list`,
	}
	if strings.Join(c, "\n") != strings.Join(want, "\n") {
		t.Errorf("reported:\n%s\nwant:\n%s", strings.Join(c, "\n"), strings.Join(want, "\n"))
	}
	if got := Entries(root(t, "[1]"), "key", c.report()); got != nil {
		t.Errorf("entries of a list: %v", got)
	}
}

func TestFieldsScalarListMapping(t *testing.T) {
	n := root(t, "scalar: &s s\nname: x\nlist: &l [a, *s]\nnull:\nmap: {k: v}\nnamr: y\nzzz: 1\nother: *l\n")
	var c collect
	fs := Fields(n, []string{"name", "list", "null", "map", "other", "scalar"}, c.report())
	if s, ok := Scalar(fs["name"], c.report()); !ok || s != "x" {
		t.Errorf("Scalar(name) = %q, %v", s, ok)
	}
	if _, ok := Scalar(fs["list"], c.report()); ok {
		t.Error("Scalar(list) ok")
	}
	if _, ok := Scalar(fs["null"], c.report()); ok {
		t.Error("Scalar(null) ok")
	}
	if items, ok := List(fs["other"], c.report()); !ok || len(items) != 2 || items[1].Value != "s" {
		t.Errorf("List(other) = %v, %v: the alias and its items must be followed", items, ok)
	}
	if items, ok := List(fs["null"], c.report()); !ok || items != nil {
		t.Errorf("List(null) = %v, %v", items, ok)
	}
	if _, ok := List(fs["map"], c.report()); ok {
		t.Error("List(map) ok")
	}
	if !Mapping(fs["map"], false, c.report()) || Mapping(fs["null"], true, c.report()) || Mapping(fs["null"], false, c.report()) || Mapping(fs["name"], false, c.report()) {
		t.Error("Mapping")
	}
	want := []string{
		`6:1: unknown key "namr"; did you mean "name"?`,
		`7:1: unknown key "zzz" (want one of name, list, null, map, other, scalar)`,
		`3:7: list: want a single value, got a list`,
		`4:1: null: missing value`,
		`5:6: map: want a list, got a mapping`,
		`4:1: null: missing value`,
		`2:7: name: want a mapping, got "x"`,
	}
	if strings.Join(c, "\n") != strings.Join(want, "\n") {
		t.Errorf("reported:\n%s\nwant:\n%s", strings.Join(c, "\n"), strings.Join(want, "\n"))
	}
}

func TestSize(t *testing.T) {
	// Nine levels of nine aliases: 9^9 leaves once expanded, in a few
	// hundred bytes.
	laughs := "a: &a [x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for i := range 9 {
		name := string(rune('b' + i))
		laughs += fmt.Sprintf("%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", name, name, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = name
	}
	for _, tc := range []struct {
		src   string
		limit int
		size  int
		ok    bool
	}{
		{"a: 1", 10, 5, true},
		{"a: &x [1, 2]\nb: *x\n", 100, 15, true},
		{"a: &x [1, 2]\nb: *x\n", 12, 13, false},
		{laughs, 1000000, 1000001, false},
		{"a: &x [*x]\n", 100, 101, false},
	} {
		size, ok := Size(root(t, tc.src), tc.limit)
		if size != tc.size || ok != tc.ok {
			t.Errorf("%.40q: Size = %d, %v; want %d, %v", tc.src, size, ok, tc.size, tc.ok)
		}
	}
}
