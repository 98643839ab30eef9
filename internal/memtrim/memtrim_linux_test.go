package memtrim

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// rssFile is this process's RssFile from /proc/self/status, in kB.
func rssFile(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}

// TestReleaseExecutablePages: the test binary's file-backed resident set
// shrinks, and the process goes on running the code it dropped (this
// test's own code, the runtime's, the testing package's).
func TestReleaseExecutablePages(t *testing.T) {
	before := rssFile(t)
	n, err := ReleaseExecutablePages()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFile(t)
	if n == 0 || after >= before {
		t.Fatalf("released %d bytes of mappings: RssFile %d kB before, %d kB after", n, before, after)
	}
	t.Logf("RssFile %d kB -> %d kB (%d kB of mappings)", before, after, n/1024)
}
