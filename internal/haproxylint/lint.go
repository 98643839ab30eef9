// Package haproxylint compares an HAProxy configuration with a rule file
// and warns, at the configuration's (or the rule file's) line, about what
// would make HAProxy ignore or misread the agent's replies.
package haproxylint

import (
	"fmt"
	"slices"
	"strings"

	"github.com/haproxy-agent/agent/internal/haproxycfg"
	"github.com/haproxy-agent/agent/rules"
)

// Warning is one finding, at File:Line (Line 0: the whole file).
type Warning struct {
	File string
	Line int
	Msg  string
}

func (w Warning) String() string {
	if w.Line == 0 {
		return w.File + ": " + w.Msg
	}
	return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Msg)
}

// Options say what the configuration itself cannot.
type Options struct {
	// Port is the agent's port (serve's --listen): servers polling it are
	// the agent's.
	Port int
	// Version is the HAProxy version the rules will meet, major and minor
	// (e.g. 2, 6); zero when unknown. Only absolute weights depend on it.
	Major, Minor int
}

// Lint returns the warnings for the rule file f served on opts.Port to the
// HAProxy configuration cfg, in configuration order, then those about the
// rule file.
func Lint(cfg *haproxycfg.Config, f *rules.File, opts Options) []Warning {
	l := &linter{cfg: cfg, f: f, opts: opts, sent: map[string]bool{}}
	percents, absolute := weightKinds(f)
	polled := 0
	for _, b := range cfg.Backends {
		var mine []*haproxycfg.Server
		for _, s := range b.Servers {
			if s.AgentCheck && s.AgentPort == opts.Port {
				mine = append(mine, s)
			}
		}
		if len(mine) == 0 {
			continue
		}
		polled += len(mine)
		if b.TimeoutCheck == 0 {
			l.cfgWarn(b.Line, "backend %q has no `timeout check`: HAProxy then waits up to agent-inter for a reply; set one, such as timeout check 1s", b.Name)
		}
		if percents && (b.Algorithm() == "static-rr" || b.Algorithm() == "first") {
			line := b.BalanceLine
			if line == 0 {
				line = b.Line
			}
			l.cfgWarn(line, "backend %q: balance %s applies only weights 0%% and 100%%; the rules' other percentages do nothing here", b.Name, b.Algorithm())
		}
		for _, s := range mine {
			l.server(b, s, percents)
		}
	}
	push := f.Fleet != nil && f.Fleet.PushBackend != ""
	if push {
		l.backendExists("fleet.push.backend", f.Fleet.PushBackend)
	}
	if f.Fleet != nil && f.Fleet.HAProxyBackend != "" {
		l.backendExists("fleet.servers.haproxy", f.Fleet.HAProxyBackend)
	}
	if polled == 0 && !push {
		l.cfgWarn(0, "no server polls the agent's port %d: no server or server-template line has agent-check with agent-port %d", opts.Port, opts.Port)
	} else {
		l.unsent()
	}
	if len(absolute) > 0 && opts.Major != 0 && (opts.Major < 3 || opts.Major == 3 && opts.Minor < 1) {
		for _, r := range absolute {
			l.warnings = append(l.warnings, Warning{File: f.Path, Line: r.Pos.Line,
				Msg: fmt.Sprintf("rule %q sends an absolute weight (weight:%d), which HAProxy %d.%d ignores (3.1 and later read it); use a percent", r.Name, r.Action.Weight, opts.Major, opts.Minor)})
		}
	}
	return l.warnings
}

// backendExists warns when the configuration has no backend name, which
// key of the rule file names.
func (l *linter) backendExists(key, name string) {
	for _, b := range l.cfg.Backends {
		if b.Name == name {
			return
		}
	}
	l.warnings = append(l.warnings, Warning{File: l.f.Path, Line: l.f.Fleet.Pos.Line,
		Msg: fmt.Sprintf("%s %q: %s has no such backend or listen section", key, name, l.cfg.Path)})
}

type linter struct {
	cfg      *haproxycfg.Config
	f        *rules.File
	opts     Options
	sent     map[string]bool // agent-send names the agent's servers send
	warnings []Warning
}

