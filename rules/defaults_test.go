package rules

import (
	"os"
	"strings"
	"testing"
)

// TestDocsStateDefaults holds docs/rules.md to the defaults the parser
// applies: each key's table row says its default as Defaults gives it.
func TestDocsStateDefaults(t *testing.T) {
	doc, err := os.ReadFile("../docs/rules.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range Defaults {
		prefix := "| `" + d.Key + "` |"
		var cells []string
		for _, line := range strings.Split(string(doc), "\n") {
			if !strings.HasPrefix(line, prefix) {
				continue
			}
			cell, _, _ := strings.Cut(strings.TrimPrefix(line, prefix), "|")
			cells = append(cells, strings.TrimSpace(cell))
		}
		found := false
		for _, c := range cells {
			found = found || strings.Trim(strings.Fields(c + " x")[0], "`,") == d.Value || strings.Contains(c, "`"+d.Value+"`")
		}
		if !found {
			t.Errorf("docs/rules.md: no row for %s gives its default %q (rows say %q)", d.Key, d.Value, cells)
		}
	}
	// And the defaults are what a file without the keys gets.
	f, err := Parse([]byte("rules: []\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Interval != DefaultInterval || f.StaleAfter != DefaultStaleFactor*DefaultInterval ||
		f.Reply.Default != DefaultReply() || f.Reply.MinWeight != DefaultMinWeight || f.Reply.RestoreFor != DefaultRestoreFor {
		t.Errorf("a file without settings: %+v %+v", f, f.Reply)
	}
}
