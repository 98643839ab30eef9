package rules

import (
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/haproxy-agent/agent/internal/yamlnode"
)

// KindExec is a command run once per cycle, without a shell, whose
// standard output is the Prometheus text format or one number.
const KindExec SourceKind = "exec"

// DefaultExecOutputLimit bounds what is read of a command's output: past
// it, the process group is killed and the read fails.
const DefaultExecOutputLimit = 1 << 20

// The series every command yields besides its output's.
const (
	ExecExitCode = "exit_code"
	ExecDuration = "duration_seconds"
	// ExecValue is the series of an output that is one number.
	ExecValue = "value"
)

// ExecCommand is the configuration of an exec source beside what every
// source has (Timeout).
type ExecCommand struct {
	// Argv is the program and its arguments; no shell reads them.
	Argv []string
	// Env holds NAME=VALUE pairs added to the agent's environment.
	Env []string
	// Dir is the working directory, absolute: the rule file's directory
	// unless the file says otherwise. A relative program is taken from it.
	Dir string
}

var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// execArgv reads exec: [PROGRAM, ARG...] into s.Exec.
func (p *parser) execArgv(s *Source, e pair, ctx string) {
	if e.val.Kind == yaml.ScalarNode && !yamlnode.IsNull(e.val) {
		p.errorf(e.val, ctx, "exec: want a list [PROGRAM, ARG...], not %q: no shell splits or expands it, so each argument is an item", e.val.Value)
		return
	}
	items, ok := yamlnode.List(yamlnode.Pair{Key: e.key, Val: e.val}, p.report(ctx))
	if !ok {
		return
	}
	if len(items) == 0 {
		p.errorf(e.key, ctx, "exec: the list is empty: want [PROGRAM, ARG...]")
		return
	}
	argv := make([]string, 0, len(items))
	for i, n := range items {
		switch {
		case n.Kind != yaml.ScalarNode || yamlnode.IsNull(n):
			p.errorf(n, ctx, "exec: want a string, got %s", yamlnode.KindName(n))
			return
		case i == 0 && strings.TrimSpace(n.Value) == "":
			p.errorf(n, ctx, "exec: the program is empty")
			return
		case strings.ContainsRune(n.Value, 0):
			p.errorf(n, ctx, "exec: an argument holds a NUL byte")
			return
		}
		argv = append(argv, n.Value)
	}
	s.Exec = &ExecCommand{Argv: argv}
}

// execOptions reads env and dir into s.Exec. The working directory is the
// rule file's unless dir says otherwise (relative to the rule file's).
func (p *parser) execOptions(s *Source, d sourceDoc) {
	if s.Exec == nil {
		return
	}
	ctx := d.ctx
	dir := p.dir()
	if e, ok := d.opts["dir"]; ok {
		if v, ok := p.scalar(e, ctx); ok {
			if strings.TrimSpace(v) == "" {
				p.errorf(e.val, ctx, "dir is empty")
			} else if filepath.IsAbs(v) {
				dir = v
			} else {
				dir = filepath.Join(dir, v)
			}
		}
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	s.Exec.Dir = dir
	if e, ok := d.opts["env"]; ok && p.mappingOf(e, ctx, false) {
		for _, kv := range p.entries(e.val, ctx, "variable") {
			v, ok := p.scalar(kv, ctx)
			switch {
			case !ok:
			case !envNameRe.MatchString(kv.key.Value):
				p.errorf(kv.key, ctx, "env: bad variable name %q: want letters, digits and _, not starting with a digit", kv.key.Value)
			case strings.ContainsRune(v, 0):
				p.errorf(kv.val, ctx, "env: %s: the value holds a NUL byte", kv.key.Value)
			default:
				s.Exec.Env = append(s.Exec.Env, kv.key.Value+"="+v)
			}
		}
	}
}
