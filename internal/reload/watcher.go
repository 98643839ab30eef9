// Package reload watches a rule file and tells its consumer when the file's
// content has changed, so that the consumer can load it again.
//
// The watcher observes directories rather than the file, because the common
// ways of updating a file replace it: editors and `sed -i` write a temporary
// file and rename it over the old one, Kubernetes ConfigMap volumes swap a
// `..data` symlink to a new directory, and deploy tools swap a `current`
// symlink to a new release directory. It watches every directory that holds
// a symlink on the way from the configured path to the file, and the file's
// own directory. Bursts of events (attribute changes included: a file made
// readable again) are debounced into one check, and a check only signals
// when the SHA-256 of the content differs from the content the consumer last
// loaded, so touching the file or writing unrelated files in the directory
// does nothing.
package reload

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/haproxy-agent/agent/internal/fileio"
)

// Defaults applied by New to zero-valued Options fields.
const (
	DefaultDebounce = 250 * time.Millisecond
	DefaultRecheck  = 10 * time.Second
	// DefaultRetry is how often the watcher tries again to watch a directory
	// that could not be watched (removed, not yet created, no permission).
	DefaultRetry = time.Second
	// DefaultLimit is the size limit of the default Options.Read.
	DefaultLimit = 4 << 20
)

// maxDelayFactor bounds how long a continuous stream of events can postpone
// a check: at most maxDelayFactor debounce periods after the first event.
const maxDelayFactor = 4

// Options tunes a Watcher. The zero value is usable.
type Options struct {
	// Debounce is how long the directory must stay quiet before the file is
	// checked; a burst of events within it yields one check. A stream of
	// events that never pauses is checked at least every 4 × Debounce.
	// Zero means DefaultDebounce.
	Debounce time.Duration
	// Recheck is the period of a fallback stat-and-hash of the file, which
	// catches changes whose events were lost (inotify queue overflow, network
	// file systems). Zero means DefaultRecheck; negative disables it.
	Recheck time.Duration
	// Retry is how often a directory that cannot be watched is tried again.
	// Zero means DefaultRetry.
	Retry time.Duration
	// Read reads the file; it must be the consumer's own reader, so that
	// the watcher hashes what the consumer would load. Bytes returned with
	// an error are content the consumer refuses but can name (the bounded
	// prefix of a file over the size limit): their hash is compared like
	// any other, so that a refused file is signalled once, not at every
	// recheck. Nil means fileio.ReadFile with DefaultLimit.
	Read func(path string) ([]byte, error)
	// Logger receives warnings about unreadable files and unwatchable
	// directories. Nil discards them.
	Logger *slog.Logger
}

// Event tells the consumer that the watched file's content changed. The
// consumer reads the file itself, which may by then hold newer content.
type Event struct{}

// Watcher decides when the rule file must be reloaded. Its Run method is the
// single goroutine that owns the fsnotify watcher; Events and Loaded may be
// used from any goroutine.
type Watcher struct {
	path   string // absolute path of the file as configured (may be a symlink)
	opts   Options
	logger *slog.Logger
	events chan Event

	mu    sync.Mutex
	known string // hash of the content the consumer has (or has been told about)

	// watching is closed once Run has added its first watches, so that
	// tests can change the file without sleeping first.
	watching chan struct{}
}

