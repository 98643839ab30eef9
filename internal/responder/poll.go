package responder

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

var errLineTooLong = errors.New("agent-send line too long")

// handle answers one poll and closes c. This is the hot path: it loads the
// table once, may read one line into a pooled buffer, writes a prepared
// line and increments prepared counters, and allocates nothing on success.
func (s *Server) handle(c net.Conn, accepted time.Time) {
	defer c.Close()
	p := s.current.Load()
	if p == nil {
		// HAProxy takes a close without data as "no change".
		s.m.notReady.Inc()
		return
	}
	r := p.def
	if p.read {
		if r = s.pick(c, p, accepted); r == nil {
			return
		}
	}
	_ = c.SetWriteDeadline(time.Now().Add(s.opts.WriteTimeout))
	if _, err := c.Write(r.line); err != nil {
		r.writeError.Inc()
		return
	}
	r.ok.Inc()
	if r.answered != nil {
		r.answered.Add(1)
	}
	s.m.duration.Observe(time.Since(accepted).Seconds())
}

// pick reads the agent-send line and returns the reply it selects, or nil
// (outcome counted) when the poll is closed without reply.
func (s *Server) pick(c net.Conn, p *published, accepted time.Time) *reply {
	buf := s.bufs.Get().(*[maxRequestLine]byte)
	defer s.bufs.Put(buf)

	// One deadline for the whole line, counted from accept, so that a
	// client dripping bytes cannot extend it. If this goroutine started
	// late (a starved machine), still leave part of the window: a line
	// already waiting in the socket must not be taken for silence, which
	// would send the default service's state to another service's poll.
	deadline := accepted.Add(s.opts.ReadTimeout)
	if floor := time.Now().Add(s.opts.ReadTimeout / 4); deadline.Before(floor) {
		deadline = floor
	}
	name, err := readLine(c, buf[:], deadline)
	switch {
	case errors.Is(err, errLineTooLong):
		s.m.badRequest.Inc()
		return nil
	case err != nil:
		s.m.readError.Inc()
		return nil
	}
	name = bytes.TrimSpace(name)
	if len(name) == 0 || string(name) == DefaultService {
		return p.def
	}
	if r, ok := p.services[string(name)]; ok {
		return r
	}
	if !printable(name) {
		// Not HAProxy: not worth a reply nor a log line.
		s.m.badRequest.Inc()
		return nil
	}
	s.logUnknown(c, name, p.table.fleet)
	if p.table.fleet {
		return s.unknownSrv
	}
	return s.unknown
}

// readLine reads until a newline, the deadline or EOF, and returns what
// came before the newline. Silence and a half-closed connection give what
// was read so far (usually nothing: the default service), so an agent-send
// string configured without its "\n" still selects its service, late. A
// line that does not fit buf is errLineTooLong.
func readLine(c net.Conn, buf []byte, deadline time.Time) ([]byte, error) {
	if err := c.SetReadDeadline(deadline); err != nil {
		return nil, err
	}
	n := 0
	for {
		m, err := c.Read(buf[n:])
		if i := bytes.IndexByte(buf[n:n+m], '\n'); i >= 0 {
			return buf[:n+i], nil
		}
		n += m
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The line may have come after the deadline fired but
			// before this goroutine ran again: take what is there.
			if m := readWaiting(c, buf[n:]); m > 0 {
				if i := bytes.IndexByte(buf[n:n+m], '\n'); i >= 0 {
					return buf[:n+i], nil
				}
				n += m
			}
			return buf[:n], nil
		}
		if err != nil {
			if err == io.EOF {
				return buf[:n], nil
			}
			return nil, err
		}
		if n == len(buf) {
			return nil, errLineTooLong
		}
	}
}

// printable reports whether b is printable ASCII, which every name worth
// logging is.
func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// logUnknown logs an unknown service name the first time it is seen.
func (s *Server) logUnknown(c net.Conn, name []byte, fleet bool) {
	switch s.unknownLog.add(name) {
	case addedFirst:
		if fleet {
			s.log.Warn("poll named an unknown server; replying with an empty line (no change)",
				"server", string(name), "client", c.RemoteAddr().String())
			return
		}
		s.log.Warn("poll asked for an unknown service; replying with an empty line (no change)",
			"service", string(name), "client", c.RemoteAddr().String())
	case addedFull:
		s.log.Warn("too many distinct unknown names; no longer logging new ones",
			"limit", maxLoggedNames)
	}
}

// nameSet remembers up to maxLoggedNames names.
type nameSet struct {
	mu   sync.Mutex
	seen map[string]struct{}
	full bool
}

type addResult int

const (
	addedSeen  addResult = iota // known already, or the set is full
	addedFirst                  // first time seen
	addedFull                   // the set just became full; name not added
)

func (n *nameSet) add(name []byte) addResult {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.seen[string(name)]; ok {
		return addedSeen
	}
	if len(n.seen) >= maxLoggedNames {
		if n.full {
			return addedSeen
		}
		n.full = true
		return addedFull
	}
	if n.seen == nil {
		n.seen = make(map[string]struct{})
	}
	n.seen[string(name)] = struct{}{}
	return addedFirst
}
