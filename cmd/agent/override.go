package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/haproxy-agent/agent/internal/override"
)

// overrideTimeout bounds one request to the running agent.
const overrideTimeout = 10 * time.Second

// overrideNow is the clock `override list` measures "expires in" with.
var overrideNow = time.Now

const overrideHelp = `Put, list or remove operator overrides on a running agent: they win over the rules until removed or expired, and survive the agent's restart.

  agent override drain|maint|down|ready [--service S] --reason TEXT [--ttl D]
  agent override weight N% [--service S] --reason TEXT [--ttl D]
  agent override list
  agent override clear [ID]   (no ID: clear all)

ready forces the server back into rotation (up ready) whatever the rules say, unless another override drains, maints or downs it. Overrides combine as rules do: down wins, maint over drain, the lowest weight and maxconn. Actions combine as in rule files ("drain maxconn 10"). Without --ttl an override lasts 1h; --ttl 0 (or forever) keeps it until cleared. The agent must run with --web.enable-lifecycle.`

// overrideFlags are the parsed arguments of `agent override`.
type overrideFlags struct {
	args    []string
	service string
	reason  string
	ttl     string
	url     string
}

func registerOverride(app *kingpin.Application, stdout, stderr io.Writer) (string, command) {
	c := app.Command("override", overrideHelp)
	var f overrideFlags
	c.Arg("what", "drain, maint, down, ready, weight N%; or list; or clear [ID].").Required().StringsVar(&f.args)
	c.Flag("service", "Apply to this service only (default: all services).").PlaceHolder("NAME").StringVar(&f.service)
	c.Flag("reason", "Why: required when adding; HAProxy shows it as \"override: REASON\".").PlaceHolder("TEXT").StringVar(&f.reason)
	c.Flag("ttl", "Remove the override after this long (e.g. 30m, 4h, 1d; default 1h); 0 or forever keeps it until cleared.").StringVar(&f.ttl)
	c.Flag("web.url", "Base URL of the running agent's web server (its --web.listen-address).").Default("http://127.0.0.1:9898").Envar("AGENT_WEB_URL").StringVar(&f.url)
	return c.FullCommand(), func(ctx context.Context, _ *slog.Logger) int {
		return runOverride(ctx, f, stdout, stderr)
	}
}

// runOverride does `agent override` once its arguments are parsed.
func runOverride(ctx context.Context, f overrideFlags, stdout, stderr io.Writer) int {
	usage := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "agent override: "+format+"; see 'agent override --help'\n", args...)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, overrideTimeout)
	defer cancel()
	client := &override.Client{BaseURL: f.url}

	verb := strings.ToLower(f.args[0])
	if verb == "list" || verb == "clear" {
		if f.service != "" || f.reason != "" || f.ttl != "" {
			return usage("--service, --reason and --ttl are for adding an override, not for %s", verb)
		}
	}
	switch verb {
	case "list":
		if len(f.args) > 1 {
			return usage("list takes no arguments, got %q", strings.Join(f.args[1:], " "))
		}
		recs, err := client.List(ctx)
		if err != nil {
			return overrideFailed(stderr, f.url, err)
		}
		printOverrides(stdout, recs, overrideNow())
		return exitOK
	case "clear":
		switch len(f.args) {
		case 1:
			recs, err := client.Clear(ctx)
			if err != nil {
				return overrideFailed(stderr, f.url, err)
			}
			fmt.Fprintf(stdout, "Removed %d override%s.\n", len(recs), plural(len(recs)))
			for _, r := range recs {
				fmt.Fprintf(stdout, "  %s: %s\n", r.ID, describe(r))
			}
		case 2:
			r, err := client.Remove(ctx, f.args[1])
			if err != nil {
				return overrideFailed(stderr, f.url, err)
			}
			fmt.Fprintf(stdout, "Removed override %s: %s\n", r.ID, describe(r))
		default:
			return usage("clear takes at most one override ID, got %q", strings.Join(f.args[1:], " "))
		}
		return exitOK
	}

	text := strings.Join(f.args, " ")
	action, err := override.ParseAction(text)
	if err != nil {
		return usage("%v (or list, or clear [ID])", err)
	}
	if strings.TrimSpace(f.reason) == "" {
		return usage("--reason is required: say why, HAProxy shows it as \"override: REASON\"")
	}
	if _, err := override.ParseTTL(f.ttl); err != nil {
		return usage("--ttl: %v", err)
	}
	r, err := client.Add(ctx, override.AddRequest{
		Action:  action.String(),
		Service: f.service,
		Reason:  f.reason,
		TTL:     f.ttl,
	})
	if err != nil {
		return overrideFailed(stderr, f.url, err)
	}
	fmt.Fprintf(stdout, "Added override %s: %s\n", r.ID, describe(r))
	if !r.Expires.IsZero() {
		fmt.Fprintf(stdout, "It expires at %s (in %s).\n", r.Expires.UTC().Format(time.RFC3339), shortDuration(r.Expires.Sub(overrideNow())))
	} else {
		fmt.Fprintf(stdout, "It stays until removed: agent override clear %s\n", r.ID)
	}
	return exitOK
}

// overrideFailed explains err and returns the failure exit code.
func overrideFailed(w io.Writer, url string, err error) int {
	var unreachable *override.UnreachableError
	switch {
	case errors.Is(err, override.ErrNotEnabled):
		fmt.Fprintf(w, "agent override: %v\nThe agent at %s does not serve /api/v1/overrides: is the agent running with --web.enable-lifecycle?\n", err, url)
	case errors.Is(err, override.ErrNotAgent):
		fmt.Fprintf(w, "agent override: %v\nWhat answers at --web.url (%s) is not the agent's web port: give --web.url the agent's --web.listen-address (default http://127.0.0.1:9898), and run the agent with --web.enable-lifecycle.\n", err, url)
	case errors.As(err, &unreachable):
		fmt.Fprintf(w, "agent override: %v\nIs the agent running, and is --web.url (%s) its --web.listen-address?\n", err, url)
	default:
		fmt.Fprintf(w, "agent override: %v\n", err)
	}
	return exitFailure
}

// describe says what an override does in one line.
func describe(r override.Record) string {
	return fmt.Sprintf("%s for %s, reason %q", r.Action, serviceLabel(r.Service), r.Reason)
}

func serviceLabel(s string) string {
	if s == "" {
		return "all services"
	}
	return "service " + s
}

// printOverrides prints the table of `override list`, oldest first as the
// agent keeps them (a later override wins over an earlier one).
func printOverrides(w io.Writer, recs []override.Record, now time.Time) {
	if len(recs) == 0 {
		fmt.Fprintln(w, "No overrides in force.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSERVICE\tACTION\tREASON\tEXPIRES")
	for _, r := range recs {
		service := r.Service
		if service == "" {
			service = "(all)"
		}
		expires := "never"
		if !r.Expires.IsZero() {
			expires = r.Expires.UTC().Format(time.RFC3339) + " (in " + shortDuration(r.Expires.Sub(now)) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, service, r.Action, r.Reason, expires)
	}
	tw.Flush()
}

// shortDuration renders d for people: "2d3h", "1h5m", "45s".
func shortDuration(d time.Duration) string {
	if d < time.Second {
		return "0s"
	}
	if d < time.Minute {
		return d.Round(time.Second).String()
	}
	d = d.Round(time.Minute)
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	h, m := d/time.Hour, (d%time.Hour)/time.Minute
	var b strings.Builder
	if days > 0 {
		fmt.Fprintf(&b, "%dd", days)
	}
	if h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if m > 0 && days == 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	if b.Len() == 0 {
		return "0m"
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
