package rules

import "testing"

// TestProblemsKeepPartOrderThroughAliases pins the order of two problems
// at one place, a node that a YAML alias makes part of a source and of a
// metric: the source's, checked first, comes first. Decoding the whole
// file before checking any of it would report the metric's first: each
// part is decoded when the check reaches it (see fileDoc).
func TestProblemsKeepPartOrderThroughAliases(t *testing.T) {
	data := []byte(`sources:
  app: {scrape: &u [1]}
metrics:
  m: *u
rules: []
`)
	_, err := Parse(data, "alias.yaml")
	want := `alias.yaml:2:17: source "app": scrape: want a single value, got a list
alias.yaml:2:17: metric "m": want SOURCE:SELECTOR or a mapping with source and select or query, not a list`
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
}

// TestProblemsKeepRuleOrderThroughAliases pins the order of the problems
// of a rule used twice through an alias: those of the first use, then
// those of the second, at each place.
func TestProblemsKeepRuleOrderThroughAliases(t *testing.T) {
	data := []byte(`metrics:
  cpu: host:cpu
rules:
  - &r {nme: x, when: cpu > 1}
  - *r
`)
	_, err := Parse(data, "alias.yaml")
	want := `alias.yaml:4:5: rule 1: name is required in the mapping form
alias.yaml:4:5: rule 1: needs then: (an action such as drain) or weight: (an expression computing a percent)
alias.yaml:4:5: rule 2: name is required in the mapping form
alias.yaml:4:5: rule 2: needs then: (an action such as drain) or weight: (an expression computing a percent)
alias.yaml:4:9: rule 1: unknown key "nme"; did you mean "name"?
alias.yaml:4:9: rule 2: unknown key "nme"; did you mean "name"?`
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
}
