package override

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/fileio"
	"github.com/haproxy-agent/agent/rules"
)

// MaxOverrides bounds the number of overrides in force at once, so that a
// script gone wrong cannot grow the state file and every evaluation
// without limit.
const MaxOverrides = 1000

// ErrNotFound is returned by Remove for an ID that is not in force.
var ErrNotFound = errors.New("no such override")

// Options configure a Store.
type Options struct {
	// KnownService reports whether a service name exists in the rules now
	// loaded; Add refuses overrides for other names. Nil accepts any name.
	// It is not applied to overrides read back from the state file: the
	// rules may have changed since, and an override for a service that no
	// longer exists applies to nothing.
	KnownService func(name string) bool
	// Now is the clock used for Created and Expires; nil means time.Now.
	Now func() time.Time
}

// Shared is where the overrides live when several replicas share them
// (etcd). Add, Remove and Clear write there first and fail, changing
// nothing, when it cannot be written; what it holds comes back to every
// replica, this one included, through Store.Replace.
type Shared interface {
	PutOverride(ctx context.Context, o evaluator.Override) error
	DeleteOverride(ctx context.Context, id string) error
	DeleteOverrides(ctx context.Context) error
}

// sharedTimeout bounds a write to the shared store: an operator waits for it.
const sharedTimeout = 5 * time.Second

// Store is the set of overrides in force. It is safe for concurrent use.
// Every change is written to the state file before the method making it
// returns success, so what an operator was told is in force survives a
// restart. Expired overrides are never returned and are dropped from the
// file at the next change.
type Store struct {
	path   string
	logger *slog.Logger
	known  func(string) bool
	now    func() time.Time

	// mu serializes changes, so that the state file's order of writes is
	// the order of the changes.
	mu sync.Mutex
	// all holds the overrides oldest first (later ones win in the
	// evaluator). The slice is never modified once stored: changes store
	// a new one, so readers need no lock.
	all atomic.Pointer[[]evaluator.Override]
	// timer fires at the next expiry so that the agent re-evaluates then.
	timer  *time.Timer
	closed bool
	// replies are the last replies sent, by service, and outBy the fleet
	// servers HAProxy may hold out, as in the file; guarded by mu.
	replies, outBy map[string]string
	changed        chan struct{}
	loadErr        error
	// shared, when set, is written before the local set changes.
	shared Shared
}

// Share makes the store write every change to shared first. Call it once,
// before the store is used by the overrides API.
func (s *Store) Share(shared Shared) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shared = shared
}

// Replace puts ovs in force instead of the overrides held now: the whole
// set read from the shared store. Overrides that appear or go are logged,
// and the state file keeps the set as a local cache for a restart while
// the shared store cannot be read.
func (s *Store) Replace(ovs []evaluator.Override) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	next := live(ovs, now, make([]evaluator.Override, 0, len(ovs)))
	cur := live(*s.all.Load(), now, nil)
	if slices.EqualFunc(cur, next, sameOverride) {
		return nil
	}
	for _, o := range next {
		if !slices.ContainsFunc(cur, func(c evaluator.Override) bool { return c.ID == o.ID }) {
			logOverride(s.logger, "Override in force (shared)", o)
		}
	}
	for _, o := range cur {
		if !slices.ContainsFunc(next, func(c evaluator.Override) bool { return c.ID == o.ID }) {
			logOverride(s.logger, "Override gone (shared)", o)
		}
	}
	return s.commit(next, now)
}

func sameOverride(a, b evaluator.Override) bool {
	return a.ID == b.ID && a.Service == b.Service && a.Action == b.Action && a.Reason == b.Reason &&
		a.Created.Equal(b.Created) && a.Expires.Equal(b.Expires)
}

// share runs write against the shared store, if any, with a deadline.
// Called with mu held.
func (s *Store) share(write func(ctx context.Context, sh Shared) error) error {
	if s.shared == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
	defer cancel()
	if err := write(ctx, s.shared); err != nil {
		return fmt.Errorf("the shared override store cannot be written, nothing changed: %w", err)
	}
	return nil
}

