package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/alecthomas/kingpin/v2"

	"github.com/haproxy-agent/agent/rules"
)

func registerCheck(app *kingpin.Application, stdout, _ io.Writer) (string, command) {
	c := app.Command("check", "Check rule files: syntax, metric names, every expression compiled. Exit 0 when all are valid, 1 otherwise.")
	// Not ExistingFiles: a missing file is a failed check like any other,
	// reported after the files that exist are checked.
	files := c.Arg("file", "Rule files to check.").Required().Strings()
	return c.FullCommand(), func(context.Context, *slog.Logger) int {
		code := exitOK
		for _, f := range *files {
			if !checkFile(stdout, f) {
				code = exitFailure
			}
		}
		return code
	}
}

// failedIndent indents the errors under "  FAILED:", as promtool does.
const failedIndent = "    "

// checkFile prints the promtool-style verdict for one file.
func checkFile(w io.Writer, path string) bool {
	fmt.Fprintf(w, "Checking %s\n", path)
	f, err := rules.ParseFile(path)
	if err != nil {
		fmt.Fprintln(w, "  FAILED:")
		printLoadErrors(w, failedIndent, err)
		hintOtherKind(w, err, "rule_files", fmt.Sprintf("(this is a test file, by its rule_files key: run it with 'agent test %s')", path))
		fmt.Fprintln(w)
		return false
	}
	fmt.Fprintf(w, "  SUCCESS: %d rules found\n\n", f.RuleCount())
	return true
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
