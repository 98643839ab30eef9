package override

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/jsonout"
)

// APIPath is where Handler serves the collection of overrides; one
// override is at APIPath + "/" + ID.
const APIPath = "/api/v1/overrides"

// maxBody bounds a request body: an override is a few hundred bytes.
const maxBody = 64 << 10

// HandlerOptions configure Handler.
type HandlerOptions struct {
	// Logger receives server-side failures; nil discards them. The store
	// logs every change itself.
	Logger *slog.Logger
	// Applied, if set, is called after each successful change and before
	// the answer is sent. The agent waits there until a decision with the
	// change is published, so that once `agent override` returns the very
	// next poll sees it; Store.Changed alone only starts that evaluation.
	Applied func(ctx context.Context)
}

// Handler serves the overrides API on full paths, so that the agent mounts
// it as is (mux.Handle(APIPath, h); mux.Handle(APIPath+"/", h)):
//
//	GET    /api/v1/overrides       200 {"overrides":[RECORD...]}
//	POST   /api/v1/overrides       201 RECORD      body: AddRequest, application/json
//	DELETE /api/v1/overrides       200 {"overrides":[RECORD...]}  (those removed)
//	GET    /api/v1/overrides/{id}  200 RECORD
//	DELETE /api/v1/overrides/{id}  200 {"overrides":[RECORD]}     (the one removed)
//
// Errors are {"error":"MESSAGE"} with 400 (invalid request), 404 (no such
// override), 405 (method), 415 (body not JSON) or 500 (state file not
// written: nothing changed). The API has no authentication, so the agent
// mounts it, reads included, only with --web.enable-lifecycle, like
// /-/reload; the overrides applied are visible in /status either way.
// Requiring a JSON body keeps browsers from posting to it cross-site.
func Handler(s *Store, opts HandlerOptions) http.Handler {
	h := &handler{store: s, logger: opts.Logger, applied: opts.Applied}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+APIPath, h.list)
	mux.HandleFunc("POST "+APIPath, h.add)
	mux.HandleFunc("DELETE "+APIPath, h.clear)
	mux.HandleFunc("GET "+APIPath+"/{id}", h.get)
	mux.HandleFunc("DELETE "+APIPath+"/{id}", h.remove)
	// ServeMux's own 405 is plain text; clients expect JSON.
	mux.HandleFunc(APIPath, methodNotAllowed("GET, HEAD, POST, DELETE"))
	mux.HandleFunc(APIPath+"/{id}", methodNotAllowed("GET, HEAD, DELETE"))
	return mux
}

type handler struct {
	store   *Store
	logger  *slog.Logger
	applied func(context.Context)
}

// changed waits, if the agent asked to, for the change to be applied.
func (h *handler) changed(r *http.Request) {
	if h.applied != nil {
		h.applied(r.Context())
	}
}

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, listResponse{Overrides: Records(h.store.List(h.store.now()))})
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	o, ok := h.store.Get(id, h.store.now())
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("%v %q", ErrNotFound, id))
		return
	}
	writeJSON(w, http.StatusOK, NewRecord(o))
}

func (h *handler) add(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "the request body must be JSON, with Content-Type: application/json")
		return
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	var req AddRequest
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return
	}
	if _, err := dec.Token(); err != io.EOF {
		writeError(w, http.StatusBadRequest, "invalid JSON body: data after the object")
		return
	}
	o, ttl, err := req.Parse()
	if err == nil {
		o, err = h.store.Add(o, ttl)
	}
	if err != nil {
		h.fail(w, err)
		return
	}
	h.changed(r)
	w.Header().Set("Location", APIPath+"/"+o.ID)
	writeJSON(w, http.StatusCreated, NewRecord(o))
}

// Parse turns the request into what Store.Add takes; its errors are the
// client's (*ValidationError).
func (req AddRequest) Parse() (evaluator.Override, time.Duration, error) {
	var o evaluator.Override
	if req.Action == "" {
		return o, 0, invalid("an action is required, e.g. \"drain\" or \"weight 50%%\"")
	}
	a, err := ParseAction(req.Action)
	if err != nil {
		return o, 0, invalid("action %q: %v", req.Action, err)
	}
	ttl, err := ParseTTL(req.TTL)
	if err != nil {
		return o, 0, err
	}
	return evaluator.Override{Service: req.Service, Action: a, Reason: req.Reason}, ttl, nil
}

func (h *handler) remove(w http.ResponseWriter, r *http.Request) {
	o, err := h.store.Remove(r.PathValue("id"))
	if err != nil {
		h.fail(w, err)
		return
	}
	h.changed(r)
	writeJSON(w, http.StatusOK, listResponse{Overrides: []Record{NewRecord(o)}})
}

func (h *handler) clear(w http.ResponseWriter, r *http.Request) {
	removed, err := h.store.Clear()
	if err != nil {
		h.fail(w, err)
		return
	}
	h.changed(r)
	writeJSON(w, http.StatusOK, listResponse{Overrides: Records(removed)})
}

// fail answers err with the status its kind calls for.
func (h *handler) fail(w http.ResponseWriter, err error) {
	switch {
	case IsValidation(err):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	default:
		h.logger.Error("override request failed", "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed: use %s", r.Method, allow))
	}
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorResponse{Error: msg})
}

// writeJSON answers with v, whole, or with a 500 naming why v could not be
// encoded (jsonout.Serve).
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Cache-Control", "no-store")
	_ = jsonout.Serve(w, code, v)
}
