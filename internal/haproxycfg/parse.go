// Package haproxycfg reads the parts of an HAProxy configuration file that
// decide how HAProxy polls an agent: per backend (and listen section) its
// balance algorithm, `timeout check`, and each server's agent settings,
// with `defaults` sections (named ones too) inherited as HAProxy does.
// It is not a validator: run `haproxy -c` for that.
package haproxycfg

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is what a configuration says about agent checks.
type Config struct {
	// Path is the file's name, as used in messages.
	Path string
	// Backends are the backend and listen sections in file order.
	Backends []*Backend
}

// Backend is a backend or listen section, with what it inherits from its
// defaults section already applied.
type Backend struct {
	Name string
	// Line is the section's first line.
	Line int
	// Balance is the algorithm as set ("" when none is: see Algorithm),
	// and BalanceLine where it was set (0: not set).
	Balance     string
	BalanceLine int
	// TimeoutCheck is `timeout check`; 0 when none is set.
	TimeoutCheck time.Duration
	Servers      []*Server
}

// Server is one server line, or a server-template line (Template set, Name
// its prefix), with the section's default-server settings applied.
type Server struct {
	Name     string
	Line     int
	Template bool
	// Count is how many servers a template makes (1 for a server line).
	Count int
	// AgentCheck is whether HAProxy polls an agent for this server.
	AgentCheck bool
	// AgentPort is agent-port, 0 when not set.
	AgentPort int
	// AgentAddr is agent-addr, "" when not set (the server's address).
	AgentAddr string
	// AgentSend is agent-send with its escapes read ("web1\n"); HasSend
	// says whether it was set.
	AgentSend string
	HasSend   bool
	// AgentInter is agent-inter (HAProxy's default: 2s).
	AgentInter time.Duration
	// Weight is the server's weight (HAProxy's default: 1).
	Weight int
}

// Service is the name a server's agent-send asks for: its text without
// the line end.
func (s *Server) Service() string {
	return strings.TrimRight(s.AgentSend, "\r\n")
}

// HAProxy's defaults for server settings the agent cares about.
const (
	DefaultAgentInter = 2 * time.Second
	DefaultWeight     = 1
)

// ParseFile reads and parses the configuration at path.
func ParseFile(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read haproxy configuration: %w", err)
	}
	return Parse(b, path)
}

// section is one section while parsing: its own settings, before a
// backend takes its defaults section's.
type section struct {
	kind, name   string
	line         int
	balance      string
	balanceLine  int
	timeoutCheck time.Duration
	defServer    Server // default-server settings, merged in order
	servers      []*Server
}

// sectionWords start a section.
var sectionWords = map[string]bool{
	"global": true, "defaults": true, "frontend": true, "backend": true, "listen": true,
	"peers": true, "resolvers": true, "userlist": true, "cache": true, "program": true,
	"http-errors": true, "ring": true, "mailers": true, "log-forward": true,
	"crt-store": true, "traces": true, "acme": true,
}

