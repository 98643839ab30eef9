// Package haproxyapi is a small client of HAProxy's Runtime API (the stats
// or admin socket): one command per connection over a unix or TCP socket,
// deadlines on every read and write, a bounded answer, and the few commands
// the agent uses, with tables read by their header's column names since the
// columns differ across HAProxy versions.
package haproxyapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"
)

// DefaultTimeout bounds one command: dialling, writing it and reading the
// whole answer.
const DefaultTimeout = 5 * time.Second

// DefaultMaxAnswer bounds an answer's size. `show stat` of 10,000 servers
// is about 6 MiB.
const DefaultMaxAnswer = 32 << 20

// ErrAnswerTooLarge is returned when an answer exceeds the client's
// MaxAnswer.
var ErrAnswerTooLarge = errors.New("answer too large")

// Client talks to one HAProxy's Runtime API. Its zero value is not usable:
// build it with New. A Client holds no connection between commands and is
// safe for concurrent use.
type Client struct {
	network, address string
	addr             string
	// Timeout bounds each command (dial, write, read); 0 is DefaultTimeout.
	Timeout time.Duration
	// MaxAnswer bounds an answer's size in bytes; 0 is DefaultMaxAnswer.
	MaxAnswer int64
}

// New returns a client for addr: "unix:/path", "tcp:HOST:PORT", or a bare
// path (a unix socket).
func New(addr string) (*Client, error) {
	network, address, err := ParseAddress(addr)
	if err != nil {
		return nil, err
	}
	return &Client{network: network, address: address, addr: addr}, nil
}

// ParseAddress splits a Runtime API address into a network ("unix" or
// "tcp") and the address net.Dial takes.
func ParseAddress(addr string) (network, address string, err error) {
	switch {
	case addr == "":
		return "", "", errors.New("empty runtime API address: want unix:/path, tcp:HOST:PORT or a socket path")
	case strings.HasPrefix(addr, "unix:"):
		p := strings.TrimPrefix(addr, "unix:")
		if p == "" {
			return "", "", fmt.Errorf("runtime API address %q: empty socket path", addr)
		}
		return "unix", p, nil
	case strings.HasPrefix(addr, "tcp:"):
		hp := strings.TrimPrefix(addr, "tcp:")
		host, port, err := net.SplitHostPort(hp)
		if err != nil || port == "" {
			return "", "", fmt.Errorf("runtime API address %q: want tcp:HOST:PORT", addr)
		}
		return "tcp", net.JoinHostPort(host, port), nil
	case strings.Contains(addr, "://"):
		return "", "", fmt.Errorf("runtime API address %q: want unix:/path, tcp:HOST:PORT or a socket path", addr)
	default:
		return "unix", addr, nil
	}
}

// String returns the address the client was built from.
func (c *Client) String() string { return c.addr }

// Command sends one command and returns HAProxy's whole answer. Without
// "prompt" HAProxy answers one command per connection and closes it, so
// the answer ends at EOF. A refusal HAProxy writes as text ("Unknown
// command", "No such server.") is returned as text: the typed commands
// below turn it into an error.
func (c *Client) Command(ctx context.Context, cmd string) (string, error) {
	b, err := c.command(ctx, cmd)
	return string(b), err
}

func (c *Client) command(ctx context.Context, cmd string) ([]byte, error) {
	if strings.ContainsAny(cmd, "\n\r;") {
		return nil, fmt.Errorf("runtime API command %q: one command, no newline or ';'", cmd)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, c.network, c.address)
	if err != nil {
		return nil, fmt.Errorf("runtime API %s: %w", c.addr, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, fmt.Errorf("runtime API %s: %w", c.addr, err)
	}
	// A cancelled context ends a read in flight at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return nil, fmt.Errorf("runtime API %s: send %q: %w", c.addr, firstWords(cmd), err)
	}
	limit := c.MaxAnswer
	if limit <= 0 {
		limit = DefaultMaxAnswer
	}
	b, err := readAll(conn, limit)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The connection's deadline is the context's: say which ended it.
			cause := ctx.Err()
			if cause == nil {
				cause = context.DeadlineExceeded
			}
			err = fmt.Errorf("%w (timeout %v)", cause, timeout)
		}
		return nil, fmt.Errorf("runtime API %s: read answer to %q: %w", c.addr, firstWords(cmd), err)
	}
	return b, nil
}

// readAll reads r to EOF, failing past limit bytes.
func readAll(r io.Reader, limit int64) ([]byte, error) {
	buf := make([]byte, 0, 64<<10)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > limit {
			return nil, fmt.Errorf("%w: over %d bytes", ErrAnswerTooLarge, limit)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// firstWords names a command in errors: its first two words.
func firstWords(cmd string) string {
	f := strings.Fields(cmd)
	if len(f) > 2 {
		f = f[:2]
	}
	return strings.Join(f, " ")
}
