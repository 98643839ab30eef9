package rules

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/config"
)

// TestHTTPConfigErrors checks where and how the HTTP settings of a source
// are refused: each problem at the key at fault.
func TestHTTPConfigErrors(t *testing.T) {
	const head = "sources:\n  p:\n    scrape: http://127.0.0.1:1/m\n"
	for _, tc := range []struct{ name, http, want string }{
		{"unknown top key", "    basic_auht: {username: a}\n",
			`x.yaml:4:5: source "p": unknown key "basic_auht"; did you mean "basic_auth"?`},
		{"unknown top key, no suggestion", "    zzz: 1\n",
			`x.yaml:4:5: source "p": unknown key "zzz" (want one of scrape, prometheus, http, exec, haproxy, timeout, body_limit, max_concurrency, method, headers, body, valid_status_codes, json, env, dir, basic_auth, `},
		{"unknown nested", "    oauth2:\n      client_id: a\n      token_url: http://x/t\n      tls_config:\n        insecure_skip_verfy: true\n",
			`x.yaml:8:9: source "p": unknown key "insecure_skip_verfy" in tls_config; did you mean "insecure_skip_verify"?`},
		{"unknown in a header", "    http_headers:\n      X-Team:\n        valuez: [a]\n",
			`x.yaml:6:9: source "p": unknown key "valuez" in X-Team; did you mean "values"?`},
		{"wrong type, deep", "    tls_config:\n      insecure_skip_verify: maybe\n",
			"x.yaml:5:7: source \"p\": tls_config.insecure_skip_verify: cannot unmarshal !!str `maybe` into bool"},
		{"a mapping wanted, deep", "    oauth2:\n      client_id: a\n      token_url: http://x/t\n      tls_config: [a]\n",
			`x.yaml:7:19: source "p": oauth2.tls_config: want a mapping, got a list`},
		{"wrong type, top", "    follow_redirects: [a]\n",
			`x.yaml:4:5: source "p": follow_redirects: cannot unmarshal !!seq into bool`},
		{"a mapping wanted", "    tls_config: 5\n",
			`x.yaml:4:17: source "p": tls_config: want a mapping, got "5"`},
		{"conflict inside tls_config", "    tls_config:\n      ca: a\n      ca_file: b\n",
			`x.yaml:4:5: source "p": tls_config: at most one of ca, ca_file & ca_ref must be configured`},
		{"conflict between keys", "    bearer_token: a\n    bearer_token_file: b\n",
			`x.yaml:2:3: source "p": at most one of bearer_token & bearer_token_file must be configured`},
		{"bad proxy_url", "    proxy_url: '%zz'\n",
			`x.yaml:4:5: source "p": proxy_url: parse "%zz": invalid URL escape "%zz"`},
		{"duplicate nested key", "    tls_config:\n      server_name: a\n      server_name: b\n",
			`x.yaml:6:7: source "p": duplicate key "server_name" (first at 5:7)`},
		{"merge key", "    tls_config:\n      <<: {server_name: a}\n",
			`x.yaml:5:7: source "p": YAML merge keys (<<) are not supported`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(head+tc.http+"rules: []\n"), "x.yaml")
			if err == nil {
				t.Fatalf("Parse loaded the file; want %s", tc.want)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Parse:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}

// TestHTTPConfigDecoded checks that settings decode into Prometheus' type
// as Prometheus decodes them: defaults, aliases, bearer_token moved by
// Validate, free-form header names.
func TestHTTPConfigDecoded(t *testing.T) {
	data := `sources:
  a:
    scrape: http://127.0.0.1:1/m
    bearer_token: tok
    tls_config: &tls
      server_name: example
      min_version: TLS12
    http_headers:
      X-Any-Name:
        values: [v]
  b:
    prometheus: http://127.0.0.1:1
    follow_redirects: false
    tls_config: *tls
rules: []
`
	f, err := Parse([]byte(data), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, b := f.Source("a").Config.(*ScrapeConfig).HTTP, f.Source("b").Config.(*PrometheusConfig).HTTP
	if a.Authorization == nil || a.Authorization.Type != "Bearer" || string(a.Authorization.Credentials) != "tok" || a.BearerToken != "" {
		t.Errorf("a: bearer_token not moved to authorization: %+v", a.Authorization)
	}
	if !a.FollowRedirects || !a.EnableHTTP2 || b.FollowRedirects || !b.EnableHTTP2 {
		t.Errorf("defaults: a %v %v, b %v %v", a.FollowRedirects, a.EnableHTTP2, b.FollowRedirects, b.EnableHTTP2)
	}
	if a.TLSConfig.ServerName != "example" || b.TLSConfig != a.TLSConfig || a.TLSConfig.MinVersion != config.TLSVersions["TLS12"] {
		t.Errorf("tls_config: a %+v, b %+v", a.TLSConfig, b.TLSConfig)
	}
	if h := a.HTTPHeaders; h == nil || !slices.Equal(h.Headers["X-Any-Name"].Values, []string{"v"}) {
		t.Errorf("http_headers = %+v", h)
	}
}

// TestHTTPVocabulary checks the suggestion words against Prometheus' type:
// every word is a key there, and every key there is a word. Only this test
// reads the type's tags; the parser asks the YAML library.
func TestHTTPVocabulary(t *testing.T) {
	var fromType []string
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Map || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] {
			return
		}
		seen[t] = true
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name != "" && name != "-" {
				fromType = append(fromType, name)
			}
			if name != "-" && (name != "" || opts == "inline") {
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeFor[config.HTTPClientConfig]())
	for _, k := range fromType {
		if !slices.Contains(httpVocabulary, k) {
			t.Errorf("http_config key %q is missing from httpVocabulary", k)
		}
	}
	for _, w := range httpVocabulary {
		if !slices.Contains(fromType, w) {
			t.Errorf("httpVocabulary has %q, which http_config does not", w)
		}
	}
	var pr httpProbe
	if got := pr.candidates(nil); !slices.Contains(got, "basic_auth") || slices.Contains(got, "ca_file") {
		t.Errorf("top-level candidates = %v", got)
	}
	if got := pr.candidates([]string{"tls_config"}); !slices.Contains(got, "ca_file") || slices.Contains(got, "basic_auth") {
		t.Errorf("tls_config candidates = %v", got)
	}
}
