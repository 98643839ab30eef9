package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/alecthomas/kingpin/v2"

	"github.com/haproxy-agent/agent/rules"
)

func registerCheck(app *kingpin.Application, stdout, _ io.Writer) (string, command) {
	c := app.Command("check", "Check rule files: syntax, metric names, every expression compiled. Exit 0 when all are valid, 1 otherwise. "+
		"With --haproxy.config, also read HAProxy's server lines and warn where HAProxy would ignore or misread the agent's replies.")
	var lo lintOptions
	c.Flag("haproxy.config", "HAProxy configuration to check the rule files against (backend, listen and defaults sections: server, server-template, default-server, balance, timeout check).").
		PlaceHolder("FILE").StringVar(&lo.config)
	listenFlag(c).StringVar(&lo.listen)
	c.Flag("strict", "With --haproxy.config: warnings fail the check (exit 1).").BoolVar(&lo.strict)
	c.Flag("haproxy.version", "With --haproxy.config: the HAProxy version that runs it (e.g. 2.6), for what depends on it (absolute weights need 3.1). The configuration cannot tell.").
		PlaceHolder("X.Y").StringVar(&lo.version)
	c.Flag("haproxy.runtime-api", "With --haproxy.config: read the version from this HAProxy's Runtime API (show info): unix:/path, tcp:HOST:PORT or a socket path. Repeatable; the oldest counts.").
		PlaceHolder("ADDRESS").StringsVar(&lo.runtimeAPI)
	// Not ExistingFiles: a missing file is a failed check like any other,
	// reported after the files that exist are checked.
	files := c.Arg("file", "Rule files to check.").Required().Strings()
	return c.FullCommand(), func(ctx context.Context, _ *slog.Logger) int {
		l, err := lo.load(ctx)
		if err != nil {
			fmt.Fprintf(stdout, "Checking %s\n  FAILED:\n%s%v\n\n", lo.config, failedIndent, err)
			return exitFailure
		}
		code := exitOK
		for _, f := range *files {
			if !checkFile(stdout, f, l) {
				code = exitFailure
			}
		}
		return code
	}
}

// failedIndent indents the errors under "  FAILED:", as promtool does.
const failedIndent = "    "

// checkFile prints the promtool-style verdict for one file, then the
// lint's warnings against HAProxy's configuration when l is set.
func checkFile(w io.Writer, path string, l *lint) bool {
	fmt.Fprintf(w, "Checking %s\n", path)
	f, err := rules.ParseFile(path)
	if err != nil {
		fmt.Fprintln(w, "  FAILED:")
		if otherKind(err, "rule_files") {
			fmt.Fprintf(w, "%s%s is a test file (it has rule_files): run it with 'agent test %s'\n", failedIndent, path, path)
		} else {
			printLoadErrors(w, failedIndent, err)
		}
		fmt.Fprintln(w)
		return false
	}
	fmt.Fprintf(w, "  SUCCESS: %d rules found\n", f.RuleCount())
	printPrograms(w, f)
	ok := l.check(w, f)
	fmt.Fprintln(w)
	return ok
}

// printPrograms says which programs the file's exec sources run, where,
// and whether each is there: the rule file is trusted configuration, and
// these run with the agent's rights.
func printPrograms(w io.Writer, f *rules.File) {
	for _, s := range f.Sources {
		c, ok := s.Config.(*rules.ExecConfig)
		if !ok {
			continue
		}
		args := make([]string, len(c.Argv))
		for i, a := range c.Argv {
			args[i] = a
			if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`*?[]{}()<>|&;#~") {
				args[i] = strconv.Quote(a)
			}
		}
		note := ""
		if err := findProgram(c.Argv[0], c.Dir); err != nil {
			note = " (" + err.Error() + ")"
		}
		fmt.Fprintf(w, "  source %q runs: %s (in %s)%s\n", s.Name, strings.Join(args, " "), c.Dir, note)
	}
}

// findProgram says why prog, run from dir, cannot be started, or nil: a
// name without a slash is looked up in PATH, any other is taken from dir.
func findProgram(prog, dir string) error {
	if !strings.Contains(prog, "/") {
		if _, err := exec.LookPath(prog); err != nil {
			return errors.New("not found in PATH")
		}
		return nil
	}
	if !filepath.IsAbs(prog) {
		prog = filepath.Join(dir, prog)
	}
	fi, err := os.Stat(prog)
	switch {
	case err != nil:
		return errors.New("not found")
	case fi.IsDir() || fi.Mode()&0o111 == 0:
		return errors.New("not executable")
	}
	return nil
}

// printLoadErrors prints a load error one FILE:LINE:COL: message a line,
// each line indented by indent.
func printLoadErrors(w io.Writer, indent string, err error) {
	var errs rules.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(w, indent+e.Error())
		}
		return
	}
	fmt.Fprintln(w, indent+err.Error())
}
