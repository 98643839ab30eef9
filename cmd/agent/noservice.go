package main

import (
	"fmt"
	"strings"

	"github.com/haproxy-agent/agent/rules"
)

// noService says that the rule file at path has no service name, and what
// to give instead: the services it has, or --server for a fleet file (whose
// servers are not services).
func noService(f *rules.File, path, name string) string {
	if f.Fleet != nil {
		return fmt.Sprintf("%s is a fleet file: name a server with --server, not --service", path)
	}
	names := make([]string, len(f.Services))
	for i, s := range f.Services {
		names[i] = fmt.Sprintf("%q", s.Name)
	}
	return fmt.Sprintf("%s has no service %q (its services: %s)", path, name, strings.Join(names, ", "))
}
