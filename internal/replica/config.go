package replica

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"
)

// ClientConfig is the content of --etcd.config.file: how to reach etcd
// securely, in the style of --web.config.file.
type ClientConfig struct {
	// TLSConfig is the client TLS: the CA that signed etcd's certificate,
	// and a client certificate when etcd asks for one.
	TLSConfig *config.TLSConfig `yaml:"tls_config"`
	// Username and Password (or PasswordFile) log in to etcd's own auth.
	Username     string        `yaml:"username"`
	Password     config.Secret `yaml:"password"`
	PasswordFile string        `yaml:"password_file"`
}

// LoadClientConfig reads an etcd client configuration file. Relative file
// names in it are taken from the file's directory.
func LoadClientConfig(path string) (*ClientConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("etcd config file: %w", err)
	}
	c := &ClientConfig{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && err.Error() != "EOF" {
		return nil, fmt.Errorf("etcd config file %s: %w", path, err)
	}
	if c.Password != "" && c.PasswordFile != "" {
		return nil, fmt.Errorf("etcd config file %s: password and password_file are mutually exclusive", path)
	}
	if c.PasswordFile != "" && c.Username == "" || c.Password != "" && c.Username == "" {
		return nil, fmt.Errorf("etcd config file %s: a password needs a username", path)
	}
	dir := filepath.Dir(path)
	if c.TLSConfig != nil {
		c.TLSConfig.SetDirectory(dir)
	}
	if c.PasswordFile != "" && !filepath.IsAbs(c.PasswordFile) {
		c.PasswordFile = filepath.Join(dir, c.PasswordFile)
	}
	return c, nil
}

// tls returns the client TLS configuration, or nil without tls_config.
func (c *ClientConfig) tls() (*tls.Config, error) {
	if c == nil || c.TLSConfig == nil {
		return nil, nil
	}
	t, err := config.NewTLSConfig(c.TLSConfig)
	if err != nil {
		return nil, fmt.Errorf("etcd tls_config: %w", err)
	}
	return t, nil
}

// password returns the password, read from password_file if set.
func (c *ClientConfig) password() (string, error) {
	if c == nil {
		return "", nil
	}
	if c.PasswordFile == "" {
		return string(c.Password), nil
	}
	b, err := os.ReadFile(c.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("etcd password_file: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
