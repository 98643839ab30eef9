package replica

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadClientConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("secret", "s3cret\n")
	good := write("good.yml", "tls_config:\n  ca_file: ca.pem\n  server_name: etcd.example\nusername: agent\npassword_file: secret\n")
	c, err := LoadClientConfig(good)
	if err != nil {
		t.Fatal(err)
	}
	if c.Username != "agent" || c.PasswordFile != filepath.Join(dir, "secret") {
		t.Errorf("config %+v: relative password_file not taken from the file's directory", c)
	}
	if p, err := c.password(); err != nil || p != "s3cret" {
		t.Errorf("password %q, %v; want the file's first line", p, err)
	}
	if _, err := c.tls(); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "ca.pem")) {
		t.Errorf("a missing ca_file: %v, want an error naming it from the file's directory", err)
	}
	for name, body := range map[string]string{
		"unknown key":    "tls_confg: {}\n",
		"both passwords": "username: a\npassword: x\npassword_file: secret\n",
		"no username":    "password: x\n",
	} {
		if _, err := LoadClientConfig(write("bad.yml", body)); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
}
