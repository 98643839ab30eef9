package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	toolkitweb "github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/net/netutil"

	"github.com/haproxy-agent/agent/internal/override"
	"github.com/haproxy-agent/agent/internal/statuspage"
)

// serveWeb serves the HTTP side until ctx is done: through the
// exporter-toolkit, so that --web.config.file's TLS and basic auth cover
// every endpoint, on a listener capped at WebMaxConnections.
func (a *agent) serveWeb(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.webHandler(ctx),
		ReadHeaderTimeout: a.o.WebReadHeaderTimeout,
		IdleTimeout:       a.o.WebIdleTimeout,
		// Failed handshakes and the like: the client's problem, not news.
		ErrorLog: slog.NewLogLogger(a.log.With("component", "web").Handler(), slog.LevelDebug),
	}
	cfg := a.o.WebConfigFile
	flags := &toolkitweb.FlagConfig{
		WebListenAddresses: &[]string{ln.Addr().String()},
		WebSystemdSocket:   new(bool),
		WebConfigFile:      &cfg,
	}
	errc := make(chan error, 1)
	go func() {
		errc <- toolkitweb.Serve(netutil.LimitListener(ln, a.o.WebMaxConnections), srv, flags, a.log.With("component", "web"))
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("web server: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutCtx)
	<-errc
	return err
}

// webHandler routes the HTTP side. Every unsafe cross-origin browser
// request is refused, so that no other site can make a visitor's browser
// reload the rules or change overrides (basic auth included: browsers
// resend it).
func (a *agent) webHandler(ctx context.Context) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.o.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /status", a.handleStatus)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "OK")
	})
	page := statuspage.Options{Page: (&pages{a: a}).page, History: a.history, Logger: a.log.With("component", "statuspage")}
	if a.o.EnableLifecycle {
		mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, r *http.Request) {
			// The reload ends with the request or with the agent, so
			// that shutdown never waits for it.
			rctx, cancel := context.WithCancel(r.Context())
			defer cancel()
			defer context.AfterFunc(ctx, cancel)()
			if _, err := a.reload(rctx, "HTTP"); err != nil {
				http.Error(w, "reload failed, the previous rules keep serving:\n"+errors.Join(err).Error(), http.StatusInternalServerError)
				return
			}
			fmt.Fprintln(w, "OK")
		})
		api := override.Handler(a.overrides, override.HandlerOptions{
			Logger: a.log.With("component", "override"),
			// Answer only once the change is in the published reply, so
			// that the poll after `agent override` already carries it.
			Applied: a.reevaluate,
		})
		mux.Handle("/api/v1/overrides", api)
		mux.Handle("/api/v1/overrides/", api)
		page.Overrides = pageOverrides{a}
	} else {
		mux.HandleFunc("/-/reload", lifecycleDisabled)
		mux.HandleFunc("/api/v1/overrides", lifecycleDisabled)
		mux.HandleFunc("/api/v1/overrides/", lifecycleDisabled)
	}
	statuspage.New(page).Register(mux)
	return http.NewCrossOriginProtection().Handler(mux)
}

func lifecycleDisabled(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "lifecycle endpoints are disabled; start the agent with --web.enable-lifecycle", http.StatusForbidden)
}
