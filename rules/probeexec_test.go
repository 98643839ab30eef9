package rules

import (
	"net/http"

	"github.com/prometheus/common/config"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestHTTPSourceLoaded: an http source with every key, and one with none
// but the URL, load as the reader needs them: defaults filled in.
func TestHTTPSourceLoaded(t *testing.T) {
	f, err := Parse([]byte(`interval: 2s
sources:
  app:
    http: http://127.0.0.1:8080/healthz
    timeout: 500ms
    method: post
    headers: {X-Probe: agent, Host: svc.example}
    body: '{"deep": true}'
    valid_status_codes: [200, 429]
    body_limit: 64KiB
    json: {lag: replication.lag_seconds, ok: replication.ok}
    basic_auth: {username: a, password: b}
  plain: {http: http://127.0.0.1:8080/healthz}
  prom: {prometheus: http://127.0.0.1:9090}
metrics:
  healthy: app:success
  lag: {source: app, select: lag, history: 'max(replication_lag_seconds)'}
  up_plain: plain:success
rules:
  - healthy == 0 => down
  - lag > 30 => drain
`), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	app := f.Source("app")
	h := http.Header{}
	h.Add("X-Probe", "agent")
	h.Add("Host", "svc.example")
	c := app.Config.(*HTTPConfig)
	http := c.HTTP
	c.HTTP = config.HTTPClientConfig{}
	want := &HTTPConfig{URL: "http://127.0.0.1:8080/healthz", Method: "POST", Headers: h, Body: `{"deep": true}`, ValidStatusCodes: []int{200, 429},
		BodyLimit: 64 << 10, JSON: []JSONField{{"lag", "replication.lag_seconds"}, {"ok", "replication.ok"}}}
	if app.Kind != KindHTTP || !reflect.DeepEqual(c, want) || http.BasicAuth == nil || !http.FollowRedirects {
		t.Errorf("app = %+v, config %+v, http %+v", app, c, http)
	}
	plain := f.Source("plain").Config.(*HTTPConfig)
	if plain.Method != "GET" || plain.BodyLimit != DefaultProbeBodyLimit || f.Source("plain").Timeout != DefaultTimeout || plain.JSON != nil {
		t.Errorf("plain = %+v", plain)
	}
	if m := f.Metric("lag"); m.Selector != "lag" || len(m.Matchers) != 1 || m.History == "" || m.HistorySource != "prom" {
		t.Errorf("lag = %+v", m)
	}
}

// TestExecSourceLoaded: argv kept as written, env added, dir taken from
// the rule file's directory.
func TestExecSourceLoaded(t *testing.T) {
	f, err := Parse([]byte(`sources:
  lag:
    exec: [./check-lag, --db, "main db", "$HOME"]
    timeout: 2s
    env: {PGHOST: db1, EMPTY: ""}
  abs: {exec: [/usr/bin/true], dir: /tmp}
  rel: {exec: [true], dir: scripts}
metrics:
  lag: lag:replica_lag_seconds{db="main"}
  code: {source: lag, select: exit_code}
rules:
  - lag > 30 => drain
`), "conf/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	confDir, _ := filepath.Abs("conf")
	lag := f.Source("lag")
	want := &ExecConfig{Argv: []string{"./check-lag", "--db", "main db", "$HOME"}, Env: []string{"PGHOST=db1", "EMPTY="}, Dir: confDir}
	if lag.Kind != KindExec || !reflect.DeepEqual(lag.Config, want) || lag.Timeout != 2*time.Second {
		t.Errorf("lag = %+v, exec %+v; want exec %+v", lag, lag.Config, want)
	}
	if d := f.Source("abs").Config.(*ExecConfig).Dir; d != "/tmp" {
		t.Errorf("abs dir = %q", d)
	}
	if d := f.Source("rel").Config.(*ExecConfig).Dir; d != filepath.Join(confDir, "scripts") {
		t.Errorf("rel dir = %q", d)
	}
}

// TestProbeExecErrors: each problem at the key at fault.
func TestProbeExecErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"two kinds", "{http: http://a/h, exec: [x]}", `x.yaml:3:24: source "s": both http and exec given: a source has one of them`},
		{"bad URL", "{http: 'ftp://a/h'}", `x.yaml:3:12: source "s": http: bad URL "ftp://a/h": want an absolute http:// or https:// URL`},
		{"bad method", "{http: http://a/h, method: 'GE T'}", `x.yaml:3:32: source "s": method "GE T": want an HTTP method such as GET, HEAD or POST`},
		{"header value", "{http: http://a/h, headers: {X-A: \"a\\nb\"}}", `x.yaml:3:39: source "s": headers: X-A: the value holds a control character (newline, tab...)`},
		{"header name", "{http: http://a/h, headers: {'X A': b}}", `x.yaml:3:34: source "s": headers: bad header name "X A"`},
		{"status code", "{http: http://a/h, valid_status_codes: [200, 99]}", `x.yaml:3:50: source "s": valid_status_codes: want HTTP statuses from 100 to 599, got "99"`},
		{"no status codes", "{http: http://a/h, valid_status_codes: []}", `x.yaml:3:24: source "s": valid_status_codes: the list is empty: leave the key out for any 2xx`},
		{"json reserved name", "{http: http://a/h, json: {success: a.b}}", `x.yaml:3:31: source "s": json: "success" names a series every probe has (success, status_code, duration_seconds); pick another name`},
		{"json bad name", "{http: http://a/h, json: {1lag: a.b}}", `x.yaml:3:31: source "s": json: bad field name "1lag": want letters, digits and _, not starting with a digit (it names a series)`},
		{"json empty path", "{http: http://a/h, json: {lag: ''}}", `x.yaml:3:36: source "s": json: lag: empty path: want one such as replication.lag_seconds`},
		{"probe key on scrape", "{scrape: http://a/m, json: {lag: a}}", `x.yaml:3:26: source "s": json applies to http sources only`},
		{"exec key on http", "{http: http://a/h, env: {A: b}}", `x.yaml:3:24: source "s": env applies to exec sources only`},
		{"exec as a string", "{exec: check-lag --db main}", `x.yaml:3:12: source "s": exec: want a list [PROGRAM, ARG...], not "check-lag --db main": no shell splits or expands it, so each argument is an item`},
		{"exec empty", "{exec: []}", `x.yaml:3:6: source "s": exec: the list is empty: want [PROGRAM, ARG...]`},
		{"exec empty program", "{exec: ['', a]}", `x.yaml:3:13: source "s": exec: the program is empty`},
		{"exec list in list", "{exec: [a, [b]]}", `x.yaml:3:16: source "s": exec: want a string, got a list`},
		{"exec HTTP setting", "{exec: [a], basic_auth: {username: a}}", `x.yaml:3:17: source "s": unknown key "basic_auth" (want one of exec, timeout, env, dir)`},
		{"exec unknown key", "{exec: [a], dri: /tmp}", `x.yaml:3:17: source "s": unknown key "dri" (want one of exec, timeout, env, dir)`},
		{"exec body_limit", "{exec: [a], body_limit: 1MiB}", `x.yaml:3:17: source "s": body_limit applies to scrape and http sources only`},
		{"env name", "{exec: [a], env: {'A-B': c}}", `x.yaml:3:23: source "s": env: bad variable name "A-B": want letters, digits and _, not starting with a digit`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte("sources:\n  s:\n    "+tc.src+"\nrules: []\n"), "x.yaml")
			if err == nil {
				t.Fatalf("Parse loaded the file; want %s", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Parse:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}

// TestProbeExecMetricErrors: metrics of http and exec sources take a
// selector, as a scraped page's do.
func TestProbeExecMetricErrors(t *testing.T) {
	const head = "sources:\n  h: {http: http://a/h}\n  e: {exec: [a]}\nmetrics:\n"
	for _, tc := range []struct{ metric, want string }{
		{"  m: {source: h, query: up}\n", `x.yaml:5:25: metric "m": query is for prometheus sources; an http source takes select: with a series selector`},
		{"  m: {source: e, query: up}\n", `x.yaml:5:25: metric "m": query is for prometheus sources; an exec source takes select: with a series selector`},
		{"  m: 'h:success{'\n", `x.yaml:5:`},
	} {
		_, err := Parse([]byte(head+tc.metric+"rules: []\n"), "x.yaml")
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %s", tc.metric, err, tc.want)
		}
	}
}
