package responder

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Server answers agent-check polls from the latest published Table. Its
// methods are safe for concurrent use; one Server may Serve several
// listeners, which then share its MaxConnections.
type Server struct {
	opts Options
	log  *slog.Logger
	m    *metrics

	current atomic.Pointer[published]
	open    atomic.Int64 // connections being handled, over every listener

	unknown    *reply    // the empty line sent for unknown services
	unknownSrv *reply    // the empty line sent for unknown fleet servers
	unknownLog nameSet   // unknown names already logged
	bufs       sync.Pool // *[maxRequestLine]byte, for agent-send lines
	refused    refusedLog
}

// published is a Table with the counters its polls increment, created at
// Publish so that a poll neither allocates nor looks up label values.
type published struct {
	table    *Table
	def      *reply
	services map[string]*reply
	// read is whether polls read an agent-send line: the table has
	// services, or is a fleet's.
	read bool
}

// reply is one line to send and the counters of its outcomes.
type reply struct {
	line       []byte
	ok         prometheus.Counter
	writeError prometheus.Counter
	// service and server are the counters' labels (one of them set), by
	// which they are deleted once no table names them; both are empty for
	// the counters of polls that name nothing known, which stay.
	service, server string
	// answered is the publisher's count of the polls answered with line,
	// or nil (see NewFleetTableAnswered).
	answered *atomic.Uint64
}

// New returns a Server with opts (zero fields take their defaults). Polls
// are closed without a reply until the first Publish; the agent is meant to
// publish before it starts listening.
func New(opts Options) *Server {
	opts = opts.withDefaults()
	opts.Allow = normalizePrefixes(opts.Allow)
	s := &Server{
		opts: opts,
		log:  opts.Logger,
		m:    newMetrics(opts.Registerer),
	}
	s.unknown = &reply{
		line:       []byte("\n"),
		ok:         s.m.unknownService,
		writeError: s.m.polls.WithLabelValues("", "", outcomeWriteError),
	}
	s.unknownSrv = &reply{
		line:       []byte("\n"),
		ok:         s.m.unknownServer,
		writeError: s.unknown.writeError,
	}
	s.bufs.New = func() any { return new([maxRequestLine]byte) }
	return s
}

// Publish makes t the table every later poll answers from. The swap is
// atomic: a poll gets a line of exactly one published table. Publish(nil)
// withdraws the table, and polls are again closed without a reply.
//
// A fleet's servers are counted under the server label, services under
// the service label; a fleet's polls that name no server are unknown_server
// polls. The series of a name the new table no longer has (a server
// forgotten, a service removed) are deleted, so that churn cannot grow
// /metrics.
func (s *Server) Publish(t *Table) {
	prev := s.current.Load()
	if t == nil {
		s.current.Store(nil)
		return
	}
	p := &published{table: t, read: t.readsLine()}
	if t.fleet {
		p.def = s.unknownSrv
	} else {
		p.def = s.newReply(DefaultService, "", t.def)
	}
	if len(t.byService) > 0 {
		p.services = make(map[string]*reply, len(t.byService))
		for name, line := range t.byService {
			service, server := name, ""
			if t.fleet {
				service, server = "", name
			}
			// A fleet publishes every cycle: reuse the counters of the
			// previous table rather than look up 2 label sets per server.
			if prev != nil {
				if r, ok := prev.services[name]; ok && r.service == service {
					p.services[name] = &reply{line: line, ok: r.ok, writeError: r.writeError, service: service, server: server}
					continue
				}
			}
			p.services[name] = s.newReply(service, server, line)
		}
	}
	for name, n := range t.answered {
		if r := p.services[name]; r != nil {
			r.answered = n
		}
	}
	s.current.Store(p)
	if prev != nil {
		s.deleteGone(prev, p)
	}
}

// deleteGone deletes the series of every name prev counted that p does
// not count under the same labels. Publish(nil) keeps them: nothing is
// answered then, but the names are not gone.
func (s *Server) deleteGone(prev, p *published) {
	gone := func(r *reply) {
		if r.service == "" && r.server == "" {
			return
		}
		s.m.polls.DeleteLabelValues(r.service, r.server, outcomeOK)
		s.m.polls.DeleteLabelValues(r.service, r.server, outcomeWriteError)
	}
	if prev.def.service != p.def.service {
		gone(prev.def)
	}
	for name, r := range prev.services {
		if n, ok := p.services[name]; !ok || n.service != r.service {
			gone(r)
		}
	}
}

func (s *Server) newReply(service, server string, line []byte) *reply {
	return &reply{
		line:       line,
		ok:         s.m.polls.WithLabelValues(service, server, outcomeOK),
		writeError: s.m.polls.WithLabelValues(service, server, outcomeWriteError),
		service:    service,
		server:     server,
	}
}

