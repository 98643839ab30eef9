package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/config"

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
  agent override clear ID | --all

ready forces the server back into rotation (up ready) whatever the rules say, unless another override drains, maints or downs it. Overrides combine as rules do: down wins, maint over drain, the lowest weight and maxconn. Actions combine as in rule files ("drain maxconn 10"). Without --ttl an override lasts 1h; --ttl 0 (or forever) keeps it until cleared. The agent must run with --web.enable-lifecycle.`

// overrideFlags are the parsed arguments of `agent override`.
type overrideFlags struct {
	args    []string
	service string
	reason  string
	ttl     string
	all     bool
	url     string
	// The web port's TLS and basic auth, for an agent run with
	// --web.config.file.
	user, password, passwordFile string
	caFile, certFile, keyFile    string
	serverName                   string
	insecureSkipVerify           bool
}

func registerOverride(app *kingpin.Application, stdout, stderr io.Writer) (string, command) {
	c := app.Command("override", overrideHelp)
	var f overrideFlags
	c.Arg("what", "drain, maint, down, ready, weight N%; or list; or clear ID.").Required().StringsVar(&f.args)
	c.Flag("service", "Apply to this service only (in fleet mode: this server; default: all).").PlaceHolder("NAME").StringVar(&f.service)
	c.Flag("reason", "Why: required when adding; HAProxy shows it as \"override: REASON\".").PlaceHolder("TEXT").StringVar(&f.reason)
	c.Flag("ttl", "Remove the override after this long (e.g. 30m, 4h, 1d; default 1h); 0 or forever keeps it until cleared.").StringVar(&f.ttl)
	c.Flag("all", "With clear: remove every override in force.").BoolVar(&f.all)
	c.Flag("web.url", "Base URL of the running agent's web server (its --web.listen-address); https://... when its --web.config.file sets TLS.").Default("http://127.0.0.1:9898").Envar("AGENT_WEB_URL").StringVar(&f.url)
	c.Flag("web.user", "Basic auth user, for an agent whose --web.config.file sets basic_auth_users.").Envar("AGENT_WEB_USER").PlaceHolder("USER").StringVar(&f.user)
	c.Flag("web.password", "Basic auth password (prefer the environment variable or --web.password-file: flags show in ps).").Envar("AGENT_WEB_PASSWORD").PlaceHolder("PASSWORD").StringVar(&f.password)
	c.Flag("web.password-file", "File holding the basic auth password.").PlaceHolder("FILE").StringVar(&f.passwordFile)
	c.Flag("web.ca-file", "CA certificate(s) to verify the agent's TLS certificate with (default: the system's).").PlaceHolder("FILE").StringVar(&f.caFile)
	c.Flag("web.cert-file", "Client certificate, for an agent that asks for one (client_auth_type).").PlaceHolder("FILE").StringVar(&f.certFile)
	c.Flag("web.key-file", "Key of --web.cert-file.").PlaceHolder("FILE").StringVar(&f.keyFile)
	c.Flag("web.server-name", "Name to verify the agent's certificate against, when it differs from the URL's host.").PlaceHolder("NAME").StringVar(&f.serverName)
	c.Flag("web.insecure-skip-verify", "Do not verify the agent's certificate (tests only).").BoolVar(&f.insecureSkipVerify)
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
	client, err := f.client()
	if err != nil {
		fmt.Fprintf(stderr, "agent override: %v\n", err)
		return exitFailure
	}

	verb := strings.ToLower(f.args[0])
	if f.all && verb != "clear" {
		return usage("--all is for clear, not for %s", verb)
	}
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
		switch {
		case len(f.args) == 1 && !f.all:
			return usage("clear needs an override ID (see 'agent override list'), or --all to remove every override")
		case len(f.args) == 2 && f.all:
			return usage("clear takes an override ID or --all, not both")
		case len(f.args) == 1:
			recs, err := client.Clear(ctx)
			if err != nil {
				return overrideFailed(stderr, f.url, err)
			}
			fmt.Fprintf(stdout, "Removed %d override%s.\n", len(recs), plural(len(recs)))
			for _, r := range recs {
				fmt.Fprintf(stdout, "  %s: %s\n", r.ID, describe(r))
			}
		case len(f.args) == 2:
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
		return usage("%v (or list, or clear ID | --all)", err)
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
	var untrusted *override.UntrustedError
	switch {
	case errors.As(err, &untrusted):
		fmt.Fprintf(w, "agent override: %v\nGive --web.ca-file the CA certificate that signed the agent's (or the certificate itself), and --web.server-name when the name in it is not the one in --web.url.\n", err)
	case errors.Is(err, override.ErrUnauthorized):
		fmt.Fprintf(w, "agent override: %v\nThe agent at %s asks for basic auth: give --web.user and --web.password-file (or AGENT_WEB_USER and AGENT_WEB_PASSWORD).\n", err, url)
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

// client builds the API client from the web flags: TLS through Prometheus'
// own TLS settings, basic auth on every request.
func (f overrideFlags) client() (*override.Client, error) {
	c := &override.Client{BaseURL: f.url, Username: f.user, Password: f.password}
	if f.passwordFile != "" {
		data, err := os.ReadFile(f.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("--web.password-file: %w", err)
		}
		c.Password = strings.TrimRight(string(data), "\r\n")
	}
	if c.Password != "" && c.Username == "" {
		return nil, errors.New("a basic auth password needs --web.user (or AGENT_WEB_USER)")
	}
	if f.caFile == "" && f.certFile == "" && f.keyFile == "" && f.serverName == "" && !f.insecureSkipVerify {
		return c, nil
	}
	tlsCfg, err := config.NewTLSConfig(&config.TLSConfig{
		CAFile: f.caFile, CertFile: f.certFile, KeyFile: f.keyFile,
		ServerName: f.serverName, InsecureSkipVerify: f.insecureSkipVerify,
	})
	if err != nil {
		return nil, fmt.Errorf("web TLS settings: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.DisableKeepAlives = true // one request per run
	c.HTTP = &http.Client{Transport: tr}
	return c, nil
}
