package reload

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"
)

const testDebounce = 50 * time.Millisecond

// startWatcher runs a watcher on path and returns it with a stop function
// that cancels Run and waits for it to return. Tests defer stop before
// goleak's check, so that Run's goroutines are gone when it looks.
func startWatcher(t *testing.T, path string, opts Options) (*Watcher, func()) {
	t.Helper()
	if opts.Debounce == 0 {
		opts.Debounce = testDebounce
	}
	if opts.Recheck == 0 {
		opts.Recheck = -1 // prove the fsnotify path unless a test asks otherwise
	}
	if opts.Retry == 0 {
		opts.Retry = 100 * time.Millisecond
	}
	w, err := New(path, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	// Let Run add its watches before the test changes anything.
	time.Sleep(20 * time.Millisecond)
	return w, func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// expectEvent waits for one event and checks that it carries content's hash.
func expectEvent(t *testing.T, w *Watcher, content string) {
	t.Helper()
	select {
	case ev := <-w.Events():
		if want := Hash([]byte(content)); ev.Hash != want {
			t.Fatalf("event hash %s, want hash of %q (%s)", ev.Hash, content, want)
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("no event for content %q", content)
	}
}

// expectNone checks that no event arrives within several debounce periods.
func expectNone(t *testing.T, w *Watcher) {
	t.Helper()
	select {
	case ev := <-w.Events():
		t.Fatalf("unexpected event %+v", ev)
	case <-time.After(6 * testDebounce):
	}
}

func newRuleFile(t *testing.T, content string) (dir, path string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "conf")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "rules.yaml")
	writeFile(t, path, content)
	return dir, path
}

func TestRenameOver(t *testing.T) {
	defer goleak.VerifyNone(t)
	_, path := newRuleFile(t, "v1\n")
	w, stop := startWatcher(t, path, Options{})
	defer stop()

	// Written elsewhere on the same file system, then renamed over the file.
	tmp := filepath.Join(t.TempDir(), "new.yaml")
	writeFile(t, tmp, "v2\n")
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, w, "v2\n")
	expectNone(t, w)
}

func TestSedInPlace(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir, path := newRuleFile(t, "interval: 2s\n")
	w, stop := startWatcher(t, path, Options{})
	defer stop()

	if sed, err := exec.LookPath("sed"); err == nil {
		if out, err := exec.Command(sed, "-i", "s/2s/5s/", path).CombinedOutput(); err != nil {
			t.Fatalf("sed -i: %v: %s", err, out)
		}
	} else {
		// What sed -i does: a temporary file in the same directory, renamed over.
		tmp := filepath.Join(dir, "sedAbC123")
		writeFile(t, tmp, "interval: 5s\n")
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	expectEvent(t, w, "interval: 5s\n")
	expectNone(t, w)
}

func TestTruncateAndWrite(t *testing.T) {
	defer goleak.VerifyNone(t)
	_, path := newRuleFile(t, "v1\n")
	w, stop := startWatcher(t, path, Options{})
	defer stop()

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Two writes: the debounced check must see the final content, not the
	// truncated or half-written file.
	if _, err := f.WriteString("v2 first half, "); err != nil {
		t.Fatal(err)
	}
	time.Sleep(testDebounce / 5)
	if _, err := f.WriteString("second half\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, w, "v2 first half, second half\n")
	expectNone(t, w)
}

// TestConfigMapSymlinkSwap reproduces the layout kubelet gives a ConfigMap
// volume: rules.yaml -> ..data/rules.yaml, ..data -> ..<timestamp>, updated by
// creating a new timestamped directory and renaming a new ..data symlink over
// the old one.
func TestConfigMapSymlinkSwap(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	mkVersion := func(name, content string) {
		t.Helper()
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name, "rules.yaml"), content)
	}
	mkVersion("..2024_01_01_00_00_00.1", "v1\n")
	if err := os.Symlink("..2024_01_01_00_00_00.1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rules.yaml")
	if err := os.Symlink("..data/rules.yaml", path); err != nil {
		t.Fatal(err)
	}

	w, stop := startWatcher(t, path, Options{})
	defer stop()

	swap := func(version, content, old string) {
		t.Helper()
		mkVersion(version, content)
		tmpLink := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(version, tmpLink); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmpLink, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			t.Fatal(err)
		}
	}
	swap("..2024_01_01_00_01_00.2", "v2\n", "..2024_01_01_00_00_00.1")
	expectEvent(t, w, "v2\n")
	expectNone(t, w)

	// A second swap, now that the watcher follows the new target directory.
	swap("..2024_01_01_00_02_00.3", "v3\n", "..2024_01_01_00_01_00.2")
	expectEvent(t, w, "v3\n")
	expectNone(t, w)
}

// TestSymlinkElsewhere covers a rule file that is a symlink into another
// directory edited in place: only that directory sees the write.
func TestSymlinkElsewhere(t *testing.T) {
	defer goleak.VerifyNone(t)
	_, real := newRuleFile(t, "v1\n")
	link := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	w, stop := startWatcher(t, link, Options{})
	defer stop()

	writeFile(t, real, "v2\n")
	expectEvent(t, w, "v2\n")
}

