package reload

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/haproxy-agent/agent/internal/fileio"
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
	select {
	case <-w.watching:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not start watching")
	}
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

// expectEvent waits for one event and checks that the watcher signalled it
// for content.
func expectEvent(t *testing.T, w *Watcher, content string) {
	t.Helper()
	select {
	case <-w.Events():
		w.mu.Lock()
		known := w.known
		w.mu.Unlock()
		if want := fileio.Hash([]byte(content)); known != want {
			t.Fatalf("event for hash %s, want hash of %q (%s)", known, content, want)
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
	// A burst within one debounce window gives one event, maybe two
	// (one window opened by the first write). A stalled machine can
	// stretch the burst over several windows: each may then give one.
	maxEvents := 2
	if elapsed := time.Since(start); elapsed > DefaultDebounce {
		maxEvents += int(elapsed / DefaultDebounce)
		t.Logf("burst took %v, longer than the debounce window: up to %d events", elapsed, maxEvents)
	}

	var got []Event
	deadline := time.After(30 * time.Second) // catches a stream that never ends
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
	if len(got) < 1 || len(got) > maxEvents {
		t.Fatalf("got %d events for a burst of 50 writes, want 1 to %d", len(got), maxEvents)
	}
	w.mu.Lock()
	known := w.known
	w.mu.Unlock()
	if want := fileio.Hash([]byte(last)); known != want {
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
	w.Loaded(fileio.Hash([]byte("v2\n")))
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

	// The directory is watched again (the check that signalled v2 came
	// right after the watch was added back): an ordinary edit is seen.
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

// TestParentSymlinkSwap: deploy tools (Capistrano and
// many others) point a `current` symlink at a new release directory; the
// rule file's path goes through it. The swap happens in a directory that
// holds neither the configured file nor its target, and used to wait for
// the 10 s recheck. Recheck is off here: only events can signal.
func TestParentSymlinkSwap(t *testing.T) {
	defer goleak.VerifyNone(t)
	app := t.TempDir()
	release := func(name, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(app, "releases", name, "config"), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(app, "releases", name, "config", "rules.yaml"), content)
	}
	// ln -sfn: a new link renamed over the old one.
	point := func(name string) {
		t.Helper()
		tmp := filepath.Join(app, "current.tmp")
		if err := os.Symlink(filepath.Join("releases", name), tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(app, "current")); err != nil {
			t.Fatal(err)
		}
	}
	release("v1", "v1\n")
	point("v1")
	path := filepath.Join(app, "current", "config", "rules.yaml")
	w, stop := startWatcher(t, path, Options{Recheck: -1})
	defer stop()

	release("v2", "v2\n")
	expectNone(t, w) // a new release alone changes nothing
	start := time.Now()
	point("v2")
	expectEvent(t, w, "v2\n")
	t.Logf("swap to v2 seen after %v (debounce %v)", time.Since(start), testDebounce)

	// The old release is removed and the next swap is seen too: the
	// watcher follows the link to its new target.
	if err := os.RemoveAll(filepath.Join(app, "releases", "v1")); err != nil {
		t.Fatal(err)
	}
	release("v3", "v3\n")
	point("v3")
	expectEvent(t, w, "v3\n")
	// An edit inside the release now current is seen.
	writeFile(t, filepath.Join(app, "releases", "v3", "config", "rules.yaml"), "v3b\n")
	expectEvent(t, w, "v3b\n")
	expectNone(t, w)
}

// TestChmodIsACheck: a file made readable again is checked at once. The
// consumer that failed to read it told the watcher it has nothing (""),
// so the content, unchanged or not, is signalled on the chmod alone.
func TestChmodIsACheck(t *testing.T) {
	defer goleak.VerifyNone(t)
	_, path := newRuleFile(t, "v1\n")
	w, stop := startWatcher(t, path, Options{Recheck: -1})
	defer stop()

	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		// Unreadable: no event, the old rules keep serving.
		expectNone(t, w)
	}
	w.Loaded("") // a reload by SIGHUP could not read it
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, w, "v1\n")
	expectNone(t, w)
}

// TestRefusedFileSignalledOnce: a file the
// consumer refuses for its size is signalled once, and the consumer's
// hash of it matches the watcher's, so the recheck does not signal (and
// the consumer does not log a failed reload) again and again.
func TestRefusedFileSignalledOnce(t *testing.T) {
	defer goleak.VerifyNone(t)
	_, path := newRuleFile(t, "v1\n")
	const limit = 1 << 10
	read := func(p string) ([]byte, error) { return fileio.ReadFile(p, limit) }
	w, stop := startWatcher(t, path, Options{Recheck: 20 * time.Millisecond, Read: read})
	defer stop()

	big := strings.Repeat("x", 10*limit)
	writeFile(t, path, big)
	select {
	case <-w.Events():
	case <-time.After(3 * time.Second):
		t.Fatal("no event for the oversized file")
	}
	data, err := read(path)
	if !errors.Is(err, fileio.ErrTooLarge) {
		t.Fatalf("read: %v", err)
	}
	w.Loaded(fileio.Hash(data)) // what the consumer does after failing
	select {
	case <-w.Events():
		t.Fatal("the oversized file was signalled again")
	case <-time.After(20 * 20 * time.Millisecond): // twenty rechecks
	}
}

func TestWatchDirs(t *testing.T) {
	root := t.TempDir()
	mk := func(p string) {
		if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ln := func(target, link string) {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	mk("releases/v1/config")
	mk("etc")
	ln("releases/v1", "current")
	ln("../current/config/rules.yaml", "etc/rules.yaml")
	ln(filepath.Join(root, "loop2"), "loop1")
	ln(filepath.Join(root, "loop1"), "loop2")
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"etc/rules.yaml", []string{"etc", ".", "releases/v1/config"}},
		{"current/config/rules.yaml", []string{".", "releases/v1/config"}},
		{"releases/v1/config/rules.yaml", []string{"releases/v1/config"}},
		{"missing/config/rules.yaml", []string{"missing/config"}},
		{"loop1/rules.yaml", []string{".", "loop1"}}, // the watch on loop1 fails and is retried
	} {
		got := watchDirs(filepath.Join(root, tc.path))
		var want []string
		for _, w := range tc.want {
			want = append(want, filepath.Join(root, w))
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("watchDirs(%s) = %v, want %v", tc.path, got, want)
		}
	}
}