// New returns a watcher for the file at path. It records the file's current
// content hash as already loaded, on the assumption that the consumer loaded
// the file just before; the consumer can correct that with Loaded. A missing
// or unreadable file is not an error: its appearance will be signalled.
func New(path string, opts Options) (*Watcher, error) {
	if path == "" {
		return nil, errors.New("reload: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("reload: resolve %q: %w", path, err)
	}
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.Recheck == 0 {
		opts.Recheck = DefaultRecheck
	}
	if opts.Retry <= 0 {
		opts.Retry = DefaultRetry
	}
	if opts.Read == nil {
		opts.Read = func(path string) ([]byte, error) { return fileio.ReadFile(path, DefaultLimit) }
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{
		path:   abs,
		opts:   opts,
		logger: logger.With("component", "reload", "file", abs),
		events: make(chan Event, 1),

		watching: make(chan struct{}),
	}
	if h, err := w.hash(); err == nil {
		w.known = h
	}
	return w, nil
}

// Events delivers one Event per detected content change. The channel holds at
// most one pending event: if the consumer has not taken the previous one, it
// is replaced by the newer one, so a slow consumer reloads once. The channel
// is never closed.
func (w *Watcher) Events() <-chan Event { return w.events }

// Loaded tells the watcher which content the consumer now has: the hex
// SHA-256 (fileio.Hash) of the bytes it read, whether or not they parsed,
// or "" when it could read nothing. The watcher signals only for content
// that differs from it, so a reload by another route (SIGHUP, HTTP) does
// not cause a second one, and a broken file is not signalled again until it
// changes.
func (w *Watcher) Loaded(hash string) {
	w.mu.Lock()
	w.known = hash
	w.mu.Unlock()
}

// Run watches until ctx is done, then closes its fsnotify watcher and returns
// nil. It returns an error only if no fsnotify watcher can be created. A
// directory that disappears or cannot be watched is logged and tried again
// every Retry period. Run must be called at most once.
func (w *Watcher) Run(ctx context.Context) error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("reload: create fsnotify watcher: %w", err)
	}
	defer fw.Close()

	r := &run{w: w, fw: fw, watched: map[string]bool{}}

	// Timers created by a go1.23+ module deliver nothing stale after Stop or
	// Reset, so they can be re-armed without draining.
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	var recheck <-chan time.Time
	if w.opts.Recheck > 0 {
		t := time.NewTicker(w.opts.Recheck)
		defer t.Stop()
		recheck = t.C
	}

	var (
		pending bool
		first   time.Time
	)
	arm := func() {
		now := time.Now()
		if !pending {
			pending, first = true, now
		}
		wait := w.opts.Debounce
		if limit := first.Add(maxDelayFactor * w.opts.Debounce).Sub(now); limit < wait {
			wait = max(limit, 0)
		}
		debounce.Reset(wait)
	}
	resync := func() {
		if !r.resync() {
			retry.Reset(w.opts.Retry)
		}
	}

	resync()
	close(w.watching)
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-fw.Events:
			if !ok {
				return errors.New("reload: fsnotify events channel closed")
			}
			// Attribute changes count too: a file made readable again
			// (chmod) has content to load. A touch costs one hash.
			arm()
		case err, ok := <-fw.Errors:
			if !ok {
				return errors.New("reload: fsnotify errors channel closed")
			}
			// Events may have been lost (queue overflow): look at the file.
			w.logger.Warn("file watch error", "err", err)
			arm()
		case <-debounce.C:
			pending = false
			resync()
			r.check()
		case <-retry.C:
			resync()
			// The directory may have come back with new content.
			r.check()
		case <-recheck:
			resync()
			r.check()
		}
	}
}

// run is the state owned by the Run goroutine.
type run struct {
	w        *Watcher
	fw       *fsnotify.Watcher
	watched  map[string]bool // directories currently added to fw
	watchErr string          // last watch failure logged, to log each once
	readErr  string          // last read failure logged, to log each once
}

// dirs returns the directories whose events can signal a change of the file.
func (r *run) dirs() []string { return watchDirs(r.w.path) }

// maxLinks bounds the symlinks followed while resolving, as the kernel does.
const maxLinks = 40

