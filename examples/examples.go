// Package examples holds the example rule files. The suite checks every one
// of them, and the agent embeds host.yaml as its default rule file.
package examples

import _ "embed"

// DefaultRules is the rule file `agent serve` runs when no --rules is given:
// it reads only the host's own metrics, so it needs no server.
//
//go:embed host.yaml
var DefaultRules []byte

// DefaultRulesName is the name DefaultRules carries in messages.
const DefaultRulesName = "<built-in host.yaml>"
