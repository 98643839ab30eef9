package rules

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic and that whatever loads
// keeps the promises of the types.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	examples, _ := filepath.Glob("../examples/*.yaml")
	for _, path := range append(seeds, examples...) {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("rules:\n  - a => b\n"))
	f.Add([]byte("metrics: {x: 'host:cpu'}\nrules: [\"x > 1 => 5%\"]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data, "fuzz.yaml")
		if err != nil {
			if file != nil {
				t.Fatal("Parse returned both a file and an error")
			}
			errs, ok := err.(Errors)
			if !ok || len(errs) == 0 {
				t.Fatalf("error %T %v is not a non-empty Errors", err, err)
			}
			for _, e := range errs {
				if e.Pos.Line < 1 || e.Pos.Col < 1 || e.File != "fuzz.yaml" {
					t.Fatalf("error without a position: %v", e)
				}
			}
			return
		}
		checkInvariants(t, file)
	})
}