func TestTouchWithoutChange(t *testing.T) {
	defer goleak.VerifyNone(t)
	_, path := newRuleFile(t, "v1\n")
	w, stop := startWatcher(t, path, Options{})
	defer stop()

	now := time.Now().Add(time.Minute)
	if err := os.Chtimes(path, now, now); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	// Rewriting identical bytes produces write events but no change.
	writeFile(t, path, "v1\n")
	expectNone(t, w)
}

func TestUnrelatedFile(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir, path := newRuleFile(t, "v1\n")
	w, stop := startWatcher(t, path, Options{})
	defer stop()

	other := filepath.Join(dir, "other.yaml")
	writeFile(t, other, "x\n")
	writeFile(t, other, "y\n")
	if err := os.Rename(other, filepath.Join(dir, "renamed.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "renamed.yaml")); err != nil {
		t.Fatal(err)
	}
	expectNone(t, w)
}

func TestBurstIsDebounced(t *testing.T) {
	defer goleak.VerifyNone(t)
	_, path := newRuleFile(t, "v0\n")
	// The default debounce, as serve uses it.
	w, stop := startWatcher(t, path, Options{Debounce: DefaultDebounce})
	defer stop()

	var last string
	start := time.Now()
	for i := 1; i <= 50; i++ {
		last = fmt.Sprintf("v%d\n", i)
		writeFile(t, path, last)
	}
	if elapsed := time.Since(start); elapsed > DefaultDebounce {
		t.Logf("burst took %v, longer than the debounce window", elapsed)
	}

	var got []Event
	deadline := time.After(4 * time.Second)
	quiet := time.NewTimer(time.Hour)
	defer quiet.Stop()
collect:
	for {
		select {
		case ev := <-w.Events():
			got = append(got, ev)
			quiet.Reset(3 * DefaultDebounce)
		case <-quiet.C:
			break collect
		case <-deadline:
			break collect
		}
	}
	if len(got) < 1 || len(got) > 2 {
		t.Fatalf("got %d events for a burst of 50 writes, want 1 or 2", len(got))
	}
	if want := Hash([]byte(last)); got[len(got)-1].Hash != want {
		t.Fatalf("last event does not carry the final content %q", last)
	}
}

// TestLoadedAndRecheck shows the consumer's hash is the reference: after a
// reload by another route no event follows, and the periodic recheck signals
// a difference that no file event announced.
func TestLoadedAndRecheck(t *testing.T) {
	defer goleak.VerifyNone(t)
	_, path := newRuleFile(t, "v1\n")
	w, stop := startWatcher(t, path, Options{Debounce: 300 * time.Millisecond, Recheck: 100 * time.Millisecond})
	defer stop()

	// The consumer reloaded on SIGHUP before the debounce fired.
	writeFile(t, path, "v2\n")
	w.Loaded(Hash([]byte("v2\n")))
	select {
	case ev := <-w.Events():
		t.Fatalf("event %+v after the consumer loaded the same content", ev)
	case <-time.After(time.Second):
	}

	// The consumer says it has something else: no file event, but the
	// recheck notices.
	w.Loaded("stale")
	expectEvent(t, w, "v2\n")
}

func TestFileAppearsLater(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	w, stop := startWatcher(t, path, Options{})
	defer stop()

	expectNone(t, w)
	writeFile(t, path, "v1\n")
	expectEvent(t, w, "v1\n")
}

func TestDirectoryRemovedAndRecreated(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir, path := newRuleFile(t, "v1\n")
	w, stop := startWatcher(t, path, Options{})
	defer stop()

	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	// A missing file keeps the old rules: no event.
	expectNone(t, w)

	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, "v2\n")
	expectEvent(t, w, "v2\n")

	// The directory is watched again: an ordinary edit is seen.
	time.Sleep(300 * time.Millisecond) // a retry period or two
	writeFile(t, path, "v3\n")
	expectEvent(t, w, "v3\n")
	expectNone(t, w)
}

// TestSameContentAfterRemoval: a file that disappears and comes back
// unchanged does not reload.
func TestSameContentAfterRemoval(t *testing.T) {
	defer goleak.VerifyNone(t)
	_, path := newRuleFile(t, "v1\n")
	w, stop := startWatcher(t, path, Options{})
	defer stop()

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	expectNone(t, w)
	writeFile(t, path, "v1\n")
	expectNone(t, w)
}

func TestCancelStopsRun(t *testing.T) {
	defer goleak.VerifyNone(t)
	_, path := newRuleFile(t, "v1\n")
	w, err := New(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	// An event in flight at cancel time must not keep anything alive.
	writeFile(t, path, "v2\n")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestNewRejectsEmptyPath(t *testing.T) {
	if _, err := New("", Options{}); err == nil {
		t.Fatal("New(\"\") succeeded")
	}
}
