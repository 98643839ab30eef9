package responder

import (
	"net/netip"
	"sync"
	"time"
)

// Limits of the log of refused clients: a client outside --poll.allow
// polling every second, or a scan from many addresses, must not flood the
// log.
const (
	// refusedEvery is how often one address is logged again, with the
	// count of its connections refused since.
	refusedEvery = time.Minute
	// refusedBurst is the most lines logged per refusedEvery, all
	// addresses together.
	refusedBurst = 10
	// refusedAddrs bounds the addresses remembered; past it the memory
	// starts over.
	refusedAddrs = 4096
)

// refusedLog decides which refused connections are logged: the first of
// each address, then one a minute per address with the count since, and
// at most refusedBurst lines a minute in all.
type refusedLog struct {
	mu      sync.Mutex
	addrs   map[netip.Addr]*refusedAddr
	window  time.Time // start of the current minute of the burst limit
	written int       // lines logged in it
}

type refusedAddr struct {
	logged  time.Time // zero: never logged
	pending int       // refused since logged
}

// refuse counts a refused connection from a at now and reports whether
// to log it, with how many connections from a it stands for.
func (l *refusedLog) refuse(a netip.Addr, now time.Time) (log bool, count int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.addrs == nil || len(l.addrs) >= refusedAddrs {
		l.addrs = map[netip.Addr]*refusedAddr{}
	}
	r := l.addrs[a]
	if r == nil {
		r = &refusedAddr{}
		l.addrs[a] = r
	}
	r.pending++
	if !r.logged.IsZero() && now.Sub(r.logged) < refusedEvery {
		return false, 0
	}
	if now.Sub(l.window) >= refusedEvery {
		l.window, l.written = now, 0
	}
	if l.written >= refusedBurst {
		return false, 0
	}
	l.written++
	count, r.pending, r.logged = r.pending, 0, now
	return true, count
}
