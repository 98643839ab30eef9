// Package statuspage serves the agent's status page for people: per
// service (or fleet server) the reply and why in plain words, every rule
// with its state and the values it saw, the sources' health, the operator
// overrides, the last reply changes, and small SVG charts of every metric
// and of the weight sent over the last hour.
//
// The page is rendered on the server with html/template from embedded
// files: no JavaScript, nothing fetched from elsewhere. Everything that
// comes from a rule file or a metric label is escaped by the template.
// The package knows nothing of the agent's loop: the agent hands it a Page
// per request and feeds a History once per cycle.
package statuspage
