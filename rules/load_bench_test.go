package rules

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkParseFile measures what a start or a reload does with a file
// of 1,000 rules: read it from disk, parse, validate and compile every
// expression.
func BenchmarkParseFile(b *testing.B) {
	path := filepath.Join(b.TempDir(), "rules.yaml")
	data := benchFile(1000)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := ParseFile(path)
		if err != nil {
			b.Fatal(err)
		}
		if f.RuleCount() != 1000 {
			b.Fatalf("%d rules", f.RuleCount())
		}
	}
}