// Listen opens the agent port on the TCP address addr. A host-less
// address such as ":9999" accepts IPv4 and IPv6 clients. TCP keep-alive is
// off: a poll lasts milliseconds and every option set on accept costs a
// system call.
func Listen(ctx context.Context, addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	return lc.Listen(ctx, "tcp", addr)
}

// Serve accepts poll connections on ln, one goroutine each, until ctx is
// cancelled or accepting fails for good. It then closes ln, lets in-flight
// polls finish for up to ShutdownTimeout, closes those still open and
// returns once every connection goroutine has ended. It returns nil after a
// cancellation, the accept error otherwise.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	conns := &connSet{conns: make(map[net.Conn]struct{})}
	err := s.acceptLoop(ctx, ln, conns)
	_ = ln.Close()
	s.shutdown(conns)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// acceptLoop hands every accepted connection to its own goroutine, after
// the checks that close it at once: client not allowed, cap reached.
func (s *Server) acceptLoop(ctx context.Context, ln net.Listener, conns *connSet) error {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// Out of file descriptors and the like: back off as net/http
			// does, rather than spin or give up.
			if te, ok := err.(interface{ Temporary() bool }); ok && te.Temporary() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("accepting a poll connection failed; retrying", "err", err, "delay", delay)
				t := time.NewTimer(delay)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil
				case <-t.C:
				}
				continue
			}
			return fmt.Errorf("accept poll connection: %w", err)
		}
		delay = 0
		accepted := time.Now()
		if !s.allowed(c.RemoteAddr()) {
			s.m.rejectedNotAllowed.Inc()
			s.logRefused(c.RemoteAddr(), accepted)
			_ = c.Close()
			continue
		}
		if s.open.Load() >= int64(s.opts.MaxConnections) {
			s.m.rejectedLimit.Inc()
			_ = c.Close()
			continue
		}
		s.open.Add(1)
		s.m.open.Inc()
		conns.add(c)
		go s.run(conns, c, accepted)
	}
}

func (s *Server) run(conns *connSet, c net.Conn, accepted time.Time) {
	s.handle(c, accepted)
	s.open.Add(-1)
	s.m.open.Dec()
	// Last: Serve returns once every connection is removed, and by then
	// the counts must be down.
	conns.remove(c)
}

// shutdown waits for the connections of one Serve call, closing them once
// ShutdownTimeout has passed.
func (s *Server) shutdown(conns *connSet) {
	done := make(chan struct{})
	go func() {
		conns.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(s.opts.ShutdownTimeout)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	n := conns.closeAll()
	s.log.Warn("shutdown timeout reached; closed polls still in flight", "count", n)
	<-done
}

// connSet tracks the connections of one Serve call, to close them when
// shutdown times out.
type connSet struct {
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (cs *connSet) add(c net.Conn) {
	cs.wg.Add(1)
	cs.mu.Lock()
	cs.conns[c] = struct{}{}
	cs.mu.Unlock()
}

func (cs *connSet) remove(c net.Conn) {
	cs.mu.Lock()
	delete(cs.conns, c)
	cs.mu.Unlock()
	cs.wg.Done()
}

func (cs *connSet) closeAll() int {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for c := range cs.conns {
		_ = c.Close()
	}
	return len(cs.conns)
}

// logRefused logs a client outside Allow, at most as often as refusedLog
// lets it: the first time, then once a minute per address with a count.
func (s *Server) logRefused(a net.Addr, now time.Time) {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return
	}
	if ok, n := s.refused.refuse(ap.Addr().Unmap(), now); ok {
		s.log.Warn("poll refused: client not in --poll.allow", "client", ap.Addr().Unmap().String(), "allow", AllowList(s.opts.Allow), "refused", n)
	}
}

// AllowList renders the allowed networks for a log line: "10.0.0.0/8
// 192.0.2.0/24", or "everyone" when empty.
func AllowList(allow []netip.Prefix) string {
	if len(allow) == 0 {
		return "everyone"
	}
	out := make([]string, len(allow))
	for i, p := range allow {
		out[i] = p.String()
	}
	return strings.Join(out, " ")
}

// allowed reports whether the client at a may poll.
func (s *Server) allowed(a net.Addr) bool {
	if len(s.opts.Allow) == 0 {
		return true
	}
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return false
	}
	// A dual-stack listener shows IPv4 clients as ::ffff:a.b.c.d.
	ip = ip.Unmap()
	for _, p := range s.opts.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// normalizePrefixes masks every prefix and turns IPv4-mapped IPv6 prefixes
// into IPv4 ones, to match the unmapped client addresses allowed compares.
func normalizePrefixes(in []netip.Prefix) []netip.Prefix {
	if len(in) == 0 {
		return nil
	}
	out := make([]netip.Prefix, 0, len(in))
	for _, p := range in {
		if !p.IsValid() {
			continue
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out
}
