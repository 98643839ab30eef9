package rules

import (
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/haproxy-agent/agent/internal/yamlnode"
)

// KindExec names the exec kind of source: a command run once per cycle,
// without a shell, whose standard output is the Prometheus text format or
// one number.
const KindExec SourceKind = "exec"

// ExecOutputLimit bounds what is read of a command's output: past it, the
// process group is killed and the read fails.
const ExecOutputLimit = 1 << 20

// The series every command yields besides its output's.
const (
	ExecExitCode = "exit_code"
	ExecDuration = "duration_seconds"
	// ExecValue is the series of an output that is one number.
	ExecValue = "value"
)

// ExecConfig is what an exec source runs.
type ExecConfig struct {
	// Argv is the program and its arguments (exec: [PROGRAM, ARG...]);
	// no shell reads them.
	Argv []string
	// Env holds NAME=VALUE pairs added to the agent's environment (env).
	Env []string
	// Dir is the working directory, absolute: the rule file's directory,
	// or dir taken from it. A relative program is taken from it.
	Dir string
}

var execKind = &srcKind{
	name:      KindExec,
	key:       "exec",
	target:    "[PROGRAM, ARG...] (a command)",
	options:   []string{"env", "dir"},
	newConfig: func(*Source) any { return &ExecConfig{} },
	check: func(p *parser, s *Source, d sourceDoc) {
		c := s.Config.(*ExecConfig)
		c.Argv = p.execArgv(d.target, d.ctx)
		p.execOptions(c, d)
	},
	metric: seriesMetric(KindExec),
}

var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// execArgv reads exec: [PROGRAM, ARG...], or reports why it cannot.
func (p *parser) execArgv(e pair, ctx string) []string {
	if e.val.Kind == yaml.ScalarNode && !yamlnode.IsNull(e.val) {
		p.errorf(e.val, ctx, "exec: want a list [PROGRAM, ARG...], not %q: no shell splits or expands it, so each argument is an item", e.val.Value)
		return nil
	}
	items, ok := yamlnode.List(yamlnode.Pair{Key: e.key, Val: e.val}, p.report(ctx))
	if !ok {
		return nil
	}
	if len(items) == 0 {
		p.errorf(e.key, ctx, "exec: the list is empty: want [PROGRAM, ARG...]")
		return nil
	}
	argv := make([]string, 0, len(items))
	for i, n := range items {
		switch {
		case n.Kind != yaml.ScalarNode || yamlnode.IsNull(n):
			p.errorf(n, ctx, "exec: want a string, got %s", yamlnode.KindName(n))
			return nil
		case i == 0 && strings.TrimSpace(n.Value) == "":
			p.errorf(n, ctx, "exec: the program is empty")
			return nil
		case strings.ContainsRune(n.Value, 0):
			p.errorf(n, ctx, "exec: an argument holds a NUL byte")
			return nil
		}
		argv = append(argv, n.Value)
	}
	return argv
}

// execOptions reads env and dir. The working directory is the rule
// file's unless dir says otherwise (relative to the rule file's).
func (p *parser) execOptions(c *ExecConfig, d sourceDoc) {
	ctx := d.ctx
	dir := p.dir()
	if e := d.option("dir"); e.given() {
		if v, ok := p.scalar(e, ctx); ok {
			switch {
			case strings.TrimSpace(v) == "":
				p.errorf(e.val, ctx, "dir is empty")
			case filepath.IsAbs(v):
				dir = v
			default:
				dir = filepath.Join(dir, v)
			}
		}
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	c.Dir = dir
	if e := d.option("env"); e.given() && p.mappingOf(e, ctx, false) {
		for _, kv := range p.entries(e.val, ctx, "variable") {
			v, ok := p.scalar(kv, ctx)
			switch {
			case !ok:
			case !envNameRe.MatchString(kv.key.Value):
				p.errorf(kv.key, ctx, "env: bad variable name %q: want letters, digits and _, not starting with a digit", kv.key.Value)
			case strings.ContainsRune(v, 0):
				p.errorf(kv.val, ctx, "env: %s: the value holds a NUL byte", kv.key.Value)
			default:
				c.Env = append(c.Env, kv.key.Value+"="+v)
			}
		}
	}
}
