package rules

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

// BenchmarkParseFile measures what a start or a reload does with a file
// of 1,000 and of 10,000 rules (the limit): read it from disk, parse,
// validate and compile every expression. heap-MB is the Go heap in use
// once the file is loaded and kept, garbage collected.
func BenchmarkParseFile(b *testing.B) {
	for _, n := range []int{1000, MaxRules} {
		b.Run(itoa(n)+"-rules", func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "rules.yaml")
			data := benchFile(n)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var f *File
			for b.Loop() {
				var err error
				if f, err = ParseFile(path); err != nil {
					b.Fatal(err)
				}
				if f.RuleCount() != n {
					b.Fatalf("%d rules", f.RuleCount())
				}
			}
			b.StopTimer()
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
			runtime.KeepAlive(f)
		})
	}
}

func itoa(n int) string {
	if n%1000 == 0 {
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}
