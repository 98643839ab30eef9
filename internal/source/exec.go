package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/haproxy-agent/agent/internal/sample"
	"github.com/haproxy-agent/agent/rules"
)

// maxStderrLine bounds the first line of a command's stderr kept as the
// reason its output is missing.
const maxStderrLine = 256

// pipeGrace is how long the output of a command is still read after its
// process group was killed: a descendant that left the group (setsid)
// may hold the pipes open, and the read must not wait for it.
const pipeGrace = 100 * time.Millisecond

// command reads an exec source: the program is run once per Read, without
// a shell, in a process group of its own, which is killed when the
// program exits, when its output passes the limit, and at the deadline,
// so that nothing it started outlives the read.
type command struct {
	cfg     *rules.ExecConfig
	timeout time.Duration
	limit   int64
	env     []string
	out     bytes.Buffer
	page    *page
	sel     seriesSelector
	now     func() time.Time
}

func newCommand(src *rules.Source) (*command, error) {
	cfg, ok := src.Config.(*rules.ExecConfig)
	switch {
	case !ok:
		return nil, fmt.Errorf("not an exec source: %T", src.Config)
	case len(cfg.Argv) == 0:
		return nil, errors.New("no program to run")
	case src.Timeout <= 0:
		return nil, fmt.Errorf("timeout %s: must be greater than 0", src.Timeout)
	}
	return &command{
		cfg:     cfg,
		timeout: src.Timeout,
		limit:   rules.ExecOutputLimit,
		env:     append(os.Environ(), cfg.Env...),
		page:    newPage(),
		now:     time.Now,
	}, nil
}

// run is the outcome of one run of the program.
type run struct {
	exitCode int
	stderr   string // its first line
	took     time.Duration
}

// Read runs the program once. A program that cannot start, runs out of
// time or prints more than the limit fails the read; one that exits with
// a non-zero code yields exit_code and duration_seconds, and its output's
// series are missing with the first line of its stderr as the reason.
func (c *command) Read(ctx context.Context, metrics []*rules.Metric) ([]sample.Reading, error) {
	ctx, cancel := boundedContext(ctx, c.timeout)
	defer cancel()
	r, err := c.run(ctx)
	if err != nil {
		return nil, err
	}
	t := c.now()
	var (
		fams map[string][]series
		why  error // why the output's series are missing
	)
	switch {
	case r.exitCode != 0 && r.stderr != "":
		why = fmt.Errorf("exit code %d: %s", r.exitCode, r.stderr)
	case r.exitCode != 0:
		why = fmt.Errorf("exit code %d", r.exitCode)
	default:
		fams, why = c.output(metrics)
	}
	if fams == nil {
		fams = c.page.series
		clear(fams)
	}
	// The command's own series win over output series of the same name.
	fams[rules.ExecExitCode] = []series{{lset: labels.FromStrings("__name__", rules.ExecExitCode), v: float64(r.exitCode)}}
	fams[rules.ExecDuration] = []series{{lset: labels.FromStrings("__name__", rules.ExecDuration), v: r.took.Seconds()}}
	absent := func(*rules.Metric) error { return why }
	return c.sel.all(fams, metrics, t, absent), nil
}

// ResultGrace makes a command a sample.Outcome: at the deadline it kills
// the process group and says so, which takes a moment.
func (c *command) ResultGrace() time.Duration { return outcomeGrace }

// output parses the program's standard output: one number (the series
// value), or the Prometheus text format.
func (c *command) output(metrics []*rules.Metric) (map[string][]series, error) {
	text := bytes.TrimSpace(c.out.Bytes())
	if v, err := strconv.ParseFloat(string(text), 64); err == nil && len(text) > 0 && !bytes.ContainsAny(text, " \t\n") {
		fams := c.page.series
		clear(fams)
		fams[rules.ExecValue] = []series{{lset: labels.FromStrings("__name__", rules.ExecValue), v: v}}
		return fams, nil
	}
	fams, err := c.page.parse(c.out.Bytes(), false, metrics)
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	return fams, nil
}

// run starts the program and waits for it, its output read into c.out.
func (c *command) run(ctx context.Context) (run, error) {
	cmd := exec.Command(c.cfg.Argv[0], c.cfg.Argv[1:]...)
	cmd.Dir = c.cfg.Dir
	cmd.Env = c.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return run{}, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return run{}, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return run{}, fmt.Errorf("start: %w", err)
	}
	pgid := cmd.Process.Pid
	killGroup := func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) }

	c.out.Reset()
	outDone := make(chan error, 1)
	go func() {
		n, err := c.out.ReadFrom(io.LimitReader(stdout, c.limit+1))
		if err == nil && n > c.limit {
			killGroup()
			err = errTooMuchOutput
		}
		outDone <- err
	}()
	errLine := make(chan string, 1)
	go func() { errLine <- firstLine(stderr) }()
	exited := make(chan *os.ProcessState, 1)
	go func() {
		st, _ := cmd.Process.Wait()
		exited <- st
	}()

	var (
		st       *os.ProcessState
		timedOut bool
	)
	select {
	case st = <-exited:
	case <-ctx.Done():
		timedOut = true
	}
	// Whatever happened, nothing the program started outlives the read.
	killGroup()
	if st == nil {
		st = <-exited
	}
	took := time.Since(start)
	stderrLine, outErr := c.drain(stdout, stderr, outDone, errLine)
	_ = stdout.Close()
	_ = stderr.Close()
	switch {
	case timedOut:
		return run{}, fmt.Errorf("%w (process group killed)", describe(ctx, c.timeout, context.DeadlineExceeded))
	case errors.Is(outErr, errTooMuchOutput):
		return run{}, fmt.Errorf("output larger than %s (process group killed)", sizeString(c.limit))
	case errors.Is(outErr, os.ErrClosed):
		return run{}, errors.New("output held open by a process that left the process group")
	case outErr != nil:
		return run{}, fmt.Errorf("reading output: %w", outErr)
	}
	return run{exitCode: st.ExitCode(), stderr: stderrLine, took: took}, nil
}

var errTooMuchOutput = errors.New("too much output")

// drain waits for the readers of the program's output, for pipeGrace at
// most: past it, the pipes are closed under them.
func (c *command) drain(stdout, stderr io.Closer, outDone <-chan error, errLine <-chan string) (string, error) {
	grace := time.NewTimer(pipeGrace)
	defer grace.Stop()
	var (
		outErr     error
		line       string
		gotOut     bool
		gotErrLine bool
	)
	for !gotOut || !gotErrLine {
		select {
		case outErr = <-outDone:
			gotOut = true
		case line = <-errLine:
			gotErrLine = true
		case <-grace.C:
			_ = stdout.Close()
			_ = stderr.Close()
		}
	}
	return line, outErr
}

// firstLine returns the first non-blank line of r, printable and at most
// maxStderrLine bytes, and reads the rest of r to its end.
func firstLine(r io.Reader) string {
	var buf [4096]byte
	n, _ := io.ReadFull(r, buf[:])
	_, _ = io.Copy(io.Discard, r)
	for l := range strings.SplitSeq(string(buf[:n]), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return shorten(printable(l), maxStderrLine)
		}
	}
	return ""
}

// printable replaces what is not printable UTF-8 in s, so that a reason
// read from a program stays one clean line in logs and /status.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}
