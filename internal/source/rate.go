package source

import (
	"errors"
	"time"
)

var errFirstScrape = errors.New("rate needs two scrapes")

// rates remembers, per selector and series, the previous read's counter
// value, to turn counters into per-second rates between consecutive reads.
// Series are keyed by a hash of their labels; a series absent from a read
// is forgotten.
type rates struct {
	gen   uint64
	bySel map[string]*rateState
}

type point struct {
	v float64
	t time.Time
}

type rateState struct {
	gen       uint64
	prev, cur map[uint64]point
}

// begin starts a read: states of selectors that were not read in the
// previous read are dropped.
func (r *rates) begin() {
	r.gen++
	for k, s := range r.bySel {
		if s.gen+1 < r.gen {
			delete(r.bySel, k)
		}
	}
}

// state returns the state of one selector for the current read. Two metrics
// with the same selector share it: both see the previous read's values.
func (r *rates) state(sel string) *rateState {
	if r.bySel == nil {
		r.bySel = map[string]*rateState{}
	}
	s := r.bySel[sel]
	if s == nil {
		s = &rateState{prev: map[uint64]point{}, cur: map[uint64]point{}}
		r.bySel[sel] = s
	}
	if s.gen != r.gen {
		if s.gen+1 != r.gen {
			clear(s.cur) // a read was skipped: its values are too old to pair
		}
		s.prev, s.cur = s.cur, s.prev
		clear(s.cur)
		s.gen = r.gen
	}
	return s
}

// rate records v at t for a series and returns the per-second increase
// since the previous read. A decrease is a counter reset: as in Prometheus,
// the new value is taken as the increase since the reset.
func (s *rateState) rate(series uint64, v float64, t time.Time) (float64, bool) {
	s.cur[series] = point{v, t}
	p, ok := s.prev[series]
	if !ok {
		return 0, false
	}
	dt := t.Sub(p.t).Seconds()
	if dt <= 0 {
		return 0, false
	}
	inc := v - p.v
	if v < p.v {
		inc = v
	}
	return inc / dt, true
}
