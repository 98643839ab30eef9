package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"

	"github.com/alecthomas/kingpin/v2"

	"github.com/haproxy-agent/agent/internal/ruletest"
)

func registerTest(app *kingpin.Application, stdout, stderr io.Writer) (string, command) {
	c := app.Command("test", "Run rule unit tests: feed made-up series to a rule file on a simulated clock and compare the replies. Exit 0 when all pass, 1 otherwise.")
	run := c.Flag("run", "Run only the tests whose name matches this regular expression.").PlaceHolder("REGEX").String()
	files := c.Arg("file", "Test files.").Required().ExistingFiles()
	return c.FullCommand(), func(context.Context, *slog.Logger) int {
		var filter *regexp.Regexp
		if *run != "" {
			re, err := regexp.Compile(*run)
			if err != nil {
				fmt.Fprintf(stderr, "agent: --run: %v; see 'agent test --help'\n", err)
				return exitUsage
			}
			filter = re
		}
		code := exitOK
		for _, f := range *files {
			if !testFile(stdout, f, filter) {
				code = exitFailure
			}
		}
		return code
	}
}

// testFile loads and runs one test file and prints the promtool-style
// verdict; it reports whether every selected test passed.
func testFile(w io.Writer, path string, filter *regexp.Regexp) bool {
	fmt.Fprintf(w, "Unit Testing: %s\n", path)
	s, err := ruletest.LoadFile(path)
	if err != nil {
		fmt.Fprintln(w, "  FAILED:")
		if otherKind(err, "rules") {
			fmt.Fprintf(w, "%s%s is a rule file (it has rules): check it with 'agent check %s'; a test file names it in rule_files\n", failedIndent, path, path)
		} else {
			printLoadErrors(w, failedIndent, err)
		}
		fmt.Fprintln(w)
		return false
	}
	failures, ran := s.Run(filter)
	if len(failures) > 0 {
		fmt.Fprintln(w, "  FAILED:")
		for _, f := range failures {
			for _, line := range strings.SplitAfter(strings.TrimSuffix(f.String(), "\n"), "\n") {
				fmt.Fprint(w, failedIndent, line)
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
		return false
	}
	if ran == 0 {
		fmt.Fprintln(w, "  SUCCESS (no test matched --run)")
	} else {
		fmt.Fprintln(w, "  SUCCESS")
	}
	fmt.Fprintln(w)
	return true
}
