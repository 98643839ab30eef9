// Package clock is where time enters the agent's evaluation loop: the wall
// clock when serving, a fake one that tests advance, so that tests of
// `for:`, restore windows and ramps run without sleeping.
package clock

import "time"

// Clock tells the time and makes tickers.
type Clock interface {
	Now() time.Time
	NewTicker(d time.Duration) Ticker
}

// Ticker is a time.Ticker behind an interface: C delivers ticks, dropping
// those a slow receiver missed.
type Ticker interface {
	C() <-chan time.Time
	Reset(d time.Duration)
	Stop()
}

// Wall is the real clock.
func Wall() Clock { return wall{} }

type wall struct{}

func (wall) Now() time.Time { return time.Now() }

func (wall) NewTicker(d time.Duration) Ticker { return wallTicker{time.NewTicker(d)} }

type wallTicker struct{ t *time.Ticker }

func (t wallTicker) C() <-chan time.Time   { return t.t.C }
func (t wallTicker) Reset(d time.Duration) { t.t.Reset(d) }
func (t wallTicker) Stop()                 { t.t.Stop() }
