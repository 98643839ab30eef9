package override

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/rules"
)

// newServer serves a memory store's API over loopback.
func newServer(t *testing.T, opts Options) (*Store, *httptest.Server) {
	t.Helper()
	s := open(t, "", opts)
	srv := httptest.NewServer(Handler(s, HandlerOptions{}))
	t.Cleanup(srv.Close)
	return s, srv
}

// request sends one request and returns the status, headers and body.
func request(t *testing.T, method, url, contentType, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(data)
}

func TestHandlerRoundTrip(t *testing.T) {
	clk := &clock{now: t0}
	s, srv := newServer(t, Options{Now: clk.Now, KnownService: func(n string) bool { return n == "worker" }})
	base := srv.URL + APIPath

	code, hdr, body := request(t, "POST", base, "application/json", `{"action":"drain","reason":"disk swap","ttl":"1h"}`)
	if code != http.StatusCreated || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("POST: %d %s %s", code, hdr.Get("Content-Type"), body)
	}
	var created Record
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatal(err)
	}
	if created.Action != "drain" || created.Service != "" || created.Reason != "disk swap" ||
		!created.Created.Equal(t0) || !created.Expires.Equal(t0.Add(time.Hour)) || hdr.Get("Location") != APIPath+"/"+created.ID {
		t.Errorf("created %+v, Location %q", created, hdr.Get("Location"))
	}
	if act := s.Active(t0); len(act) != 1 || act[0].ID != created.ID || act[0].Action.Admin != rules.Drain {
		t.Errorf("store after POST: %+v", act)
	}

	code, _, body = request(t, "POST", base, "application/json; charset=utf-8", `{"action":"weight 25%","service":"worker","reason":"canary"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST weight: %d %s", code, body)
	}

	code, _, body = request(t, "GET", base, "", "")
	var list listResponse
	if err := json.Unmarshal([]byte(body), &list); code != http.StatusOK || err != nil {
		t.Fatalf("GET: %d %v %s", code, err, body)
	}
	if len(list.Overrides) != 2 || list.Overrides[0].ID != created.ID || list.Overrides[1].Action != "weight 25%" || list.Overrides[1].Service != "worker" {
		t.Errorf("GET list: %+v", list.Overrides)
	}

	code, _, body = request(t, "GET", base+"/"+created.ID, "", "")
	if code != http.StatusOK || !strings.Contains(body, `"reason": "disk swap"`) {
		t.Errorf("GET one: %d %s", code, body)
	}

	code, _, body = request(t, "DELETE", base+"/"+created.ID, "", "")
	if code != http.StatusOK || !strings.Contains(body, created.ID) {
		t.Errorf("DELETE one: %d %s", code, body)
	}
	code, _, body = request(t, "DELETE", base+"/"+created.ID, "", "")
	if code != http.StatusNotFound || !strings.Contains(body, `"error": "no such override \"`+created.ID+`\""`) {
		t.Errorf("DELETE again: %d %s", code, body)
	}

	code, _, body = request(t, "DELETE", base, "", "")
	if err := json.Unmarshal([]byte(body), &list); code != http.StatusOK || err != nil || len(list.Overrides) != 1 {
		t.Errorf("DELETE all: %d %s", code, body)
	}
	code, _, body = request(t, "GET", base, "", "")
	if code != http.StatusOK || strings.TrimSpace(body) != "{\n  \"overrides\": []\n}" {
		t.Errorf("GET empty: %d %q", code, body)
	}

	// Expired overrides are not listed.
	request(t, "POST", base, "application/json", `{"action":"maint","reason":"brief","ttl":"10m"}`)
	clk.Advance(10 * time.Minute)
	if _, _, body = request(t, "GET", base, "", ""); strings.Contains(body, "brief") {
		t.Errorf("expired override listed: %s", body)
	}
}

func TestHandlerErrors(t *testing.T) {
	_, srv := newServer(t, Options{KnownService: func(n string) bool { return n == "worker" }})
	base := srv.URL + APIPath
	for _, tc := range []struct {
		name, method, path, ctype, body string
		code                            int
		want                            string
	}{
		{"no reason", "POST", "", "application/json", `{"action":"drain"}`, 400, "a reason is required"},
		{"no action", "POST", "", "application/json", `{"reason":"x"}`, 400, "an action is required"},
		{"bad action", "POST", "", "application/json", `{"action":"dran","reason":"x"}`, 400, `action \"dran\": unknown action`},
		{"bad weight", "POST", "", "application/json", `{"action":"weight 300%","reason":"x"}`, 400, "weight"},
		{"bad ttl", "POST", "", "application/json", `{"action":"drain","reason":"x","ttl":"soon"}`, 400, `ttl \"soon\"`},
		{"negative ttl", "POST", "", "application/json", `{"action":"drain","reason":"x","ttl":"-5m"}`, 400, "must not be negative"},
		{"unknown service", "POST", "", "application/json", `{"action":"drain","reason":"x","service":"db"}`, 400, `unknown service \"db\"`},
		{"unknown field", "POST", "", "application/json", `{"action":"drain","reason":"x","tll":"1h"}`, 400, `unknown field \"tll\"`},
		{"not json", "POST", "", "application/json", `drain`, 400, "invalid JSON body"},
		{"two objects", "POST", "", "application/json", `{"action":"drain","reason":"x"}{}`, 400, "data after the object"},
		{"too big", "POST", "", "application/json", `{"action":"drain","reason":"` + strings.Repeat("x", maxBody) + `"}`, 400, "too large"},
		{"form post", "POST", "", "application/x-www-form-urlencoded", `action=drain`, 415, "must be JSON"},
		{"no content type", "POST", "", "", `{"action":"drain","reason":"x"}`, 415, "must be JSON"},
		{"unknown id", "DELETE", "/nope", "", "", 404, `no such override \"nope\"`},
		{"get unknown id", "GET", "/nope", "", "", 404, `no such override \"nope\"`},
		{"put collection", "PUT", "", "", "", 405, "method PUT not allowed: use GET, HEAD, POST, DELETE"},
		{"post one", "POST", "/abc", "application/json", "{}", 405, "method POST not allowed: use GET, HEAD, DELETE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, hdr, body := request(t, tc.method, base+tc.path, tc.ctype, tc.body)
			var e errorResponse
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("body is not a JSON error: %v\n%s", err, body)
			}
			if code != tc.code || !strings.Contains(body, tc.want) || hdr.Get("Content-Type") != "application/json" {
				t.Errorf("%s %s: %d %s\nwant %d containing %s", tc.method, tc.path, code, body, tc.code, tc.want)
			}
			if code == 405 && hdr.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
}

