package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/haproxy-agent/agent/internal/haproxyapi"
	"github.com/haproxy-agent/agent/internal/haproxycfg"
	"github.com/haproxy-agent/agent/internal/haproxylint"
	"github.com/haproxy-agent/agent/rules"
)

// lintOptions are check's flags for comparing rule files with HAProxy's
// configuration.
type lintOptions struct {
	config, listen, version string
	runtimeAPI              []string
	strict                  bool
}

// lint is a loaded HAProxy configuration with what it is checked with.
type lint struct {
	cfg    *haproxycfg.Config
	opts   haproxylint.Options
	strict bool
}

// load reads the configuration and the HAProxy version; nil when there
// is no --haproxy.config.
func (lo *lintOptions) load(ctx context.Context) (*lint, error) {
	if lo.config == "" {
		if lo.strict || lo.version != "" || len(lo.runtimeAPI) > 0 {
			return nil, fmt.Errorf("--strict, --haproxy.version and --haproxy.runtime-api need --haproxy.config")
		}
		return nil, nil
	}
	cfg, err := haproxycfg.ParseFile(lo.config)
	if err != nil {
		return nil, err
	}
	l := &lint{cfg: cfg, strict: lo.strict}
	_, port, err := net.SplitHostPort(lo.listen)
	if l.opts.Port, _ = strconv.Atoi(port); err != nil || l.opts.Port <= 0 {
		return nil, fmt.Errorf("--listen %q: want HOST:PORT or :PORT", lo.listen)
	}
	if lo.version != "" {
		v, err := haproxyapi.ParseVersion(lo.version)
		if err != nil {
			return nil, fmt.Errorf("--haproxy.version: %w", err)
		}
		l.opts.Major, l.opts.Minor = v.Major, v.Minor
	}
	for _, addr := range lo.runtimeAPI {
		c, err := haproxyapi.New(addr)
		if err != nil {
			return nil, fmt.Errorf("--haproxy.runtime-api: %w", err)
		}
		v, err := c.ShowInfo(ctx)
		if err != nil {
			return nil, fmt.Errorf("--haproxy.runtime-api: %w", err)
		}
		if l.opts.Major == 0 || !v.AtLeast(l.opts.Major, l.opts.Minor) {
			l.opts.Major, l.opts.Minor = v.Major, v.Minor
		}
	}
	return l, nil
}

// check prints the warnings for f and reports whether the check passes:
// always, unless --strict and there are warnings.
func (l *lint) check(w io.Writer, f *rules.File) bool {
	if l == nil {
		return true
	}
	warnings := haproxylint.Lint(l.cfg, f, l.opts)
	for _, x := range warnings {
		fmt.Fprintf(w, "  WARNING: %s\n", x)
	}
	if abs := haproxylint.AbsoluteRules(f); len(abs) > 0 && l.opts.Major == 0 {
		fmt.Fprintf(w, "  NOTE: rule %q sends an absolute weight, which only HAProxy 3.1 and later read; the configuration cannot tell the version: pass --haproxy.version or --haproxy.runtime-api to check it\n", abs[0].Name)
	}
	if len(warnings) == 0 {
		fmt.Fprintf(w, "  SUCCESS: no warnings against %s\n", l.cfg.Path)
		return true
	}
	if l.strict {
		fmt.Fprintf(w, "  FAILED: %d warnings against %s (--strict)\n", len(warnings), l.cfg.Path)
		return false
	}
	return true
}
