package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/haproxy-agent/agent/internal/override"
)

// serveWeb serves the HTTP side until ctx is done.
func (a *agent) serveWeb(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           a.webHandler(ctx),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          nil,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
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

func (a *agent) webHandler(ctx context.Context) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.o.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /status", a.handleStatus)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "OK")
	})
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
	} else {
		mux.HandleFunc("/-/reload", lifecycleDisabled)
		mux.HandleFunc("/api/v1/overrides", lifecycleDisabled)
		mux.HandleFunc("/api/v1/overrides/", lifecycleDisabled)
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `agent: answers HAProxy agent-check polls on its agent port.
  /metrics   the agent's own metrics
  /status    JSON: per service the reply, the rules and the values they saw, the sources' health
  /healthz   liveness
  /-/reload  POST: reload the rule file (needs --web.enable-lifecycle)
  /api/v1/overrides  operator overrides (needs --web.enable-lifecycle)
`)
	})
	return mux
}

func lifecycleDisabled(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "lifecycle endpoints are disabled; start the agent with --web.enable-lifecycle", http.StatusForbidden)
}
