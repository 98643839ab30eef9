package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/haproxy-agent/agent/examples"
	"github.com/haproxy-agent/agent/internal/app"
	"github.com/haproxy-agent/agent/internal/memtrim"
	"github.com/haproxy-agent/agent/internal/replica"
	"github.com/haproxy-agent/agent/internal/responder"
	"github.com/haproxy-agent/agent/internal/source"
)

// listenFlag is the --listen flag serve listens on and check compares
// HAProxy's agent-port with, defined once.
func listenFlag(c *kingpin.CmdClause) *kingpin.FlagClause {
	return c.Flag("listen", "Address of the agent port that HAProxy polls (agent-port). Listens on IPv4 and IPv6.").
		Default(app.DefaultListen)
}

func registerServe(ka *kingpin.Application, _, stderr io.Writer) (string, command) {
	c := ka.Command("serve", "Answer HAProxy's agent-check polls from the rules' latest decision. "+
		"HAProxy polls the agent (agent-check agent-port ...); the agent never pushes. "+
		"Without --rules it runs a built-in rule file on the host's own CPU, load and memory.")
	var o app.Options
	var etcdConfig string
	c.Flag("rules", "Rule file to serve. Reloaded when it changes, on SIGHUP and on POST /-/reload.").
		PlaceHolder("FILE").StringVar(&o.RulesPath)
	listenFlag(c).StringVar(&o.Listen)
	c.Flag("haproxy.runtime-api", "Runtime API of an HAProxy that polls this agent (unix:/path, tcp:HOST:PORT or a socket path; repeatable): read every interval to show HAProxy's view of each server in /status, on the page and in metrics, and to report drift.").
		PlaceHolder("ADDRESS").StringsVar(&o.HAProxyRuntimeAPI)
	c.Flag("web.listen-address", "Address of the web port: the status page (/), /metrics, /status, /healthz, and the lifecycle endpoints.").
		Default(app.DefaultWebListen).StringVar(&o.WebListen)
	c.Flag("web.enable-lifecycle", "Enable the mutating HTTP endpoints: POST /-/reload, /api/v1/overrides and the status page's override forms.").
		BoolVar(&o.EnableLifecycle)
	c.Flag("web.config.file", "Web configuration file (TLS, basic auth) for every HTTP endpoint, in the format of Prometheus and its exporters (exporter-toolkit).").
		PlaceHolder("FILE").StringVar(&o.WebConfigFile)
	c.Flag("web.max-connections", "HTTP connections served at once; more wait to be accepted, so that HTTP clients cannot starve the agent port.").
		Default(strconv.Itoa(app.DefaultWebMaxConnections)).IntVar(&o.WebMaxConnections)
	c.Flag("state.file", "File that keeps operator overrides across restarts. Empty keeps them in memory only.").
		PlaceHolder("FILE").StringVar(&o.StateFile)
	c.Flag("poll.read-timeout", "With services: how long to wait for HAProxy's agent-send line before answering for the default service.").
		Default(responder.DefaultReadTimeout.String()).DurationVar(&o.PollReadTimeout)
	c.Flag("poll.max-connections", "Polls handled at once; connections past it are closed at once and counted.").
		Default(strconv.Itoa(responder.DefaultMaxConnections)).IntVar(&o.MaxConnections)
	// Hidden: the period of the watcher's fallback check of the rule file,
	// for tests that must tell a change seen by its file event from one
	// found by the check.
	c.Flag("reload.recheck", "Period of the fallback check of the rule file (0: 10s; negative: off).").
		Hidden().DurationVar(&o.ReloadRecheck)
	c.Flag("etcd.endpoints", "etcd client URLs (comma-separated or repeated): share overrides and the fleet guardrail's decisions with the other replicas using the same --etcd.prefix. Without it nothing is shared.").
		PlaceHolder("URL,...").StringsVar(&o.Etcd.Endpoints)
	c.Flag("etcd.prefix", "etcd key prefix of the replica group: replicas of one fleet share one prefix, other fleets use another.").
		Default(replica.DefaultPrefix).StringVar(&o.Etcd.Prefix)
	c.Flag("etcd.config.file", "etcd client configuration file: tls_config (ca_file, cert_file, key_file...) and username/password or password_file.").
		PlaceHolder("FILE").StringVar(&etcdConfig)
	c.Flag("etcd.lease-ttl", "TTL of this replica's etcd lease: how long a replica that died keeps leading the group.").
		Default(replica.DefaultLeaseTTL.String()).DurationVar(&o.Etcd.LeaseTTL)
	allow := c.Flag("poll.allow", "Client network allowed to poll (CIDR; repeatable). Others are closed at once. Default: everyone.").
		PlaceHolder("CIDR").Strings()

	return c.FullCommand(), func(ctx context.Context, logger *slog.Logger) int {
		for _, s := range *allow {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				fmt.Fprintf(stderr, "agent: --poll.allow %q: %v\n", s, err)
				return exitUsage
			}
			o.Allow = append(o.Allow, p)
		}
		if err := etcdOptions(&o.Etcd, etcdConfig); err != nil {
			fmt.Fprintf(stderr, "agent: %v\n", err)
			return exitUsage
		}
		if o.RulesPath == "" {
			o.DefaultRules, o.DefaultName = examples.DefaultRules, examples.DefaultRulesName
			logger.Info("no --rules given: serving the built-in rule file on the host's own metrics")
		}
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		reloads := make(chan struct{})
		go func() {
			for {
				select {
				case <-hup:
					select {
					case reloads <- struct{}{}:
					case <-ctx.Done():
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
		o.Reload = reloads
		o.Logger = logger
		o.NewReader = source.NewWithLogger(logger.With("component", "source"))
		// Start-up (package initialisation, flags, compiling the rules,
		// setting up the web server) leaves most of the executable mapped;
		// the steady state needs a fraction of it. Give those pages back a
		// second after serving starts.
		served := make(chan struct{})
		defer close(served)
		o.Started = func(net.Addr, net.Addr) {
			go func() {
				t := time.NewTimer(time.Second)
				defer t.Stop()
				select {
				case <-t.C:
				case <-served:
					return
				}
				// The heap start-up used and freed goes back too.
				debug.FreeOSMemory()
				n, err := memtrim.ReleaseExecutablePages()
				if err != nil {
					logger.Debug("could not release start-up pages", "err", err)
					return
				}
				logger.Debug("released start-up pages", "bytes", n)
			}()
		}
		if err := app.Run(ctx, o); err != nil {
			logger.Error("agent failed", "err", err)
			return exitFailure
		}
		return exitOK
	}
}

// etcdOptions completes the etcd flags: endpoints split at commas, and the
// client configuration file read, so that a bad one is a usage error.
func etcdOptions(o *replica.Options, configFile string) error {
	var eps []string
	for _, e := range o.Endpoints {
		for _, p := range strings.Split(e, ",") {
			if p = strings.TrimSpace(p); p != "" {
				eps = append(eps, p)
			}
		}
	}
	o.Endpoints = eps
	if configFile != "" {
		if len(eps) == 0 {
			return fmt.Errorf("--etcd.config.file needs --etcd.endpoints")
		}
		c, err := replica.LoadClientConfig(configFile)
		if err != nil {
			return fmt.Errorf("--etcd.config.file: %w", err)
		}
		o.Client = c
	}
	return nil
}
