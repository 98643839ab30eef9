package clock

import (
	"sync"
	"time"
)

// Fake is a clock that moves only when told to. Its tickers tick as
// Advance passes their period, delivering at most one tick per Advance
// when the last one was not received, as a time.Ticker drops ticks.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*fakeTicker
	// made is signalled each time a ticker is made or reset.
	made chan struct{}
}

// NewFake returns a fake clock set to now.
func NewFake(now time.Time) *Fake {
	return &Fake{now: now, made: make(chan struct{}, 1)}
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTicker returns a ticker that ticks every d of fake time.
func (f *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive interval for NewTicker")
	}
	f.mu.Lock()
	t := &fakeTicker{f: f, c: make(chan time.Time, 1), period: d, next: f.now.Add(d)}
	f.tickers = append(f.tickers, t)
	f.mu.Unlock()
	f.signal()
	return t
}

// Advance moves the clock on by d and fires the tickers whose next tick
// it passed.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	for _, t := range f.tickers {
		if t.stopped || t.next.After(f.now) {
			continue
		}
		select {
		case t.c <- t.next:
		default: // not received yet: dropped, as a time.Ticker does
		}
		for !t.next.After(f.now) {
			t.next = t.next.Add(t.period)
		}
	}
}

// WaitTicker blocks until some ticker has been made or reset since the
// last call, so that a test advances the clock only once the code under
// test is waiting on it.
func (f *Fake) WaitTicker() { <-f.made }

func (f *Fake) signal() {
	select {
	case f.made <- struct{}{}:
	default:
	}
}

type fakeTicker struct {
	f       *Fake
	c       chan time.Time
	period  time.Duration
	next    time.Time
	stopped bool
}

func (t *fakeTicker) C() <-chan time.Time { return t.c }

func (t *fakeTicker) Reset(d time.Duration) {
	if d <= 0 {
		panic("clock: non-positive interval for Ticker.Reset")
	}
	t.f.mu.Lock()
	t.period, t.next, t.stopped = d, t.f.now.Add(d), false
	t.f.mu.Unlock()
	t.f.signal()
}

func (t *fakeTicker) Stop() {
	t.f.mu.Lock()
	t.stopped = true
	t.f.mu.Unlock()
}
