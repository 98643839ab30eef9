package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/haproxy-agent/agent/internal/pollbench"
)

// Exit codes, as in the rest of the project.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

const help = `Simulate many HAProxy agent-check pollers.

Each poll does what HAProxy does every agent-inter: connect, write the
--send string if any (HAProxy's agent-send), read one line, close.

Targets run one after the other with the same settings: --baseline first,
then each --target in order, then --socat.
  --target [NAME=]HOST:PORT  an agent you started (e.g. agent serve); add
                             --target-pid PID to report its CPU per poll
                             and RSS under load, as for the started targets
  --baseline                 the least code that answers a constant line:
                             accept, write, close (a pollbench child
                             process); with --send it reads the line first
  --socat                    socat fork-per-poll + shell script, the way many
                             agents run today

Modes:
  closed loop (--concurrency N, the default with N=64): N workers poll back
    to back. Read its throughput (ok/s). Its latency is mostly queueing
    behind the other workers and says little.
  open loop (--rate R): polls start at fixed intervals (1/R), whether or not
    earlier polls finished; latency counts from each poll's scheduled start,
    so stalls are not hidden (no coordinated omission). Read its p99.

Reading ratios: on a small shared machine absolute figures are noise, so
every other target is divided by the baseline of the same run:
  throughput = target ok/s / baseline ok/s   (higher is better; the agent's
               goal is >= 0.95, closed loop)
  p99        = target p99 / baseline p99     (lower is better; the agent's
               goal is <= 1.1, open loop)
Latency counts successful polls only; failed polls are listed by kind
(refused, timeout, reset, incomplete, wrong_reply, other).

Exit status: 0 every poll succeeded, 1 a target failed to start or some
polls failed, 2 bad usage.`

type options struct {
	targets     []string
	targetPIDs  []int
	baseline    bool
	socat       bool
	line        string
	concurrency int
	rate        float64
	workers     int
	duration    time.Duration
	count       int64
	warmup      time.Duration
	timeout     time.Duration
	send        string
	sendNames   int
	expect      string
	expectLine  string
	output      string
	keepTW      bool
}

// usageError is a bad command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

type terminated int