// Parse parses a configuration; name is used in messages.
func Parse(b []byte, name string) (*Config, error) {
	cfg := &Config{Path: name}
	var (
		cur          *section
		defaults     = map[string]*section{}
		lastDefaults *section
	)
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		words, err := splitLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		if len(words) == 0 {
			continue
		}
		if sectionWords[words[0]] {
			cur = &section{kind: words[0], line: n, defServer: Server{AgentInter: DefaultAgentInter, Weight: DefaultWeight}}
			if len(words) > 1 {
				cur.name = words[1]
			}
			if cur.kind != "backend" && cur.kind != "listen" && cur.kind != "defaults" {
				continue
			}
			// A section takes over the settings of the defaults section
			// it names ("from NAME"); a backend or listen section without
			// one takes the last defaults section before it, and a
			// defaults section without one starts afresh.
			def := lastDefaults
			if cur.kind == "defaults" {
				def = nil
			}
			if len(words) > 3 && words[2] == "from" {
				if def = defaults[words[3]]; def == nil {
					return nil, fmt.Errorf("%s:%d: %s %q: no defaults section %q before it", name, n, cur.kind, cur.name, words[3])
				}
			}
			if def != nil {
				cur.balance, cur.balanceLine, cur.timeoutCheck, cur.defServer = def.balance, def.balanceLine, def.timeoutCheck, def.defServer
			}
			if cur.kind == "defaults" {
				lastDefaults = cur
				if cur.name != "" {
					defaults[cur.name] = cur
				}
			} else {
				cfg.Backends = append(cfg.Backends, &Backend{Name: cur.name, Line: n})
			}
			continue
		}
		if cur == nil || cur.kind != "backend" && cur.kind != "listen" && cur.kind != "defaults" {
			continue
		}
		if err := cur.keyword(words, n); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		if cur.kind != "defaults" {
			cur.fill(cfg.Backends[len(cfg.Backends)-1])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return cfg, nil
}

// fill copies what a backend section has read so far into b.
func (s *section) fill(b *Backend) {
	b.Balance, b.BalanceLine, b.TimeoutCheck, b.Servers = s.balance, s.balanceLine, s.timeoutCheck, s.servers
}

// Algorithm is the backend's balance algorithm: roundrobin when none is set.
func (b *Backend) Algorithm() string {
	if b.Balance == "" {
		return "roundrobin"
	}
	return b.Balance
}

// keyword reads one line of a backend, listen or defaults section.
func (s *section) keyword(w []string, line int) error {
	switch w[0] {
	case "balance":
		if len(w) > 1 {
			s.balance, s.balanceLine = w[1], line
		}
	case "timeout":
		if len(w) > 2 && w[1] == "check" {
			d, err := ParseTime(w[2])
			if err != nil {
				return fmt.Errorf("timeout check: %w", err)
			}
			s.timeoutCheck = d
		}
	case "default-server":
		return s.defServer.settings(w[1:])
	case "server", "server-template":
		srv := s.defServer
		srv.Line, srv.Count = line, 1
		if len(w) < 3 {
			return fmt.Errorf("%s needs a name and an address", w[0])
		}
		srv.Name = w[1]
		args := w[3:]
		if w[0] == "server-template" {
			if len(w) < 4 {
				return fmt.Errorf("server-template needs a prefix, a count and an address")
			}
			srv.Template = true
			lo, hi, ok := strings.Cut(w[2], "-")
			n, err := strconv.Atoi(lo)
			if ok {
				var m int
				m, err = strconv.Atoi(hi)
				n = m - n + 1
			}
			if err != nil || n < 1 {
				return fmt.Errorf("server-template count %q: want N or N-M", w[2])
			}
			srv.Count = n
			args = w[4:]
		}
		if err := srv.settings(args); err != nil {
			return err
		}
		s.servers = append(s.servers, &srv)
	}
	return nil
}

// settings reads a server's (or default-server's) keywords over s.
func (s *Server) settings(args []string) error {
	for i := 0; i < len(args); i++ {
		val := func() (string, error) {
			if i+1 >= len(args) {
				return "", fmt.Errorf("%s needs a value", args[i])
			}
			i++
			return args[i], nil
		}
		var err error
		switch k := args[i]; k {
		case "agent-check":
			s.AgentCheck = true
		case "no-agent-check":
			s.AgentCheck = false
		case "agent-port", "weight":
			var v string
			if v, err = val(); err == nil {
				var n int
				if n, err = strconv.Atoi(v); err == nil {
					if k == "weight" {
						s.Weight = n
					} else {
						s.AgentPort = n
					}
				}
			}
		case "agent-addr":
			s.AgentAddr, err = val()
		case "agent-send":
			s.AgentSend, err = val()
			s.HasSend = true
		case "agent-inter":
			var v string
			if v, err = val(); err == nil {
				s.AgentInter, err = ParseTime(v)
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %w", args[i], err)
		}
	}
	return nil
}

// ParseTime reads an HAProxy time: a number with an optional unit (us,
// ms, s, m, h, d); milliseconds without one.
func ParseTime(v string) (time.Duration, error) {
	i := len(v) - len(strings.TrimLeft(v, "0123456789"))
	n, err := strconv.ParseInt(v[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("time %q: want a number with an optional unit (us, ms, s, m, h, d)", v)
	}
	unit := map[string]time.Duration{"": time.Millisecond, "us": time.Microsecond, "ms": time.Millisecond,
		"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
	u, ok := unit[v[i:]]
	if !ok {
		return 0, fmt.Errorf("time %q: unknown unit %q", v, v[i:])
	}
	return time.Duration(n) * u, nil
}

// splitLine splits a configuration line into words as HAProxy does:
// spaces separate words, '#' starts a comment, double quotes keep spaces
// and read backslash escapes (\n, \r, \t, \\, \", \#), single quotes keep
// everything as is, and a backslash outside quotes escapes the next
// character.
func splitLine(line string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
		quote byte
	)
	flush := func() {
		if in {
			words = append(words, cur.String())
			cur.Reset()
			in = false
		}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '\\' && i+1 < len(line):
			i++
			in = true
			switch e := line[i]; e {
			case 'n':
				cur.WriteByte('\n')
			case 'r':
				cur.WriteByte('\r')
			case 't':
				cur.WriteByte('\t')
			default:
				cur.WriteByte(e)
			}
		case quote == '"':
			if c == '"' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote, in = c, true
		case c == '#':
			flush()
			return words, nil
		case c == ' ' || c == '\t':
			flush()
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	flush()
	return words, nil
}
