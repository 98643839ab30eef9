package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"

	"github.com/haproxy-agent/agent/examples"
)

// Name is the package's name, and the name of everything it installs: the
// binary /usr/bin/haproxy-agent, the unit haproxy-agent.service, its user,
// /etc/haproxy-agent, /etc/default/haproxy-agent, /var/lib/haproxy-agent.
// A generic /usr/bin/agent would claim a name any other product could want.
const Name = "haproxy-agent"

// Config is what one package is built from.
type Config struct {
	// Version is the package version: semver, with or without a leading v.
	Version string
	// Arch is the Go architecture of Binary.
	Arch string
	// Binary is the agent binary to install.
	Binary string
	// Root is the repository root: packaging/deb, README.md, LICENSE, NOTICE.
	Root string
	// OutDir is where the .deb is written.
	OutDir string
}

// rulesHeader heads /etc/haproxy-agent/rules.yaml, above the built-in
// host rules.
const rulesHeader = `# Rule file of haproxy-agent.service (see /etc/default/haproxy-agent).
# As installed, it is the built-in host rules, the ones ` + "`haproxy-agent serve`" + `
# runs without --rules. Edit it, then check it with
#   haproxy-agent check /etc/haproxy-agent/rules.yaml
# The agent reloads it when it changes (and on systemctl reload haproxy-agent).
#
`

// RulesFile is the content of the rules.yaml conffile.
func RulesFile() []byte {
	return append([]byte(rulesHeader), examples.DefaultRules...)
}

// Build writes the package into c.OutDir and returns its path.
func Build(c Config) (string, error) {
	if c.Version == "" || c.Binary == "" {
		return "", errors.New("-version and -binary are required")
	}
	if _, err := os.Stat(c.Binary); err != nil {
		return "", fmt.Errorf("binary: %w", err)
	}
	tmp, err := os.MkdirTemp("", "mkdeb")
	if err != nil {
		return "", fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	rules := filepath.Join(tmp, "rules.yaml")
	if err := os.WriteFile(rules, RulesFile(), 0o644); err != nil {
		return "", fmt.Errorf("rules.yaml: %w", err)
	}

	pkg := filepath.Join(c.Root, "packaging", "deb")
	mode := func(m os.FileMode) *files.ContentFileInfo {
		return &files.ContentFileInfo{Owner: "root", Group: "root", Mode: m}
	}
	info := nfpm.WithDefaults(&nfpm.Info{
		Name:        Name,
		Arch:        c.Arch,
		Platform:    "linux",
		Version:     strings.TrimPrefix(c.Version, "v"),
		Section:     "net",
		Priority:    "optional",
		Maintainer:  "The agent Authors <agent@haproxy-agent.invalid>",
		Homepage:    "https://github.com/haproxy-agent/agent",
		License:     "Apache-2.0",
		Description: "rule-driven HAProxy agent-check agent\nAnswers HAProxy's agent checks (ready, drain, down, a weight) from rules\non metrics: PromQL, a scraped /metrics page, or the host's own counters.",
		Overridables: nfpm.Overridables{
			Depends: []string{"passwd"},
			Contents: files.Contents{
				{Source: c.Binary, Destination: "/usr/bin/" + Name, FileInfo: mode(0o755)},
				{Source: filepath.Join(pkg, Name+".service"), Destination: "/usr/lib/systemd/system/" + Name + ".service", FileInfo: mode(0o644)},
				{Source: filepath.Join(pkg, Name+".default"), Destination: "/etc/default/" + Name, Type: files.TypeConfig, FileInfo: mode(0o644)},
				{Source: rules, Destination: "/etc/" + Name + "/rules.yaml", Type: files.TypeConfig, FileInfo: mode(0o644)},
				{Source: filepath.Join(c.Root, "README.md"), Destination: "/usr/share/doc/" + Name + "/README.md", FileInfo: mode(0o644)},
				{Source: filepath.Join(c.Root, "NOTICE"), Destination: "/usr/share/doc/" + Name + "/NOTICE", FileInfo: mode(0o644)},
				{Source: filepath.Join(c.Root, "LICENSE"), Destination: "/usr/share/doc/" + Name + "/copyright", FileInfo: mode(0o644)},
			},
			Scripts: nfpm.Scripts{
				PostInstall: filepath.Join(pkg, "postinst"),
				PreRemove:   filepath.Join(pkg, "prerm"),
				PostRemove:  filepath.Join(pkg, "postrm"),
			},
		},
	})
	var buf bytes.Buffer
	if err := deb.Default.Package(info, &buf); err != nil {
		return "", fmt.Errorf("package: %w", err)
	}
	if err := os.MkdirAll(c.OutDir, 0o755); err != nil {
		return "", fmt.Errorf("output directory: %w", err)
	}
	out := filepath.Join(c.OutDir, deb.Default.ConventionalFileName(info))
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("write: %w", err)
	}
	return out, nil
}