func run(args []string, stdout, stderr io.Writer) (code int) {
	if line, ok := os.LookupEnv(pollbench.BaselineChildEnv); ok {
		if err := pollbench.ServeBaselineChild(os.Stdin, stdout, line, os.Getenv(pollbench.BaselineReadEnv) == "1"); err != nil {
			fmt.Fprintln(stderr, "pollbench: baseline:", err)
			return exitFailure
		}
		return exitOK
	}
	o, err := parse(args, stdout, stderr)
	if t, ok := err.(terminatedErr); ok {
		return int(t)
	}
	if err != nil {
		fmt.Fprintf(stderr, "pollbench: error: %v, try --help\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return bench(ctx, o, stdout, stderr)
}

type terminatedErr int

func (t terminatedErr) Error() string { return "terminated with " + strconv.Itoa(int(t)) }

// parse reads the command line. Kingpin's own exits (--help, parse errors)
// become a terminatedErr carrying the exit code instead of os.Exit.
func parse(args []string, stdout, stderr io.Writer) (o options, err error) {
	app := kingpin.New("pollbench", help)
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)
	app.Terminate(func(code int) { panic(terminated(code)) })
	defer func() {
		if r := recover(); r != nil {
			t, ok := r.(terminated)
			if !ok {
				panic(r)
			}
			if t != 0 {
				t = exitUsage
			}
			err = terminatedErr(t)
		}
	}()

	app.Flag("target", "Agent to poll, [NAME=]HOST:PORT (repeatable).").PlaceHolder("[NAME=]HOST:PORT").StringsVar(&o.targets)
	app.Flag("target-pid", "Process id of the --target of the same rank (repeatable, in order): report its CPU per poll from /proc/PID/stat and its RSS under load from /proc/PID/status.").PlaceHolder("PID").IntsVar(&o.targetPIDs)
	app.Flag("baseline", "Also measure the baseline responder; ratios are computed against it.").BoolVar(&o.baseline)
	app.Flag("socat", "Also measure socat fork-per-poll with a shell script (socat must be installed).").BoolVar(&o.socat)
	app.Flag("line", "Reply line of --baseline and --socat.").Default(pollbench.DefaultLine).StringVar(&o.line)
	app.Flag("concurrency", "Closed loop: number of workers polling back to back (default 64 unless --rate).").Short('c').IntVar(&o.concurrency)
	app.Flag("rate", "Open loop: polls per second, at fixed intervals.").Short('r').Float64Var(&o.rate)
	app.Flag("workers", "Open loop: most polls in flight (default: rate x timeout x 1.2 + 8).").IntVar(&o.workers)
	app.Flag("duration", "Measured time per target (default 10s unless --count).").Short('d').DurationVar(&o.duration)
	app.Flag("count", "Polls per target; with --duration, whichever ends first.").Short('n').Int64Var(&o.count)
	app.Flag("warmup", "Unreported polling before each measurement.").Default("1s").DurationVar(&o.warmup)
	app.Flag("timeout", "Per poll: connect, write and read together.").Default("1s").DurationVar(&o.timeout)
	app.Flag("send", `Written after connecting, like agent-send; escapes \n \r \t \\ are decoded (e.g. 'worker\n').`).StringVar(&o.send)
	app.Flag("send-names", `With N > 0, --send is a pattern with one %d and the polls send it formatted with 0 to N-1 in turn (e.g. --send 'web%d\n' --send-names 1000: a fleet of 1,000 servers).`).PlaceHolder("N").IntVar(&o.sendNames)
	app.Flag("expect", "Regexp the whole reply line (without its newline) must match, else wrong_reply.").PlaceHolder("REGEX").StringVar(&o.expect)
	app.Flag("expect-line", "Exact reply line expected (without its newline), else wrong_reply.").PlaceHolder("TEXT").StringVar(&o.expectLine)
	app.Flag("output", "Report format: text or json.").Short('o').Default("text").EnumVar(&o.output, "text", "json")
	app.Flag("keep-time-wait", "Close with FIN instead of RST (SO_LINGER 0); leaves TIME_WAIT sockets that can exhaust loopback ports at high rates.").BoolVar(&o.keepTW)

	if _, err := app.Parse(args); err != nil {
		return o, err
	}
	return o, o.check()
}

func (o *options) check() error {
	if len(o.targets) == 0 && !o.baseline && !o.socat {
		return usageError{"nothing to poll: give --target, --baseline or --socat"}
	}
	for _, t := range o.targets {
		if _, _, err := splitTarget(t); err != nil {
			return err
		}
	}
	if len(o.targetPIDs) > len(o.targets) {
		return usageError{"more --target-pid than --target: each --target-pid goes with the --target of the same rank"}
	}
	for _, pid := range o.targetPIDs {
		if pid <= 0 {
			return usageError{fmt.Sprintf("--target-pid %d: want a process id", pid)}
		}
	}
	if o.rate > 0 && o.concurrency > 0 {
		return usageError{"--rate (open loop) and --concurrency (closed loop) exclude each other"}
	}
	if o.rate == 0 && o.concurrency == 0 {
		o.concurrency = 64
	}
	if o.rate < 0 || o.concurrency < 0 || o.workers < 0 || o.count < 0 || o.duration < 0 || o.warmup < 0 || o.timeout <= 0 {
		return usageError{"rates, counts and durations must be positive"}
	}
	if o.duration == 0 && o.count == 0 {
		o.duration = 10 * time.Second
	}
	if o.expect != "" && o.expectLine != "" {
		return usageError{"--expect and --expect-line exclude each other"}
	}
	if o.expect != "" {
		if _, err := pollbench.CompileExpect(o.expect); err != nil {
			return usageError{err.Error()}
		}
	}
	s, err := decodeEscapes(o.send)
	if err != nil {
		return usageError{"--send: " + err.Error()}
	}
	o.send = s
	return nil
}

// splitTarget parses [NAME=]HOST:PORT.
func splitTarget(t string) (name, addr string, err error) {
	name, addr, ok := strings.Cut(t, "=")
	if !ok {
		name, addr = "", t
	}
	host, port, err := splitHostPort(addr)
	if err != nil || host == "" || port == "" {
		return "", "", usageError{fmt.Sprintf("--target %q: want [NAME=]HOST:PORT", t)}
	}
	if name == "" {
		name = addr
	}
	return name, addr, nil
}

func splitHostPort(addr string) (string, string, error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", "", fmt.Errorf("missing port")
	}
	host, port := strings.Trim(addr[:i], "[]"), addr[i+1:]
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", "", err
	}
	return host, port, nil
}

// decodeEscapes turns the backslash escapes HAProxy's agent-send accepts
// (\n, \r, \t, \\) into bytes.
func decodeEscapes(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 == len(s) {
			return "", fmt.Errorf("trailing backslash")
		}
		i++
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case '\\':
			b.WriteByte('\\')
		default:
			return "", fmt.Errorf(`unknown escape \%c`, s[i])
		}
	}
	return b.String(), nil
}