// Open returns a store holding the overrides of the state file at path; a
// missing file is an empty store, and path "" keeps overrides in memory
// only. A file that cannot be parsed is not silently dropped: it is logged
// at error level, renamed to PATH.corrupt-TIMESTAMP for a human to look
// at, reported by LoadError, and the store starts empty. Open fails when
// the file cannot be read or moved aside, or was written by a newer agent.
func Open(path string, logger *slog.Logger, opts Options) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		path:    path,
		logger:  logger,
		known:   opts.KnownService,
		now:     opts.Now,
		changed: make(chan struct{}, 1),
	}
	if s.now == nil {
		s.now = time.Now
	}
	var ovs []evaluator.Override
	if path != "" {
		st, err := s.load()
		if err != nil {
			return nil, err
		}
		ovs, s.replies, s.outBy = st.Overrides, st.Replies, st.OutBy
	}
	now := s.now()
	ovs = slices.DeleteFunc(ovs, func(o evaluator.Override) bool { return expired(o, now) })
	s.all.Store(&ovs)
	if len(ovs) > 0 {
		logger.Info("overrides loaded from the state file", "file", path, "count", len(ovs))
		for _, o := range ovs {
			logOverride(logger, "Override in force", o)
		}
	}
	s.mu.Lock()
	s.schedule(now)
	s.mu.Unlock()
	return s, nil
}

// load reads the state file, moving it aside when it is corrupt.
func (s *Store) load() (State, error) {
	data, err := readStateFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, nil
	}
	if err != nil && !errors.Is(err, fileio.ErrTooLarge) {
		return State{}, fmt.Errorf("read override state: %w", err)
	}
	// A file too large to be ours is as corrupt as one that does not parse.
	var st State
	if err == nil {
		st, err = decodeState(data)
	}
	if err == nil {
		return st, nil
	}
	if errors.Is(err, errNewer) {
		return State{}, fmt.Errorf("override state file %s: %w", s.path, err)
	}
	to, merr := moveAside(s.path, s.now())
	if merr != nil {
		return State{}, fmt.Errorf("override state file %s is corrupt (%v) and could not be moved aside: %w", s.path, err, merr)
	}
	s.loadErr = &CorruptError{Path: s.path, MovedTo: to, Err: err}
	s.logger.Error("override state file is corrupt: moved aside, starting with no overrides; re-add the overrides you need",
		"file", s.path, "moved_to", to, "err", err)
	return State{}, nil
}

// Replies returns a copy of the last replies recorded, by service: those
// read from the state file at Open until SaveReplies records others.
func (s *Store) Replies() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.replies)
}

// OutBy returns a copy of the fleet servers HAProxy may hold out of
// rotation, and why, as last recorded: read from the state file at Open
// until SaveReplies records others.
func (s *Store) OutBy() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.outBy)
}

// SaveReplies records the replies the agent now sends, by service (lines
// with or without their newline), and in fleet mode which servers HAProxy
// may hold out and why (see evaluator.Decision.OutBy), in the state file.
// It writes only when they differ from those recorded, and without a
// state file it does nothing.
func (s *Store) SaveReplies(replies, outBy map[string]string) error {
	if s.path == "" {
		return nil
	}
	next := make(map[string]string, len(replies))
	for svc, line := range replies {
		next[svc] = strings.TrimRight(line, "\r\n")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(outBy) == 0 {
		outBy = nil
	}
	if maps.Equal(next, s.replies) && maps.Equal(outBy, s.outBy) {
		return nil
	}
	if s.closed {
		return errors.New("override store is closed")
	}
	data, err := encodeState(live(*s.all.Load(), s.now(), nil), next, outBy)
	if err == nil {
		err = writeAtomic(s.path, data)
	}
	if err != nil {
		return fmt.Errorf("save replies to %s: %w", s.path, err)
	}
	s.replies, s.outBy = next, maps.Clone(outBy)
	return nil
}

// LoadError returns the *CorruptError of a state file Open moved aside,
// or nil.
func (s *Store) LoadError() error { return s.loadErr }

// Close stops the expiry timer. The store stays readable; changes fail.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
	return nil
}