func (l *linter) cfgWarn(line int, format string, args ...any) {
	l.warnings = append(l.warnings, Warning{File: l.cfg.Path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// server checks one server line that polls the agent.
func (l *linter) server(b *haproxycfg.Backend, s *haproxycfg.Server, percents bool) {
	what := "server " + b.Name + "/" + s.Name
	if s.Template {
		what = "server-template " + b.Name + "/" + s.Name
	}
	name := s.Service()
	l.sent[name] = true
	switch fl := l.f.Fleet; {
	case fl != nil && !s.HasSend:
		l.cfgWarn(s.Line, "%s sends no agent-send: in fleet mode each server names itself, such as agent-send \"%s\\n\"", what, s.Name)
	case fl != nil && fl.PushBackend == b.Name:
		// Push mode: HAProxy's polls are not how this backend is told.
	case fl != nil && s.Template && s.Count > 1:
		l.cfgWarn(s.Line, "%s: its %d servers all send agent-send %q, so the fleet agent cannot tell them apart; use push mode (fleet.push)", what, s.Count, name)
	case fl != nil && fl.Static != nil && !slices.Contains(fl.Static, name):
		l.cfgWarn(s.Line, "%s sends agent-send %q, which is no server of %s's fleet (%s)", what, name, l.f.Path, strings.Join(fl.Static, ", "))
	case fl == nil && name != "" && l.f.Service(name) == nil:
		l.cfgWarn(s.Line, "%s sends agent-send %q, which is no service of %s (%s)", what, name, l.f.Path, serviceNames(l.f))
	}
	if percents && s.Weight < 100 {
		l.cfgWarn(s.Line, "%s has weight %d while the rules send percentages: HAProxy truncates, so 50%% of weight 1 is 0; set weight 100 (or use absolute weights, HAProxy 3.1+)", what, s.Weight)
	}
	iv := l.f.Interval
	switch {
	case s.AgentInter < iv/4:
		l.cfgWarn(s.Line, "%s polls every %v (agent-inter), under a quarter of the rules' interval %v: most polls repeat the same reply", what, s.AgentInter, iv)
	case s.AgentInter > 10*iv:
		l.cfgWarn(s.Line, "%s polls every %v (agent-inter), over 10 × the rules' interval %v: HAProxy learns a decision up to %v late", what, s.AgentInter, iv, s.AgentInter)
	}
}

// unsent warns about the file's services (or static fleet servers) that no
// server of the configuration asks for.
func (l *linter) unsent() {
	if fl := l.f.Fleet; fl != nil {
		for _, name := range fl.Static {
			if !l.sent[name] {
				l.warnings = append(l.warnings, Warning{File: l.f.Path, Line: fl.Pos.Line,
					Msg: fmt.Sprintf("fleet server %q: no server of %s sends agent-send %q", name, l.cfg.Path, name)})
			}
		}
		return
	}
	for _, svc := range l.f.Services[1:] {
		if !l.sent[svc.Name] {
			l.warnings = append(l.warnings, Warning{File: l.f.Path, Line: svc.Pos.Line,
				Msg: fmt.Sprintf("service %q: no server of %s sends agent-send \"%s\\n\"", svc.Name, l.cfg.Path, svc.Name)})
		}
	}
}

// weightKinds reports whether f sends percentages other than 100% (a rule's
// weight N%, a computed weight, or a reply.default weight), and lists the
// rules that send absolute weights.
func weightKinds(f *rules.File) (percents bool, absolute []*rules.Rule) {
	percents = f.Reply.Default.Weight != 100
	for _, svc := range f.Services {
		for _, r := range svc.Rules {
			switch {
			case r.Action.Absolute:
				absolute = append(absolute, r)
			case r.Weight != nil || r.Action.Weight != rules.Unset && r.Action.Weight != 100:
				percents = true
			}
		}
	}
	return percents, absolute
}

// AbsoluteRules lists the rules of f that send an absolute weight
// (weight:N), which only HAProxy 3.1 and later read.
func AbsoluteRules(f *rules.File) []*rules.Rule {
	_, abs := weightKinds(f)
	return abs
}

func serviceNames(f *rules.File) string {
	var names []string
	for _, s := range f.Services[1:] {
		names = append(names, s.Name)
	}
	if len(names) == 0 {
		return "it has no services: only the default"
	}
	return "services: " + strings.Join(names, ", ")
}
