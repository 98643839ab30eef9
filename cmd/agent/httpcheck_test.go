package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/internal/testutil"
)

// TestCheckRefusesWhatServeRefuses gives `agent check` and `agent serve`
// sources whose HTTP clients cannot be built: both refuse the file, and
// both name the key at fault with its position.
func TestCheckRefusesWhatServeRefuses(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notpem.pem"), []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, http, want string }{
		{"missing ca_file", "    tls_config:\n      ca_file: nosuch.pem\n", ":6:7: source \"p\": tls_config.ca_file: open "},
		{"ca_file not PEM", "    tls_config:\n      ca_file: notpem.pem\n", ":6:7: source \"p\": tls_config.ca_file: no PEM certificate"},
		{"bad inline ca", "    tls_config:\n      ca: nope\n", ":6:7: source \"p\": tls_config.ca: no PEM certificate"},
		{"missing password_file", "    basic_auth:\n      username: u\n      password_file: nosuch\n", ":7:7: source \"p\": basic_auth.password_file: open "},
		{"proxy_url file", "    proxy_url: file:///x\n", ":5:16: source \"p\": proxy_url: scheme \"file\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml")
			content := "interval: 1s\nsources:\n  p:\n    scrape: http://127.0.0.1:1/metrics\n" + tc.http +
				"metrics:\n  m: p:m\nrules:\n  - m > 1 => drain\n"
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			want := path + tc.want
			code, out, errOut := agent(t, "check", path)
			if code != exitFailure || !strings.Contains(out+errOut, want) {
				t.Errorf("check: exit %d, want 1 and %q:\n%s%s", code, want, out, errOut)
			}
			// serve logs the error in logfmt, quotes escaped. A serve that
			// loads the file is stopped after a while.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var serveOut strings.Builder
			code = run(ctx, []string{"serve", "--rules", path, "--listen", fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)),
				"--web.listen-address", fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))}, &serveOut, &serveOut)
			if quoted := strconv.Quote(want); code != exitFailure || !strings.Contains(serveOut.String(), quoted[1:len(quoted)-1]) {
				t.Errorf("serve: exit %d, want 1 and %q:\n%s", code, want, serveOut.String())
			}
		})
	}
}
