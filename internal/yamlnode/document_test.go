package yamlnode

import (
	"testing"
)

func TestDocument(t *testing.T) {
	for _, tc := range []struct {
		src, root, extra string // KindName of root, extra's first line
		line, col        int
		msg              string
	}{
		{src: "", root: "none"},
		{src: "# only a comment\n", root: "none"},
		{src: "~\n", root: "none"},
		{src: "a: 1\n", root: "a mapping"},
		{src: "&x [1]\n", root: "a list"},
		{src: "a: 1\n---\nb: 2\n", root: "a mapping", extra: "2"},
		{src: "a:\n\tb: 1\n", line: 2, col: 1, msg: "yaml: tab character: use spaces, not tabs, for indentation"},
		{src: "a: [1\n", line: 1, col: 1, msg: "yaml: did not find expected ',' or ']'"},
		{src: "a: 1\nb: *nope\n", line: 2, col: 4, msg: `yaml: unknown anchor "nope"`},
		{src: "a: 1\n---\nb: [\n", line: 3, col: 1, msg: "yaml: did not find expected node content"},
	} {
		data := []byte(tc.src)
		root, extra, err := Document(data)
		if tc.msg != "" {
			if err == nil {
				t.Errorf("%q: no error", tc.src)
				continue
			}
			line, col, msg := ErrorPos(err, data, Lines(data))
			if line != tc.line || col != tc.col || msg != tc.msg {
				t.Errorf("%q: ErrorPos = %d:%d: %s; want %d:%d: %s", tc.src, line, col, msg, tc.line, tc.col, tc.msg)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.src, err)
			continue
		}
		kind := "none"
		if root != nil {
			kind = KindName(root)
		}
		if kind != tc.root {
			t.Errorf("%q: root %s, want %s", tc.src, kind, tc.root)
		}
		if (extra != nil) != (tc.extra != "") || (extra != nil && extra.Line != 2) {
			t.Errorf("%q: extra = %v", tc.src, extra)
		}
	}
}
