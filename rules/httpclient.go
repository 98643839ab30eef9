package rules

import (
	"path/filepath"
	"slices"
	"strings"

	"github.com/prometheus/common/config"
	"go.yaml.in/yaml/v3"

	"github.com/haproxy-agent/agent/internal/fileio"
	"github.com/haproxy-agent/agent/internal/yamlnode"
)

// MaxHTTPFileSize caps a file that a source's HTTP settings name
// (password_file, ca_file...), read at load to check it.
const MaxHTTPFileSize = 4 << 20

// proxySchemes are the proxy_url schemes Go's HTTP transport can use.
var proxySchemes = []string{"http", "https", "socks5", "socks5h"}

// httpClient checks, at load, that serve can build the HTTP client of
// source s from its settings (src, the source's mapping, gives positions):
// every file they name can be read, from the rule file's directory when
// relative; a CA parses; proxy_url is a proxy; and prometheus/common's
// constructor, the one serve calls, succeeds. Each problem is reported at
// the key at fault.
func (p *parser) httpClient(h *config.HTTPClientConfig, src *yaml.Node, ctx string) {
	if !p.httpFiles(src, "", ctx, 0) {
		return
	}
	ok := p.proxyURL(*h, src, ctx)
	_, tn := yamlnode.Find(src, "tls_config")
	ok = p.tlsConfig(h.TLSConfig, tn, "tls_config.", ctx) && ok
	if h.OAuth2 != nil {
		_, on := yamlnode.Find(src, "oauth2")
		_, tn := yamlnode.Find(on, "tls_config")
		ok = p.tlsConfig(h.OAuth2.TLSConfig, tn, "oauth2.tls_config.", ctx) && ok
	}
	if !ok {
		return
	}
	if _, err := config.NewClientFromConfig(*h, "agent"); err != nil {
		at := firstHTTPKey(src)
		p.errorf(at, ctx, "http client: %v", err)
	}
}

// httpFiles reads every file named under n (keys ending in _file, and the
// files of http_headers) as serve would, and refuses secret references,
// which need a secret manager. path is n's key path, with a trailing dot.
func (p *parser) httpFiles(n *yaml.Node, path, ctx string, depth int) bool {
	n = yamlnode.Deref(n)
	if n == nil || n.Kind != yaml.MappingNode || depth > 4 {
		return true
	}
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], yamlnode.Deref(n.Content[i+1])
		name := path + k.Value
		switch {
		case v == nil:
		case v.Kind == yaml.ScalarNode && v.Value != "" && strings.HasSuffix(k.Value, "_file"):
			ok = p.httpFile(k, v.Value, name, ctx) && ok
		case v.Kind == yaml.ScalarNode && v.Value != "" && strings.HasSuffix(k.Value, "_ref"):
			base := strings.TrimSuffix(k.Value, "_ref")
			p.errorf(k, ctx, "%s: secret references need a secret manager, which the agent does not have: use %s_file or %s", name, base, base)
			ok = false
		case v.Kind == yaml.SequenceNode && k.Value == "files" && strings.HasPrefix(path, "http_headers.") && depth == 2:
			for _, f := range v.Content {
				if f = yamlnode.Deref(f); f != nil && f.Kind == yaml.ScalarNode && f.Value != "" {
					ok = p.httpFile(f, f.Value, name, ctx) && ok
				}
			}
		case v.Kind == yaml.MappingNode:
			ok = p.httpFiles(v, name+".", ctx, depth+1) && ok
		}
	}
	return ok
}

// httpFile reads the file a source's setting names, taken from the rule
// file's directory when relative, and reports at at why it cannot be read.
func (p *parser) httpFile(at *yaml.Node, file, name, ctx string) bool {
	if _, err := fileio.ReadFile(config.JoinDir(p.dir(), file), MaxHTTPFileSize); err != nil {
		p.errorf(at, ctx, "%s: %v", name, err)
		return false
	}
	return true
}

// proxyURL checks that proxy_url, when given, names a proxy the transport
// can use.
func (p *parser) proxyURL(c config.HTTPClientConfig, src *yaml.Node, ctx string) bool {
	u := c.ProxyURL.URL
	if u == nil {
		return true
	}
	_, at := yamlnode.Find(src, "proxy_url")
	if at == nil {
		at = firstHTTPKey(src)
	}
	switch {
	case !slices.Contains(proxySchemes, u.Scheme):
		p.errorf(at, ctx, "proxy_url: scheme %q is not supported: want http, https or socks5", u.Scheme)
	case u.Host == "":
		p.errorf(at, ctx, "proxy_url: no host")
	default:
		return true
	}
	return false
}

// tlsConfig builds tc as serve does, reporting a CA that does not parse at
// its key (ca or ca_file), and any other failure at the client
// certificate's key or else at tls_config. n is the tls_config mapping;
// path names it in messages, with a trailing dot.
func (p *parser) tlsConfig(tc config.TLSConfig, n *yaml.Node, path, ctx string) bool {
	if n == nil {
		return true
	}
	ca := config.TLSConfig{CA: tc.CA, CAFile: tc.CAFile}
	if _, err := config.NewTLSConfig(&ca); err != nil {
		if k, _ := yamlnode.Find(n, "ca_file"); k != nil {
			p.errorf(k, ctx, "%sca_file: no PEM certificate in %s", path, tc.CAFile)
		} else if k, _ := yamlnode.Find(n, "ca"); k != nil {
			p.errorf(k, ctx, "%sca: no PEM certificate", path)
		} else {
			p.errorf(n, ctx, "%s %v", strings.TrimSuffix(path, "."), err)
		}
		return false
	}
	if _, err := config.NewTLSConfig(&tc); err != nil {
		at, name := n, strings.TrimSuffix(path, ".")
		for _, key := range []string{"cert_file", "cert"} {
			if k, _ := yamlnode.Find(n, key); k != nil {
				at, name = k, path+key
				break
			}
		}
		p.errorf(at, ctx, "%s: %v", name, err)
		return false
	}
	return true
}

// firstHTTPKey returns the first key of the source's mapping src that is
// not one of the agent's own (scrape, timeout...): where an error of the
// HTTP settings as a whole is reported.
func firstHTTPKey(src *yaml.Node) *yaml.Node {
	src = yamlnode.Deref(src)
	for i := 0; i+1 < len(src.Content); i += 2 {
		if k := src.Content[i]; !slices.Contains(sourceKeys(), k.Value) {
			return k
		}
	}
	return src
}

// dir returns the directory relative file names of the file are taken
// from: the rule file's own.
func (p *parser) dir() string {
	return filepath.Dir(p.file)
}
