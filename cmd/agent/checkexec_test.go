package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCheckListsPrograms: check says which programs a file's exec sources
// run, with what arguments, from which directory, and whether each is
// there; a program missing is not a failure (it may be installed with the
// file), but it is said.
func TestCheckListsPrograms(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "check-lag"), []byte("#!/bin/sh\necho 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, []byte(`sources:
  lag: {exec: [./check-lag, --db, main db]}
  gone: {exec: [./gone], dir: sub}
  app: {http: http://127.0.0.1:1/healthz}
metrics:
  lag: lag:value
rules:
  - lag > 30 => drain
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ := agent(t, "check", path)
	want := "Checking " + path + "\n  SUCCESS: 1 rules found\n" +
		`  source "lag" runs: ./check-lag --db "main db" (in ` + dir + ")\n" +
		`  source "gone" runs: ./gone (in ` + filepath.Join(dir, "sub") + ") (not found)\n\n"
	if code != exitOK || out != want {
		t.Errorf("exit %d, output:\n%s\nwant:\n%s", code, out, want)
	}
}
