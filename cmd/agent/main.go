// Command agent answers HAProxy's agent-check polls with a reply computed by
// SRE-written rules over metrics read from Prometheus, scraped /metrics pages
// or the host itself.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
)

// Exit codes of every command: 0 success, 1 failure, 2 usage.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
	// exitInterrupted is a command that SIGINT or SIGTERM stopped before
	// it finished, the code a shell gives a process SIGINT ends (128+2).
	exitInterrupted = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand: it returns the process exit code.
type command func(ctx context.Context, logger *slog.Logger) int

// terminated carries kingpin's exit code (after --help or --version) out
// of Parse.
type terminated int

// run parses args and runs the chosen command.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	app := kingpin.New("agent", "A rule-driven HAProxy agent: HAProxy polls it (agent-check) and it answers with the state its rules compute from live metrics.")
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)
	setVersion()
	app.Version(version.Print("agent"))
	app.HelpFlag.Short('h')
	app.Terminate(func(c int) { panic(terminated(c)) })
	logConfig := &promslog.Config{Writer: stderr}
	promslogflag.AddFlags(app, logConfig)

	commands := map[string]command{}
	for _, register := range []func(*kingpin.Application, io.Writer, io.Writer) (string, command){
		registerServe, registerEval, registerCheck, registerTest, registerOverride, registerBacktest, registerHashPassword, registerVersion,
	} {
		name, cmd := register(app, stdout, stderr)
		commands[name] = cmd
	}

	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(terminated)
			if !ok {
				panic(r)
			}
			code = int(c)
		}
	}()
	if noCommand(app, args) {
		// Without a command there is nothing to do: that is a usage
		// error, and the usage goes where errors go.
		app.UsageWriter(stderr)
		app.Usage(args)
		fmt.Fprintln(stderr, "agent: no command given; see 'agent --help'")
		return exitUsage
	}
	chosen, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "agent: %v; see '%s'\n", err, helpFor(app, args))
		return exitUsage
	}
	return commands[chosen](ctx, promslog.New(logConfig))
}

// helpFor names the help that answers a usage error in args: the chosen
// command's (`agent backtest --help` lists backtest's flags), else the
// list of commands.
func helpFor(app *kingpin.Application, args []string) string {
	pc, _ := app.ParseContext(args)
	if pc != nil && pc.SelectedCommand != nil {
		return "agent " + pc.SelectedCommand.FullCommand() + " --help"
	}
	return "agent --help"
}

// noCommand reports whether args name no command and ask for no help or
// version, which kingpin would answer with the usage and exit 0.
func noCommand(app *kingpin.Application, args []string) bool {
	pc, err := app.ParseContext(args)
	if err != nil || pc.SelectedCommand != nil {
		return false
	}
	for _, e := range pc.Elements {
		if f, ok := e.Clause.(*kingpin.FlagClause); ok {
			if name := f.Model().Name; strings.HasPrefix(name, "help") || name == "version" || strings.HasPrefix(name, "completion") {
				return false
			}
		}
	}
	return true
}

func registerVersion(app *kingpin.Application, stdout, _ io.Writer) (string, command) {
	c := app.Command("version", "Print the version and build information.")
	return c.FullCommand(), func(context.Context, *slog.Logger) int {
		fmt.Fprintln(stdout, version.Print("agent"))
		return exitOK
	}
}
