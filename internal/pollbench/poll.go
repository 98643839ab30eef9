package pollbench

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"regexp"
	"time"
)

var errLineTooLong = errors.New("reply line longer than MaxLine")

// poller performs polls for one worker. It is not safe for concurrent use:
// each worker owns one, so the read buffer is reused without locking.
type poller struct {
	addr       string
	send       []byte
	names      [][]byte // Config.SendNames: the lines sent in turn
	next       int
	expect     *regexp.Regexp
	expectLine []byte
	checkExact bool
	rst        bool
	dialer     net.Dialer
	buf        []byte
}

func newPoller(c *Config, worker int) *poller {
	p := &poller{
		addr:   c.Addr,
		expect: c.Expect,
		rst:    !c.KeepTimeWait,
		buf:    make([]byte, 0, 256),
	}
	if c.Send != "" {
		p.send = []byte(c.Send)
	}
	if c.SendNames > 0 {
		p.names = make([][]byte, c.SendNames)
		for i := range p.names {
			p.names[i] = fmt.Appendf(nil, c.Send, i)
		}
		p.next = worker * 7919 % c.SendNames
	}
	if c.Expect == nil && c.ExpectLine != "" {
		p.expectLine = []byte(c.ExpectLine)
		p.checkExact = true
	}
	return p
}

// poll connects, writes the send string, reads one line and closes, all
// before deadline. It returns the outcome and, for failures, the error
// behind it (for WrongReply, one that quotes the reply).
func (p *poller) poll(deadline time.Time) (Kind, error) {
	p.dialer.Deadline = deadline
	c, err := p.dialer.Dial("tcp", p.addr)
	if err != nil {
		return classify(err), err
	}
	conn := c.(*net.TCPConn)
	defer func() {
		if p.rst {
			_ = conn.SetLinger(0)
		}
		_ = conn.Close()
	}()
	if err := conn.SetDeadline(deadline); err != nil {
		return Other, err
	}
	send := p.send
	if p.names != nil {
		send = p.names[p.next]
		p.next = (p.next + 1) % len(p.names)
	}
	if send != nil {
		if _, err := conn.Write(send); err != nil {
			// A target that answered and closed without reading may
			// reset the write; its reply can still be read, as HAProxy
			// would.
			if k := classify(err); k != Reset {
				return k, err
			}
		}
	}
	line, err := p.readLine(conn)
	if err != nil {
		return classify(err), err
	}
	if (p.expect != nil && !p.expect.Match(line)) || (p.checkExact && !bytes.Equal(line, p.expectLine)) {
		return WrongReply, fmt.Errorf("reply %q", line)
	}
	return OK, nil
}

// readLine reads until the first '\r' or '\n' and returns the line without
// it. io.EOF before a terminator means the line was incomplete.
func (p *poller) readLine(conn *net.TCPConn) ([]byte, error) {
	buf := p.buf[:0]
	defer func() { p.buf = buf[:0] }()
	for {
		if len(buf) == cap(buf) {
			if cap(buf) >= MaxLine {
				return nil, errLineTooLong
			}
			nb := make([]byte, len(buf), min(2*cap(buf), MaxLine))
			copy(nb, buf)
			buf = nb
		}
		n, err := conn.Read(buf[len(buf):cap(buf)])
		if n > 0 {
			fresh := buf[len(buf) : len(buf)+n]
			if i := bytes.IndexAny(fresh, "\r\n"); i >= 0 {
				line := buf[:len(buf)+i]
				buf = buf[:len(buf)+n]
				return line, nil
			}
			buf = buf[:len(buf)+n]
		}
		if err != nil {
			return nil, err
		}
	}
}
