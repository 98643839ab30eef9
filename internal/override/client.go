package override

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// ErrNotEnabled is returned by Client when the agent refuses the overrides
// API with a 403 that is not the API's JSON: it runs without
// --web.enable-lifecycle.
var ErrNotEnabled = errors.New("the agent does not serve the overrides API")

// ErrNotAgent is returned by Client when what answers is not the agent's
// overrides API: not HTTP at all (the agent port, for one), a page that is
// not the API's JSON, or JSON of another shape.
var ErrNotAgent = errors.New("this is not the agent's overrides API")

// UntrustedError is a TLS handshake whose certificate the client could not
// verify: a self-signed or private CA not given, or a name that does not
// match.
type UntrustedError struct {
	URL string
	Err *tls.CertificateVerificationError
}

func (e *UntrustedError) Error() string {
	return fmt.Sprintf("the TLS certificate of %s is not trusted: %v", e.URL, e.Err.Err)
}

func (e *UntrustedError) Unwrap() error { return e.Err }

// ErrUnauthorized is returned by Client when the agent refuses the
// request's credentials, or their absence (its --web.config.file asks for
// basic auth).
var ErrUnauthorized = errors.New("the agent refused the credentials")

// APIError is an error the agent's overrides API answered with.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Message is the agent's explanation.
	Message string
}

func (e *APIError) Error() string { return e.Message }

// UnreachableError is a request that got no HTTP answer at all.
type UnreachableError struct {
	URL string
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the agent at %s: %v", e.URL, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Client talks to a running agent's overrides API.
type Client struct {
	// BaseURL is the agent's web address, e.g. http://127.0.0.1:9898; a
	// path prefix (behind a proxy) is kept.
	BaseURL string
	// HTTP sends the requests; nil means http.DefaultClient. Its
	// transport carries the TLS settings (CA, client certificate).
	HTTP *http.Client
	// Username and Password, when Username is set, are sent as basic auth.
	Username string
	Password string
}

// List returns the overrides in force, oldest first.
func (c *Client) List(ctx context.Context) ([]Record, error) {
	var resp listResponse
	err := c.do(ctx, http.MethodGet, APIPath, nil, &resp)
	return resp.Overrides, err
}

// Add puts an override in force and returns it as the agent stored it.
func (c *Client) Add(ctx context.Context, req AddRequest) (Record, error) {
	var rec Record
	err := c.do(ctx, http.MethodPost, APIPath, req, &rec)
	return rec, err
}

// Remove takes one override out of force and returns it.
func (c *Client) Remove(ctx context.Context, id string) (Record, error) {
	if id == "" {
		return Record{}, errors.New("remove: empty override id")
	}
	var resp listResponse
	if err := c.do(ctx, http.MethodDelete, APIPath+"/"+url.PathEscape(id), nil, &resp); err != nil {
		return Record{}, err
	}
	if len(resp.Overrides) != 1 {
		return Record{}, fmt.Errorf("remove %s: the agent answered with %d overrides, want 1", id, len(resp.Overrides))
	}
	return resp.Overrides[0], nil
}

// Clear takes every override out of force and returns those removed.
func (c *Client) Clear(ctx context.Context) ([]Record, error) {
	var resp listResponse
	err := c.do(ctx, http.MethodDelete, APIPath, nil, &resp)
	return resp.Overrides, err
}

// do sends one request and decodes a 2xx answer's JSON into out.
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	u := strings.TrimRight(c.BaseURL, "/") + path
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("agent URL %q: %w", c.BaseURL, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.Username != "" {
		req.SetBasicAuth(c.Username, c.Password)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		var cv *tls.CertificateVerificationError
		if errors.As(err, &cv) {
			return &UntrustedError{URL: c.BaseURL, Err: cv}
		}
		if connected(ctx, err) {
			// Something accepted the connection but did not answer in
			// HTTP: most often the agent port (agent-check) given for
			// the web port.
			return fmt.Errorf("%s %s: no HTTP answer (%v); the agent port answers HAProxy, the overrides API is on the web port: %w", method, u, err, ErrNotAgent)
		}
		return &UnreachableError{URL: c.BaseURL, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return &UnreachableError{URL: c.BaseURL, Err: fmt.Errorf("read answer: %w", err)}
	}
	if resp.StatusCode/100 == 2 {
		return decodeAnswer(method, u, resp, data, out)
	}
	var e errorResponse
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return &APIError{Status: resp.StatusCode, Message: e.Error}
	}
	msg := strings.TrimSpace(string(data))
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	if msg != "" {
		msg = ": " + msg
	}
	// The agent without --web.enable-lifecycle refuses the API with a
	// plain-text 403; it always routes the API's paths, so a 404 or 405
	// that is not the API's JSON comes from something else.
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return fmt.Errorf("%s %s: %s%s: %w", method, u, resp.Status, msg, ErrUnauthorized)
	case http.StatusForbidden:
		return fmt.Errorf("%s %s: %s%s: %w", method, u, resp.Status, msg, ErrNotEnabled)
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return fmt.Errorf("%s %s: %s%s: %w", method, u, resp.Status, msg, ErrNotAgent)
	}
	return &APIError{Status: resp.StatusCode, Message: fmt.Sprintf("%s %s: %s%s", method, u, resp.Status, msg)}
}

// answer is a body the API sends on success; requiredKey names the key
// every such body has, to tell the API from other JSON.
type answer interface{ requiredKey() string }

func (*listResponse) requiredKey() string { return "overrides" }
func (*Record) requiredKey() string       { return "id" }

// decodeAnswer decodes a 2xx answer into out, after checking that it is the
// API's JSON and not some other server's page.
func decodeAnswer(method, u string, resp *http.Response, data []byte, out any) error {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "application/json" {
		ct := mt
		if ct == "" {
			ct = "no content type"
		}
		return fmt.Errorf("%s %s: answered %s with %s, not JSON: %w", method, u, resp.Status, ct, ErrNotAgent)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil {
		return fmt.Errorf("%s %s: invalid JSON (%v): %w", method, u, err, ErrNotAgent)
	}
	if a, ok := out.(answer); ok {
		if _, has := keys[a.requiredKey()]; !has {
			return fmt.Errorf("%s %s: the JSON has no %q: %w", method, u, a.requiredKey(), ErrNotAgent)
		}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: unexpected JSON (%v): %w", method, u, err, ErrNotAgent)
	}
	return nil
}

// connected reports whether a failed request got as far as a connection:
// not a failed dial, DNS lookup or timeout.
func connected(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil && strings.Contains(ue.Err.Error(), "unsupported protocol scheme") {
		return false
	}
	return true
}
