package override

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSymlinkedStateFileStaysALink: a --state.file that
// is a symlink (to a persistent volume, a shared directory) used to be
// replaced by a regular file on the first write, and the old target kept
// stale overrides. Writes now go through the link.
func TestSymlinkedStateFileStaysALink(t *testing.T) {
	for _, tc := range []struct {
		name     string
		relative bool
		chain    bool
	}{{"absolute", false, false}, {"relative", true, false}, {"chain of links", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			realDir := filepath.Join(t.TempDir(), "volume")
			if err := os.Mkdir(realDir, 0o755); err != nil {
				t.Fatal(err)
			}
			target := filepath.Join(realDir, "overrides.json")
			linkDir := t.TempDir()
			link := filepath.Join(linkDir, "state.json")
			dest := target
			if tc.relative {
				rel, err := filepath.Rel(linkDir, target)
				if err != nil {
					t.Fatal(err)
				}
				dest = rel
			}
			if tc.chain {
				mid := filepath.Join(linkDir, "mid.json")
				if err := os.Symlink(dest, mid); err != nil {
					t.Fatal(err)
				}
				dest = mid
			}
			if err := os.Symlink(dest, link); err != nil {
				t.Fatal(err)
			}

			// The target does not exist yet: the first write creates it
			// through the dangling link.
			s := open(t, link, Options{Now: (&clock{now: t0}).Now})
			a := add(t, s, "", "drain", "first", 0)
			assertLink(t, link)
			if got := ids(readState(t, target)); got != a.ID {
				t.Fatalf("target holds %q, want %q", got, a.ID)
			}

			b := add(t, s, "", "maint", "second", 0)
			if _, err := s.Remove(a.ID); err != nil {
				t.Fatal(err)
			}
			assertLink(t, link)
			if got := ids(readState(t, target)); got != b.ID {
				t.Fatalf("target holds %q after a change, want %q", got, b.ID)
			}
			// No temporary file or second copy is left in either directory.
			for _, dir := range []string{realDir, linkDir} {
				entries, _ := os.ReadDir(dir)
				for _, e := range entries {
					if strings.Contains(e.Name(), ".tmp-") {
						t.Errorf("left behind: %s", filepath.Join(dir, e.Name()))
					}
				}
			}
			s.Close()

			// A restart reads through the link and finds what was written.
			s2 := open(t, link, Options{Now: (&clock{now: t0}).Now})
			if got := ids(s2.Active(t0)); got != b.ID {
				t.Fatalf("after reopen: %q, want %q", got, b.ID)
			}
		})
	}
}

func assertLink(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("%s is now %v, want it to stay a symlink", path, fi.Mode())
	}
}

// TestCorruptSymlinkedStateFile moves the corrupt target aside, not the
// link, so that the next write still lands where the link points.
func TestCorruptSymlinkedStateFile(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real.json")
	link := filepath.Join(dir, "state.json")
	if err := os.WriteFile(target, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real.json", link); err != nil {
		t.Fatal(err)
	}
	s := open(t, link, Options{Now: (&clock{now: t0}).Now})
	var ce *CorruptError
	if !errors.As(s.LoadError(), &ce) || !strings.HasPrefix(ce.MovedTo, target+".corrupt-") {
		t.Fatalf("LoadError = %v, want the target moved aside", s.LoadError())
	}
	a := add(t, s, "", "drain", "after corruption", 0)
	assertLink(t, link)
	if got := ids(readState(t, target)); got != a.ID {
		t.Fatalf("target holds %q, want %q", got, a.ID)
	}
}

// TestStateFileNotRegular: a FIFO at the state path is refused at once
// with a clear error; opening it used to block for ever.
func TestStateFileNotRegular(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Open(path, nil, Options{})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file (a named pipe)") {
			t.Fatalf("Open: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Open blocked on a FIFO")
	}
	_, err := ReadFile(path)
	if err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("ReadFile: %v", err)
	}
}
