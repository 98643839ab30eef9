// Command mkdeb builds the Debian package of the agent with nfpm, used as a
// library so that no packaging tool is downloaded at build time.
// scripts/release runs it once per architecture:
//
//	go run ./internal/cmd/mkdeb -version 1.2.3 -arch amd64 -binary dist/.../agent -out dist
//
// The package installs the binary as /usr/bin/haproxy-agent, the systemd
// unit and maintainer scripts of packaging/deb, /etc/default/haproxy-agent
// and /etc/haproxy-agent/rules.yaml (conffiles), the latter a copy of the
// built-in host rules. It prints the path of the .deb it wrote.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	var c Config
	flag.StringVar(&c.Version, "version", "", "package version (semver, a leading v is dropped)")
	flag.StringVar(&c.Arch, "arch", "amd64", "Go architecture of the binary (amd64, arm64)")
	flag.StringVar(&c.Binary, "binary", "", "the agent binary to install")
	flag.StringVar(&c.Root, "root", ".", "repository root (packaging/deb, README.md, LICENSE, NOTICE)")
	flag.StringVar(&c.OutDir, "out", "dist", "directory to write the .deb in")
	flag.Parse()
	path, err := Build(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkdeb:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}