// Changed delivers a value after each change of the overrides in force,
// including an expiry, so that the agent re-evaluates at once. Changes
// that come faster than they are received are coalesced into one; the
// channel is meant for one receiver.
func (s *Store) Changed() <-chan struct{} { return s.changed }

func (s *Store) notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// Active returns the overrides in force at now, oldest first, for the
// evaluator. It takes no lock and, unless one has expired since the last
// change, allocates nothing: the slice is shared and must not be modified.
func (s *Store) Active(now time.Time) []evaluator.Override {
	all := *s.all.Load()
	for i, o := range all {
		if expired(o, now) {
			return live(all[i:], now, append(make([]evaluator.Override, 0, len(all)-1), all[:i]...))
		}
	}
	return all
}

// List returns a copy of the overrides in force at now, oldest first.
func (s *Store) List(now time.Time) []evaluator.Override {
	all := *s.all.Load()
	return live(all, now, make([]evaluator.Override, 0, len(all)))
}

// Get returns the override with that ID if it is in force at now.
func (s *Store) Get(id string, now time.Time) (evaluator.Override, bool) {
	for _, o := range *s.all.Load() {
		if o.ID == id && !expired(o, now) {
			return o, true
		}
	}
	return evaluator.Override{}, false
}

// Add validates o, gives it an ID and its Created time, and puts it in
// force for ttl (0: until removed). o's ID, Created and Expires are
// ignored. The service must be empty (all services) or one KnownService
// accepts; the reason must be printable ASCII of 1 to MaxReason
// characters; the action must set something. A refused override is a
// *ValidationError.
func (s *Store) Add(o evaluator.Override, ttl time.Duration) (evaluator.Override, error) {
	if err := checkReason(o.Reason); err != nil {
		return o, err
	}
	if err := checkAction(o.Action); err != nil {
		return o, err
	}
	if ttl < 0 {
		return o, invalid("ttl %s: must not be negative (0 means never expires)", ttl)
	}
	if len(o.Service) > rules.MaxNameLen {
		return o, invalid("service name too long: %d bytes, the limit is %d", len(o.Service), rules.MaxNameLen)
	}
	if o.Service != "" && s.known != nil && !s.known(o.Service) {
		return o, invalid("unknown service %q: the rules loaded have no such service (nor, in fleet mode, server); without --service (an empty service) an override applies to all", o.Service)
	}
	id, err := newID()
	if err != nil {
		return o, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	cur := live(*s.all.Load(), now, nil)
	if len(cur) >= MaxOverrides {
		return o, invalid("%d overrides are in force already, the most allowed: remove some first", len(cur))
	}
	for slices.ContainsFunc(cur, func(c evaluator.Override) bool { return c.ID == id }) {
		if id, err = newID(); err != nil {
			return o, err
		}
	}
	o.ID, o.Created, o.Expires = id, now, time.Time{}
	if ttl > 0 {
		o.Expires = now.Add(ttl)
	}
	if err := s.share(func(ctx context.Context, sh Shared) error { return sh.PutOverride(ctx, o) }); err != nil {
		return o, err
	}
	if err := s.commit(append(cur, o), now); err != nil {
		return o, err
	}
	logOverride(s.logger, "Override added", o)
	return o, nil
}

// Remove takes the override with that ID out of force and returns it;
// ErrNotFound when no such override is in force.
func (s *Store) Remove(id string) (evaluator.Override, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	cur := live(*s.all.Load(), now, nil)
	i := slices.IndexFunc(cur, func(o evaluator.Override) bool { return o.ID == id })
	if i < 0 {
		return evaluator.Override{}, fmt.Errorf("%w %q", ErrNotFound, id)
	}
	o := cur[i]
	if err := s.share(func(ctx context.Context, sh Shared) error { return sh.DeleteOverride(ctx, id) }); err != nil {
		return evaluator.Override{}, err
	}
	if err := s.commit(slices.Delete(cur, i, i+1), now); err != nil {
		return evaluator.Override{}, err
	}
	logOverride(s.logger, "Override removed", o)
	return o, nil
}

// Clear takes every override out of force and returns those that were in
// force, oldest first.
func (s *Store) Clear() ([]evaluator.Override, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	removed := live(*s.all.Load(), now, nil)
	if err := s.share(func(ctx context.Context, sh Shared) error { return sh.DeleteOverrides(ctx) }); err != nil {
		return nil, err
	}
	if err := s.commit(nil, now); err != nil {
		return nil, err
	}
	if len(removed) > 0 {
		s.logger.Info("overrides cleared", "count", len(removed))
	}
	return removed, nil
}

// commit persists next and then makes it the set in force. It is called
// with mu held; next must not be shared with anything else.
func (s *Store) commit(next []evaluator.Override, now time.Time) error {
	if s.closed {
		return errors.New("override store is closed")
	}
	if next == nil {
		next = []evaluator.Override{}
	}
	if s.path != "" {
		data, err := encodeState(next, s.replies, s.outBy)
		if err == nil {
			err = writeAtomic(s.path, data)
		}
		if err != nil {
			s.logger.Error("cannot write the override state file; the change is not applied", "file", s.path, "err", err)
			return fmt.Errorf("save overrides to %s: %w", s.path, err)
		}
	}
	s.all.Store(&next)
	s.schedule(now)
	s.notify()
	return nil
}

// schedule arms the timer for the next expiry after now. Called with mu
// held.
func (s *Store) schedule(now time.Time) {
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.closed {
		return
	}
	var next time.Time
	for _, o := range *s.all.Load() {
		if !o.Expires.IsZero() && o.Expires.After(now) && (next.IsZero() || o.Expires.Before(next)) {
			next = o.Expires
		}
	}
	if next.IsZero() {
		return
	}
	s.timer = time.AfterFunc(next.Sub(now), s.expire)
}

// expire runs when an override's time is up: it is dropped from memory
// and the agent told to re-evaluate without it. The file keeps it until
// the next change (Open drops it too), which saves a write.
func (s *Store) expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	now := s.now()
	all := *s.all.Load()
	next := live(all, now, make([]evaluator.Override, 0, len(all)))
	for _, o := range all {
		if expired(o, now) {
			logOverride(s.logger, "Override expired", o)
		}
	}
	s.all.Store(&next)
	s.schedule(now)
	s.notify()
}

// expired matches the evaluator: an override stops applying at Expires.
func expired(o evaluator.Override, now time.Time) bool {
	return !o.Expires.IsZero() && !now.Before(o.Expires)
}

// live appends to dst the overrides of all in force at now.
func live(all []evaluator.Override, now time.Time, dst []evaluator.Override) []evaluator.Override {
	for _, o := range all {
		if !expired(o, now) {
			dst = append(dst, o)
		}
	}
	return dst
}

// idLen is the length of an override's ID.
const idLen = 8

// newID returns idLen random hex digits: short enough to type, and with at
// most MaxOverrides in force a clash is rare (and retried).
func newID() (string, error) {
	var b [idLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("override id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func logOverride(logger *slog.Logger, msg string, o evaluator.Override) {
	expires := "never"
	if !o.Expires.IsZero() {
		expires = o.Expires.UTC().Format(time.RFC3339)
	}
	service := o.Service
	if service == "" {
		service = "(all)"
	}
	logger.Info(msg, "id", o.ID, "service", service, "action", o.Action.String(), "reason", o.Reason, "expires", expires)
}
