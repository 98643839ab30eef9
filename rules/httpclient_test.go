package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/haproxy-agent/agent/internal/testutil"
)

// TestHTTPClientBuiltAtLoad checks that a file loads only when the HTTP
// clients that serve builds from its sources can be built, and that every
// refusal names the key at fault with its position.
func TestHTTPClientBuiltAtLoad(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := testutil.SelfSignedCert(t, dir)
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("password", "pw\n")
	write("notpem.pem", "this is not a certificate\n")
	path := filepath.Join(dir, "rules.yaml")
	const head = "sources:\n  prom:\n    prometheus: http://127.0.0.1:9090\n"
	for _, tc := range []struct{ name, http, want string }{
		{"relative password_file", "    basic_auth:\n      username: a\n      password_file: password\n", ""},
		{"absolute ca_file, cert and key", "    tls_config:\n      ca_file: " + certFile + "\n      cert_file: cert.pem\n      key_file: " + keyFile + "\n", ""},
		{"inline ca", "    tls_config:\n      ca: |\n" + indent(readFile(t, certFile), "        "), ""},
		{"missing ca_file", "    tls_config:\n      ca_file: nosuch.pem\n",
			`:5:7: source "prom": tls_config.ca_file: open ` + filepath.Join(dir, "nosuch.pem") + `: no such file or directory`},
		{"ca_file not PEM", "    tls_config:\n      ca_file: notpem.pem\n",
			`:5:7: source "prom": tls_config.ca_file: no PEM certificate in ` + filepath.Join(dir, "notpem.pem")},
		{"bad inline ca", "    tls_config:\n      ca: not a certificate\n",
			`:5:7: source "prom": tls_config.ca: no PEM certificate`},
		{"missing password_file", "    basic_auth:\n      username: a\n      password_file: nosuch\n",
			`:6:7: source "prom": basic_auth.password_file: open ` + filepath.Join(dir, "nosuch") + `: no such file or directory`},
		{"password_file a directory", "    basic_auth:\n      username: a\n      password_file: .\n",
			`:6:7: source "prom": basic_auth.password_file: ` + dir + `: not a regular file (a directory)`},
		{"missing bearer_token_file", "    bearer_token_file: nosuch\n",
			`:4:5: source "prom": bearer_token_file: open ` + filepath.Join(dir, "nosuch") + `: no such file or directory`},
		{"missing header file", "    http_headers:\n      X-Token:\n        files: [password, nosuch]\n",
			`:6:27: source "prom": http_headers.X-Token.files: open ` + filepath.Join(dir, "nosuch") + `: no such file or directory`},
		{"header files", "    http_headers:\n      X-Token:\n        files: [password]\n", ""},
		{"cert without its key", "    tls_config:\n      cert_file: cert.pem\n      key_file: notpem.pem\n",
			`:5:7: source "prom": tls_config.cert_file: `},
		{"oauth2 tls_config", "    oauth2:\n      client_id: a\n      client_secret: b\n      token_url: http://127.0.0.1/t\n      tls_config:\n        ca_file: notpem.pem\n",
			`:9:9: source "prom": oauth2.tls_config.ca_file: no PEM certificate in ` + filepath.Join(dir, "notpem.pem")},
		{"secret ref", "    basic_auth:\n      username: a\n      password_ref: pw\n",
			`:6:7: source "prom": basic_auth.password_ref: secret references need a secret manager, which the agent does not have: use password_file or password`},
		{"proxy_url file", "    proxy_url: file:///x\n",
			`:4:16: source "prom": proxy_url: scheme "file" is not supported: want http, https or socks5`},
		{"proxy_url socks5", "    proxy_url: socks5://127.0.0.1:1080\n", ""},
		{"proxy_url without host", "    proxy_url: http://\n",
			`:4:16: source "prom": proxy_url: no host`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := []byte(head + tc.http + "metrics:\n  up: prom:up\nrules:\n  - up < 1 => drain\n")
			_, err := Parse(data, path)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Parse: %v", err)
			case tc.want == "":
			case err == nil:
				t.Fatalf("Parse loaded the file; want %s", tc.want)
			case !strings.HasPrefix(err.Error(), path+tc.want):
				t.Errorf("Parse:\n got %v\nwant %s%s", err, path, tc.want)
			}
		})
	}
}

// TestHTTPFilesFromTheRuleFilesDirectory checks that Parse, the load of
// serve and reload, takes relative file names from the rule file's
// directory, not from the working directory.
func TestHTTPFilesFromTheRuleFilesDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "password"), []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rules.yaml")
	data := []byte("sources:\n  a:\n    scrape: http://127.0.0.1:1/m\n    basic_auth:\n      username: u\n      password_file: password\nrules: []\n")
	f, err := Parse(data, path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Source("a").Config.(*ScrapeConfig).HTTP.BasicAuth.PasswordFile, filepath.Join(dir, "password"); got != want {
		t.Errorf("password_file = %q, want %q", got, want)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func indent(text, pfx string) string {
	lines := strings.SplitAfter(strings.TrimSuffix(text, "\n"), "\n")
	return pfx + strings.Join(lines, pfx) + "\n"
}