// watchDirs resolves the absolute path one element at a time and returns,
// without symlinks in them, every directory that holds a symlink met on the
// way (replacing that link redirects the path: a ConfigMap's ..data, a
// deploy's current -> releases/v2) and the directory holding the file it
// finally names. When an element is missing, the directory it would be in
// is the last one returned, so that adding a watch on it fails and is
// retried until it exists.
func watchDirs(path string) []string {
	var dirs []string
	seen := map[string]bool{}
	add := func(d string) {
		if !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	todo := strings.Split(strings.TrimPrefix(filepath.Clean(path), "/"), "/")
	resolved := "/"
	links := 0
	for len(todo) > 0 {
		elem := todo[0]
		todo = todo[1:]
		if elem == "" || elem == "." {
			continue
		}
		if elem == ".." {
			resolved = filepath.Dir(resolved)
			continue
		}
		next := filepath.Join(resolved, elem)
		fi, err := os.Lstat(next)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 || links >= maxLinks {
			if err != nil || len(todo) == 0 {
				// Missing, or the file itself: its directory is the last.
				add(filepath.Dir(filepath.Join(append([]string{next}, todo...)...)))
				return dirs
			}
			resolved = next
			continue
		}
		target, err := os.Readlink(next)
		if err != nil {
			add(resolved)
			return dirs
		}
		links++
		add(resolved)
		if filepath.IsAbs(target) {
			resolved = "/"
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	add(filepath.Dir(resolved))
	return dirs
}

// resync brings the watched directories in line with dirs and reports
// whether all of them are watched. Adding a directory that is already
// watched is harmless, and it re-establishes a watch the kernel dropped
// because the directory was removed.
func (r *run) resync() bool {
	want := r.dirs()
	keep := make(map[string]bool, len(want))
	var failed error
	for _, d := range want {
		keep[d] = true
		if err := r.fw.Add(d); err != nil {
			delete(r.watched, d)
			if failed == nil {
				failed = fmt.Errorf("watch directory %q: %w", d, err)
			}
			continue
		}
		r.watched[d] = true
	}
	for d := range r.watched {
		if !keep[d] {
			_ = r.fw.Remove(d) // already gone if the directory was removed
			delete(r.watched, d)
		}
	}
	if failed != nil {
		if msg := failed.Error(); msg != r.watchErr {
			r.watchErr = msg
			r.w.logger.Warn("cannot watch rule file directory, will retry", "err", failed, "retry", r.w.opts.Retry)
		}
		return false
	}
	if r.watchErr != "" {
		r.watchErr = ""
		r.w.logger.Info("watching rule file directory again", "dirs", want)
	}
	return true
}

// hash reads the file with the consumer's reader and returns the hash of
// what it read. With an error, a non-empty hash names content the consumer
// will refuse (see Options.Read); an empty one means nothing was read.
func (w *Watcher) hash() (string, error) {
	data, err := w.opts.Read(w.path)
	if data == nil && err != nil {
		return "", err
	}
	return fileio.Hash(data), err
}

// check hashes the file and signals if its content differs from the known one.
func (r *run) check() {
	h, err := r.w.hash()
	if h == "" {
		// Keep the last known hash: the consumer keeps serving the old rules,
		// and the file coming back unchanged should not cause a reload.
		if msg := err.Error(); msg != r.readErr {
			r.readErr = msg
			r.w.logger.Warn("cannot read rule file", "err", err)
		}
		return
	}
	// With an error, h names content the consumer will refuse: it is
	// signalled once, like any change, and the consumer reports why.
	r.readErr = ""

	r.w.mu.Lock()
	if h == r.w.known {
		r.w.mu.Unlock()
		return
	}
	r.w.known = h
	r.w.mu.Unlock()

	r.w.logger.Debug("rule file changed", "sha256", h)
	r.w.send(Event{})
}

// send delivers ev without blocking, replacing an event not yet taken. Only
// the Run goroutine sends, so after the drain the buffer has room.
func (w *Watcher) send(ev Event) {
	select {
	case w.events <- ev:
		return
	default:
	}
	select {
	case <-w.events:
	default:
	}
	select {
	case w.events <- ev:
	default:
	}
}