func TestClientRoundTrip(t *testing.T) {
	_, srv := newServer(t, Options{})
	defer http.DefaultClient.CloseIdleConnections()
	c := &Client{BaseURL: srv.URL + "/"}
	ctx := context.Background()

	a, err := c.Add(ctx, AddRequest{Action: "ready", Reason: "trust me", TTL: "2d"})
	if err != nil || a.Action != "up, ready" || a.Expires.Sub(a.Created) != 48*time.Hour {
		t.Fatalf("Add: %+v, %v", a, err)
	}
	b, err := c.Add(ctx, AddRequest{Action: "weight 50%", Reason: "half"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Add(ctx, AddRequest{Action: "drain"}); err == nil {
		t.Error("Add without a reason succeeded")
	} else if ae := (*APIError)(nil); !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Message, "reason is required") {
		t.Errorf("Add without a reason: %v", err)
	}
	list, err := c.List(ctx)
	if err != nil || len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID {
		t.Fatalf("List: %+v, %v", list, err)
	}
	if r, err := c.Remove(ctx, a.ID); err != nil || r.ID != a.ID {
		t.Errorf("Remove: %+v, %v", r, err)
	}
	if _, err := c.Remove(ctx, a.ID); err == nil || !strings.Contains(err.Error(), "no such override") {
		t.Errorf("Remove twice: %v", err)
	}
	if _, err := c.Remove(ctx, "../x"); err == nil {
		t.Error("Remove of a path-like id succeeded")
	}
	removed, err := c.Clear(ctx)
	if err != nil || len(removed) != 1 || removed[0].ID != b.ID {
		t.Errorf("Clear: %+v, %v", removed, err)
	}
}

func TestClientNotEnabledAndUnreachable(t *testing.T) {
	defer http.DefaultClient.CloseIdleConnections()
	// A server without the route is not the agent, which always routes
	// the API's paths (refusing them with 403 without lifecycle).
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := &Client{BaseURL: srv.URL}
	if _, err := c.List(context.Background()); !errors.Is(err, ErrNotAgent) {
		t.Errorf("List from a server without the API = %v, want ErrNotAgent", err)
	}
	// An agent that says so in plain text.
	mux.HandleFunc("/api/v1/overrides", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "lifecycle endpoints are disabled", http.StatusForbidden)
	})
	if _, err := c.Clear(context.Background()); !errors.Is(err, ErrNotEnabled) || !strings.Contains(err.Error(), "403 Forbidden: lifecycle endpoints are disabled") {
		t.Errorf("Clear from an agent refusing with 403 = %v, want ErrNotEnabled with its text", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c = &Client{BaseURL: "http://" + addr}
	var ue *UnreachableError
	if _, err := c.List(context.Background()); !errors.As(err, &ue) {
		t.Errorf("List from nothing = %v, want *UnreachableError", err)
	}
}

func TestHandlerWaitsUntilApplied(t *testing.T) {
	s := open(t, "", Options{})
	var applied []int
	h := Handler(s, HandlerOptions{Applied: func(ctx context.Context) {
		applied = append(applied, len(s.List(time.Now())))
	}})
	srv := httptest.NewServer(h)
	defer srv.Close()
	defer http.DefaultClient.CloseIdleConnections()
	c := &Client{BaseURL: srv.URL}
	ctx := context.Background()
	a, err := c.Add(ctx, AddRequest{Action: "drain", Reason: "x"})
	if err != nil {
		t.Fatal(err)
	}
	c.Add(ctx, AddRequest{Action: "drain"}) // refused: nothing to apply
	c.List(ctx)
	c.Remove(ctx, a.ID)
	c.Add(ctx, AddRequest{Action: "maint", Reason: "y"})
	c.Clear(ctx)
	if got := fmt.Sprint(applied); got != "[1 0 1 0]" {
		t.Errorf("Applied saw %s overrides, want [1 0 1 0]: once per change, after it", got)
	}
}
