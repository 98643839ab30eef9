package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// goodFiles are the files that must load: the good test files and the
// example rule files.
func goodFiles(t testing.TB) []string {
	t.Helper()
	good, err := filepath.Glob("testdata/*.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	examples, err := filepath.Glob("../examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return append(good, examples...)
}

func TestParseGood(t *testing.T) {
	files := goodFiles(t)
	if len(files) < 4 {
		t.Fatalf("found only %d good files", len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := ParseFile(path)
			if err != nil {
				t.Fatalf("ParseFile: %v", err)
			}
			checkInvariants(t, f)
		})
	}
}

// checkInvariants fails t when a loaded file breaks a promise of the types.
func checkInvariants(t testing.TB, f *File) {
	t.Helper()
	if len(f.Hash) != 64 {
		t.Errorf("Hash = %q, want 64 hex digits", f.Hash)
	}
	if f.Interval <= 0 || f.StaleAfter < f.Interval {
		t.Errorf("Interval %v, StaleAfter %v", f.Interval, f.StaleAfter)
	}
	if len(f.Sources) == 0 || f.Sources[0].Name != HostSource || f.Sources[0].Kind != KindHost {
		t.Errorf("Sources[0] is not the host source: %+v", f.Sources)
	}
	for _, s := range f.Sources {
		if s.Timeout <= 0 || s.Timeout > f.Interval && s.Kind != KindHost {
			t.Errorf("source %q: timeout %v", s.Name, s.Timeout)
		}
		if k := kindOf(s.Kind); k == nil || s.Config == nil {
			t.Errorf("source %q: kind %s with settings %v", s.Name, s.Kind, s.Config)
		}
	}
	for i, m := range f.Metrics {
		if m.Index != i {
			t.Errorf("Metrics[%d].Index = %d", i, m.Index)
		}
		src := f.Source(m.Source)
		if src == nil {
			t.Errorf("metric %q: source %q not found", m.Name, m.Source)
			continue
		}
		switch src.Kind {
		case KindScrape:
			if len(m.Matchers) == 0 {
				t.Errorf("metric %q: no matchers", m.Name)
			}
		case KindPrometheus:
			if m.Query == "" {
				t.Errorf("metric %q: no query", m.Name)
			}
		case KindHost:
			if !slices.Contains(HostMetrics, m.Selector) {
				t.Errorf("metric %q: host metric %q", m.Name, m.Selector)
			}
		}
	}
	if len(f.Services) == 0 || f.Services[0].Name != DefaultService {
		t.Fatalf("Services[0] is not the default service")
	}
	for _, s := range f.Services {
		maxconn := false
		for _, r := range s.Rules {
			if r.When == nil || r.Name == "" || r.Expr == "" {
				t.Errorf("service %q: rule %q: incomplete %+v", s.Name, r.Name, r)
			}
			if (r.Weight == nil) != (r.WeightExpr == "") || r.Weight != nil && r.Action.Weight != Unset {
				t.Errorf("rule %q: weight expression and action weight disagree", r.Name)
			}
			if r.Action.Weight < Unset || r.Action.Weight > MaxWeight || r.Action.Maxconn < Unset {
				t.Errorf("rule %q: action %+v out of range", r.Name, r.Action)
			}
			if hasControl(r.Name) || hasControl(r.Description) {
				t.Errorf("rule %q: control character in name or description", r.Name)
			}
			for j, n := range r.Needs {
				if n < 0 || n >= len(f.Metrics) || j > 0 && r.Needs[j-1] >= n {
					t.Errorf("rule %q: Needs %v not sorted indexes of metrics", r.Name, r.Needs)
				}
			}
			maxconn = maxconn || r.Action.Maxconn != Unset
		}
		if maxconn != s.UsesMaxconn {
			t.Errorf("service %q: UsesMaxconn = %v", s.Name, s.UsesMaxconn)
		}
	}
	d := f.Reply.Default
	if d.Op == NoOp || d.Admin == NoAdmin || d.Weight == Unset || d.Maxconn != Unset {
		t.Errorf("Reply.Default incomplete: %+v", d)
	}
	if f.Reply.MinWeight < 0 || f.Reply.MinWeight > MaxWeight || f.Reply.Maxconn < 0 || f.Reply.Maxconn > MaxMaxconn ||
		(f.Reply.RestoreFor > 0) == f.Reply.RestoreAlways || f.Reply.RestoreFor > MaxReplyDuration || f.Reply.Ramp < 0 || f.Reply.Ramp > MaxReplyDuration {
		t.Errorf("Reply out of range: %+v", f.Reply)
	}
}

func TestParseFull(t *testing.T) {
	f, err := ParseFile("testdata/full.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Interval != 2*time.Second || f.StaleAfter != 10*time.Second {
		t.Errorf("interval %v stale_after %v", f.Interval, f.StaleAfter)
	}
	app, prom := f.Source("app"), f.Source("prom")
	if app.Kind != KindScrape || app.Config.(*ScrapeConfig).BodyLimit != 1<<20 || app.Timeout != time.Second {
		t.Errorf("app = %+v", app)
	}
	pc := prom.Config.(*PrometheusConfig)
	if prom.Kind != KindPrometheus || prom.Timeout != 2*time.Second || pc.MaxConcurrency != 4 || pc.HTTP.FollowRedirects || pc.HTTP.Authorization == nil {
		t.Errorf("prom = %+v", prom)
	}
	if want, _ := filepath.Abs("testdata/token"); pc.HTTP.Authorization.CredentialsFile != filepath.Join("testdata", "token") && pc.HTTP.Authorization.CredentialsFile != want {
		t.Errorf("credentials_file = %q, want it under testdata", pc.HTTP.Authorization.CredentialsFile)
	}
	errs := f.Metric("errors")
	if errs.Aggregate != AggSum || !errs.Rate || errs.Index != 3 || len(errs.Matchers) != 2 {
		t.Errorf("errors = %+v", errs)
	}
	if m := f.Metric("up_count"); m.Query != "count(up)" || m.Source != "prom" {
		t.Errorf("up_count = %+v", m)
	}
	def := f.Services[0]
	if len(def.Rules) != 5 || def.UsesMaxconn {
		t.Fatalf("default service: %d rules, UsesMaxconn %v", len(def.Rules), def.UsesMaxconn)
	}
	r := def.Rules[2]
	if r.Name != "overloaded" || r.Action.Op != Down || r.For != 30*time.Second || r.KeepFiringFor != time.Minute ||
		r.OnMissing != Fire || r.Description != "cpu and queue both saturated" || len(r.Needs) != 2 || r.Needs[0] != 0 || r.Needs[1] != 1 {
		t.Errorf("overloaded = %+v", r)
	}
	if r := def.Rules[3]; r.WeightExpr != "100 * (1 - cpu)" || r.Weight == nil || r.Action.Weight != Unset {
		t.Errorf("shed-by-cpu = %+v", r)
	}
	if r := def.Rules[4]; r.Action.Admin != Maint || r.WeightExpr != "40" || r.OnMissing != Skip || len(r.Needs) != 2 {
		t.Errorf("fixed = %+v", r)
	}
	w := f.Service("worker")
	if w == nil || !w.UsesMaxconn || w.Rules[0].Action.Maxconn != 10 || w.Rules[0].Action.Weight != 25 {
		t.Errorf("worker = %+v", w)
	}
	if s := f.Service("api.v1"); s == nil || len(s.Rules) != 0 {
		t.Errorf("api.v1 = %+v", s)
	}
	want := Reply{Default: Action{Op: Up, Admin: Drain, Weight: 100, Maxconn: Unset}, MinWeight: 5, Maxconn: 100, RestoreFor: DefaultRestoreFor}
	if f.Reply != want {
		t.Errorf("Reply = %+v, want %+v", f.Reply, want)
	}
}

func TestParseDefaults(t *testing.T) {
	data := []byte("rules: []\n")
	f, err := Parse(data, "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != "x.yaml" || f.Interval != DefaultInterval || f.StaleAfter != 3*DefaultInterval {
		t.Errorf("defaults: %+v", f)
	}
	if sum := sha256.Sum256(data); f.Hash != hex.EncodeToString(sum[:]) {
		t.Errorf("Hash = %q", f.Hash)
	}
	if len(f.Services) != 1 || f.Services[0].Name != DefaultService || len(f.Services[0].Rules) != 0 {
		t.Errorf("Services = %+v", f.Services)
	}
	want := Reply{Default: Action{Op: Up, Admin: Ready, Weight: 100, Maxconn: Unset}, MinWeight: 1, RestoreFor: DefaultRestoreFor}
	if f.Reply != want {
		t.Errorf("Reply = %+v, want %+v", f.Reply, want)
	}
	if f.Service("") != f.Services[0] || len(f.Sources) != 1 {
		t.Errorf("Service(\"\") or Sources wrong")
	}
	g, err := Parse([]byte("interval: 4s\nsources:\n  a:\n    scrape: http://x/m\n  p:\n    prometheus: http://x\nrules: []\n"), "y.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p := g.Source("p"); p.Config.(*PrometheusConfig).MaxConcurrency != DefaultMaxConcurrency || p.Timeout != DefaultTimeout {
		t.Errorf("prometheus defaults: %+v", p)
	}
	if a := g.Sources[1].Config.(*ScrapeConfig); g.StaleAfter != 12*time.Second || g.Sources[1].Timeout != DefaultTimeout || a.BodyLimit != DefaultBodyLimit ||
		!a.HTTP.FollowRedirects || !a.HTTP.EnableHTTP2 {
		t.Errorf("defaults: %+v %+v", g, g.Sources[1])
	}
	if f.Hash == g.Hash {
		t.Error("different files have the same hash")
	}
}

// badCases maps each testdata/NAME.bad.yaml to every error it must give,
// in order, exactly.
var badCases = map[string][]string{
	"reply_durations": {
		`reply_durations.bad.yaml:4:5: rule "cpu > 0.9": maxconn "4294967297": want an integer from 0 (unlimited) to 2147483647`,
		`reply_durations.bad.yaml:6:12: reply: maxconn "2147483648": want an integer from 0 (unlimited) to 2147483647`,
		`reply_durations.bad.yaml:7:16: reply: restore_for: bad duration "-5s": want a number and a unit, such as 30s or 2m, or always`,
		`reply_durations.bad.yaml:8:9: reply: ramp 1d1h is longer than a day`,
	},
	"restore_zero": {
		`restore_zero.bad.yaml:3:16: reply: restore_for must be greater than 0: the agent needs it to undo its own drain, maint and weight (or write always)`,
		`restore_zero.bad.yaml:4:9: reply: ramp: bad duration "0x": want a number and a unit, such as 30s or 2m, or 0s to turn it off`,
	},
	"yaml_syntax": {
		`yaml_syntax.bad.yaml:2:1: yaml: did not find expected key`,
	},
	"tabs": {
		`tabs.bad.yaml:2:1: yaml: tab character: use spaces, not tabs, for indentation`,
	},
	"unknown_key": {
		`unknown_key.bad.yaml:1:1: unknown key "intervall"; did you mean "interval"?`,
	},
	"unknown_rule_key": {
		`unknown_rule_key.bad.yaml:7:5: rule "hot": unknown key "keep_firing"; did you mean "keep_firing_for"?`,
	},
	"bad_duration": {
		`bad_duration.bad.yaml:1:11: interval: bad duration "5": want a number and a unit, such as 5s, 1m30s or 2h`,
		`bad_duration.bad.yaml:2:14: stale_after: bad duration "1x": want a number and a unit, such as 5s, 1m30s or 2h`,
	},
	"interval_zero": {
		`interval_zero.bad.yaml:1:11: interval must be greater than 0`,
	},
	"stale_short": {
		`stale_short.bad.yaml:2:14: stale_after 5s is shorter than interval 10s`,
	},
	"unknown_metric": {
		`unknown_metric.bad.yaml:4:5: rule "queue_dept > 500": when: unknown name queue_dept; did you mean "queue_depth"?`,
	},
	"non_bool_when": {
		`non_bool_when.bad.yaml:5:11: rule "hot": when: must be true/false, a comparison such as cpu > 0.9; this is a number`,
	},
	// Both mistakes of one short rule at once, not one per check.
	"short_rule_errors": {
		`short_rule_errors.bad.yaml:4:5: rule "queue_dept > 50": unknown action "drian": want up, down, fail, stopped, ready, drain, maint, weight N%, weight N, maxconn N; did you mean "drain"?`,
		`short_rule_errors.bad.yaml:4:5: rule "queue_dept > 50": when: unknown name queue_dept; did you mean "queue_depth"?`,
	},
	"weight_300": {
		`weight_300.bad.yaml:4:5: rule "cpu > 0.9": weight "300%": want an integer percent from 0% to 256%`,
	},
	"maxconn_negative": {
		`maxconn_negative.bad.yaml:4:5: rule "cpu > 0.9": maxconn "-1": want an integer from 0 (unlimited) to 2147483647`,
	},
	"unknown_action": {
		`unknown_action.bad.yaml:4:5: rule "cpu > 0.9": unknown action "dran": want up, down, fail, stopped, ready, drain, maint, weight N%, weight N, maxconn N; did you mean "drain"?`,
	},
	"nothing_after": {
		`nothing_after.bad.yaml:4:5: rule "cpu > 0.9": nothing after =>: want an action such as drain or weight 50%`,
	},
	"nothing_before": {
		`nothing_before.bad.yaml:4:5: nothing before =>: want a condition such as cpu > 0.9`,
	},
	"no_arrow": {
		`no_arrow.bad.yaml:4:5: rule "cpu > 0.9 drain": no "=>": want "EXPR => ACTIONS" such as "cpu > 0.9 => weight 50%", or a mapping with name, when and then`,
	},
	"duplicate_rule": {
		`duplicate_rule.bad.yaml:5:5: rule "cpu > 0.9": duplicate rule name (first at 4:5): names carry rule state across reloads`,
	},
	"duplicate_service": {
		`duplicate_service.bad.yaml:7:3: duplicate service "worker" (first at 4:3)`,
	},
	"duplicate_metric": {
		`duplicate_metric.bad.yaml:3:3: duplicate metric "cpu" (first at 2:3)`,
	},
	"undeclared_source": {
		`undeclared_source.bad.yaml:5:10: metric "queue": undeclared source "ap"; did you mean "app"?`,
	},
	"selector_syntax": {
		`selector_syntax.bad.yaml:5:46: metric "queue": bad selector: unexpected end of input inside braces`,
	},
	"bad_query": {
		`bad_query.bad.yaml:7:45: metric "p99": bad query: unclosed left parenthesis`,
	},
	"range_query": {
		`range_query.bad.yaml:5:9: metric "reqs": query returns a matrix: want an instant vector or a scalar`,
	},
	"history": {
		`history.bad.yaml:12:5: metric "a": history_source is required: the file has several prometheus sources (prom, prom2)`,
		`history.bad.yaml:16:29: metric "b": bad history query: unclosed left parenthesis`,
		`history.bad.yaml:21:14: metric "c": history query returns a matrix: want an instant vector or a scalar`,
		`history.bad.yaml:27:21: metric "d": history_source: "app" is a scrape source; history is read from a prometheus source (prom, prom2)`,
		`history.bad.yaml:32:21: metric "e": history_source: undeclared source "prom3" (prometheus sources: prom, prom2)`,
		`history.bad.yaml:36:5: metric "f": history is for scrape, http, exec, haproxy and host metrics: a prometheus metric's query is its own history`,
		`history.bad.yaml:40:5: metric "g": history_source without history: name the PromQL query that gives the metric's past values`,
	},
	"rate_prometheus": {
		`rate_prometheus.bad.yaml:8:5: metric "reqs": rate: true is not allowed on a prometheus source: use rate() in the query`,
	},
	"unknown_host_metric": {
		`unknown_host_metric.bad.yaml:2:8: metric "cpu": unknown host metric "cpux" (want one of cpu, load1, load5, load15, cpus, mem_used_ratio, mem_available_bytes); did you mean "cpu"?`,
	},
	"host_rate": {
		`host_rate.bad.yaml:5:5: metric "cpu": rate does not apply to host metrics`,
	},
	"bad_aggregate": {
		`bad_aggregate.bad.yaml:8:16: metric "errs": aggregate "mean" is not one of sum, min, max, avg, count; did you mean "min"?`,
	},
	"bad_on_missing": {
		`bad_on_missing.bad.yaml:7:17: rule "hot": on_missing "ignore" is not one of keep, skip, fire`,
	},
	"empty": {
		`empty.bad.yaml:1:1: empty rule file: write at least "rules:" with a list such as "- cpu > 0.9 => weight 50%" and the metrics it reads`,
	},
	"only_comments": {
		`only_comments.bad.yaml:1:1: empty rule file: write at least "rules:" with a list such as "- cpu > 0.9 => weight 50%" and the metrics it reads`,
	},
	"timeout_long": {
		`timeout_long.bad.yaml:5:14: source "app": timeout 10s is longer than interval 5s`,
	},
	"bad_url": {
		`bad_url.bad.yaml:3:13: source "app": scrape: bad URL "ftp://127.0.0.1/metrics": want an absolute http:// or https:// URL`,
		`bad_url.bad.yaml:5:17: source "prom": prometheus: bad URL "127.0.0.1:9090": first path segment in URL cannot contain colon`,
	},
	"http_config_conflict": {
		`http_config_conflict.bad.yaml:2:3: source "prom": at most one of basic_auth, oauth2 & authorization must be configured`,
	},
	"http_config_unknown": {
		`http_config_unknown.bad.yaml:5:7: source "prom": unknown key "ca_fil" in tls_config; did you mean "ca_file"?`,
		`http_config_unknown.bad.yaml:6:5: source "prom": unknown key "basic_auht"; did you mean "basic_auth"?`,
	},
	"host_redefined": {
		`host_redefined.bad.yaml:2:3: source "host" is predeclared (the host's own metrics) and cannot be redefined`,
	},
	"reserved_service": {
		`reserved_service.bad.yaml:2:3: service name "default" is reserved for the top-level rules; put them under rules: or rename the service`,
	},
	"then_weight": {
		`then_weight.bad.yaml:7:5: rule "shed": then sets weight 10% and weight: computes one; keep one of them`,
	},
	"expr_too_long": {
		`expr_too_long.bad.yaml:4:5: rule "cpu > 0 + cpu + cpu + cpu + cpu + cpu + cpu + cpu + cpu + cp...": when: expression too long: 8407 bytes, the limit is 4096`,
	},
	"expr_too_many_nodes": {
		`expr_too_many_nodes.bad.yaml:5:11: rule "big": when: expression too complex: more than 1000 nodes`,
	},
	"description_newline": {
		`description_newline.bad.yaml:7:18: rule "hot": description holds a control character (newline, tab...): the reply is one line`,
	},
	"reply_default": {
		`reply_default.bad.yaml:2:12: reply: default: unknown action "readdy": want up, down, fail, stopped, ready, drain, maint, weight N%, weight N, maxconn N; did you mean "ready"?`,
	},
	"min_weight": {
		`min_weight.bad.yaml:2:15: reply: min_weight "500%": want an integer percent from 0% to 256%, such as 1%`,
		`min_weight.bad.yaml:3:12: reply: maxconn "-3": want an integer from 0 (unlimited) to 2147483647`,
	},
	"multiple": {
		`multiple.bad.yaml:5:14: source "app": timeout 1m is longer than interval 5s`,
		`multiple.bad.yaml:8:16: metric "q": bad selector: unexpected end of input inside braces`,
		`multiple.bad.yaml:10:5: rule "cpuu > 0.9": when: unknown name cpuu; did you mean "cpu"?`,
		`multiple.bad.yaml:11:5: rule "cpu > 0.9": weight "500": want an integer percent from 0% to 256% or an absolute weight from 0 to 256`,
		`multiple.bad.yaml:12:5: rule "x": needs then: (an action such as drain) or weight: (an expression computing a percent)`,
	},
	"bad_metric_name": {
		`bad_metric_name.bad.yaml:2:3: bad metric name "queue-depth": want letters, digits and _, not starting with a digit`,
		`bad_metric_name.bad.yaml:3:3: bad metric name "in": it is a keyword of the expression language`,
		`bad_metric_name.bad.yaml:4:3: bad metric name "count": it is a function of the expression language`,
	},
	"non_mapping": {
		`non_mapping.bad.yaml:1:1: a rule file is a mapping with keys such as interval, sources, metrics and rules, not a list`,
	},
	"second_document": {
		`second_document.bad.yaml:2:1: a rule file holds one YAML document; remove this second one`,
	},
	"missing_name_when": {
		`missing_name_when.bad.yaml:4:5: rule 1: name is required in the mapping form`,
		`missing_name_when.bad.yaml:4:5: rule 1: when is required: the condition under which the rule fires`,
	},
	"when_syntax": {
		`when_syntax.bad.yaml:4:16: rule "cpu > 0.9 &&": when: unexpected token EOF`,
		`when_syntax.bad.yaml:6:16: rule "w": when: unexpected token EOF`,
	},
	"weight_non_numeric": {
		`weight_non_numeric.bad.yaml:6:13: rule "w": weight: must be a number, such as 100 - cpu * 50; this is true/false`,
	},
	"bad_service_name": {
		`bad_service_name.bad.yaml:2:3: bad service name "web server": want letters, digits, _, . and - (it is matched against HAProxy's agent-send line)`,
		`bad_service_name.bad.yaml:5:5: service "api": unknown key "rulez"; did you mean "rules"?`,
		`bad_service_name.bad.yaml:6:3: service name too long: 255 bytes, the limit is 254 (HAProxy's agent-send line, read up to 256 bytes with its line end)`,
		`bad_service_name.bad.yaml:10:3: bad service name "tab\tname": want letters, digits, _, . and - (it is matched against HAProxy's agent-send line)`,
		`bad_service_name.bad.yaml:12:3: bad service name "café": want letters, digits, _, . and - (it is matched against HAProxy's agent-send line)`,
	},
	"unknown_anchor": {
		`unknown_anchor.bad.yaml:2:8: yaml: unknown anchor "cpu"`,
	},
	"two_ops": {
		`two_ops.bad.yaml:4:5: rule "cpu > 0.9": "up" and "down" in one action: both set the operational state`,
		`two_ops.bad.yaml:5:5: rule "cpu > 0.8": two weights (50% and 60%) in one action`,
	},
	"body_limit": {
		`body_limit.bad.yaml:4:17: source "app": body_limit: bad size "lots": want a positive size such as 16MiB or 512KiB`,
		`body_limit.bad.yaml:7:5: source "prom": body_limit applies to scrape and http sources only`,
	},
	"max_concurrency": {
		`max_concurrency.bad.yaml:4:22: source "prom": max_concurrency: want a whole number from 1 to 64, got "0"`,
		`max_concurrency.bad.yaml:7:5: source "app": max_concurrency applies to prometheus sources only`,
		`max_concurrency.bad.yaml:10:22: source "many": max_concurrency: want a whole number from 1 to 64, got "lots"`,
	},
	"source_kind": {
		`source_kind.bad.yaml:2:3: source "app": needs scrape: URL (a /metrics page), prometheus: URL (a Prometheus API), http: URL (a probe of a health endpoint), exec: [PROGRAM, ARG...] (a command) or haproxy: ADDRESS (HAProxy's Runtime API: unix:/path, tcp:HOST:PORT or a socket path)`,
		`source_kind.bad.yaml:6:5: source "both": both scrape and prometheus given: a source has one of them`,
	},
	"rules_not_list": {
		`rules_not_list.bad.yaml:2:3: rules: want a list of rules, got a mapping`,
	},
	"duplicate_top_key": {
		`duplicate_top_key.bad.yaml:3:1: duplicate key "interval" (first at 1:1)`,
	},
	"metric_long": {
		`metric_long.bad.yaml:5:3: metric "a": source is required`,
		`metric_long.bad.yaml:10:5: metric "b": both select and query given: select is for scrape, http, exec, haproxy and host sources, query for prometheus sources`,
	},
	"rule_item_kind": {
		`rule_item_kind.bad.yaml:4:5: rule 1: want "EXPR => ACTIONS" such as "cpu > 0.9 => weight 50%", or a mapping with name, when and then`,
		`rule_item_kind.bad.yaml:5:5: rule 2: want "EXPR => ACTIONS" such as "cpu > 0.9 => weight 50%", or a mapping with name, when and then, not "42"`,
		`rule_item_kind.bad.yaml:8:24: rule "w": weight: unknown name cpux; did you mean "cpu"?`,
	},
	"builtin_disabled": {
		`builtin_disabled.bad.yaml:4:5: rule "now() > 0": when: function now is not available in rules (these are: abs, ceil, floor, round, min, max, int, float)`,
	},
}

var errLineRe = regexp.MustCompile(`^[^:]+\.bad\.yaml:[1-9][0-9]*:[1-9][0-9]*: \S`)

func TestParseBad(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 30 {
		t.Fatalf("found only %d bad files", len(files))
	}
	seen := map[string]bool{}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".bad.yaml")
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			want, ok := badCases[name]
			if !ok {
				t.Fatalf("no expected errors for %s in badCases", path)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Parse(data, filepath.Base(path))
			if err == nil {
				t.Fatalf("Parse loaded a bad file: %d rules", f.RuleCount())
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want Errors", err)
			}
			got := strings.Split(err.Error(), "\n")
			for _, e := range errs {
				if e.Pos.Line < 1 || e.Pos.Col < 1 {
					t.Errorf("error without a position: %v", e)
				}
			}
			for _, line := range got {
				if !errLineRe.MatchString(line) {
					t.Errorf("error line not FILE:LINE:COL: message: %q", line)
				}
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("errors:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
			}
		})
	}
	for name := range badCases {
		if !seen[name] {
			t.Errorf("badCases has %q but testdata/%s.bad.yaml is missing", name, name)
		}
	}
}

func TestParseFileTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	var b strings.Builder
	b.WriteString("metrics:\n  cpu: host:cpu\nrules:\n")
	for b.Len() < 10<<20 {
		b.WriteString("  - cpu > 0.5 && cpu < 0.6 && cpu != 0.55 => weight 50%\n")
	}
	data := []byte(b.String())
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ParseFile(path)
	if !errors.Is(err, ErrFileTooLarge) {
		t.Fatalf("ParseFile: %v, want ErrFileTooLarge", err)
	}
	if want := path + ": rule file too large: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q does not start with %q", err, want)
	}
	// Rejected before it is parsed: about as fast as a 4 KiB benign file
	// is parsed in the same run (each the fastest of three), where
	// parsing 10 MB would take thousands of times longer.
	fastest := func(data []byte, name string) (time.Duration, error) {
		best, err := time.Duration(math.MaxInt64), error(nil)
		for range 3 {
			start := time.Now()
			_, err = Parse(data, name)
			best = min(best, time.Since(start))
		}
		return best, err
	}
	d, err := fastest(data, "big.yaml")
	if err == nil || !strings.HasPrefix(err.Error(), "big.yaml:1:1: rule file too large") {
		t.Errorf("Parse: %v", err)
	}
	small, _ := fastest(benignFile(4096), "small.yaml")
	if d > 10*small+10*time.Millisecond {
		t.Errorf("rejecting a 10 MB file took %v; parsing a 4 KiB one %v: want at most 10x + 10ms", d, small)
	}
}

func TestParseFileMissing(t *testing.T) {
	_, err := ParseFile(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ParseFile: %v, want a wrapped ErrNotExist", err)
	}
}

// TestParseManyRules checks the cap on rules without a committed huge file.
func TestParseManyRules(t *testing.T) {
	var b strings.Builder
	b.WriteString("metrics:\n  cpu: host:cpu\nrules:\n")
	for i := 0; i <= MaxRules; i++ {
		fmt.Fprintf(&b, "  - cpu > %d => drain\n", i)
	}
	_, err := Parse([]byte(b.String()), "many.yaml")
	want := "many.yaml:10004:5: too many rules: the limit is 10000"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Parse: %v, want %q", firstLine(err), want)
	}
}

func firstLine(err error) string {
	if err == nil {
		return "<nil>"
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// TestNoRulesMustBeSaid loads files that end before any rule, as a write
// that did not finish leaves them. Such a prefix loaded as "no rules" and
// served "up ready 100%", undoing a drain; only an explicit empty list
// (or {} for a service) now means no rules.
func TestNoRulesMustBeSaid(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"no rules key", "interval: 1s\nmetrics:\n  cpu: host:cpu\n", `x.yaml:1:1: no "rules:" key: a file cut short`},
		{"cut after rules:", "metrics:\n  cpu: host:cpu\nrules:\n", `x.yaml:3:1: rules: missing value: a file cut short must not load as no rules; write "rules: []" for none`},
		{"cut after a service's name", "rules: []\nservices:\n  web:\n", `x.yaml:3:3: service "web": missing value: a file cut short must not load as a service without rules`},
		{"cut after a service's rules:", "rules: []\nservices:\n  web:\n    rules:\n", `x.yaml:4:5: service "web": rules: missing value`},
		{"only services", "services:\n  web:\n    rules:\n      - 1 > 0 => drain\n", `x.yaml:1:1: no "rules:" key`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.data), "x.yaml")
			if err == nil {
				t.Fatal("loaded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q; want it to contain %q", err, tc.want)
			}
		})
	}
	for _, data := range []string{"rules: []\n", "rules: []\nservices:\n  web: {}\n  api:\n    rules: []\n"} {
		f, err := Parse([]byte(data), "x.yaml")
		if err != nil {
			t.Fatalf("%q: %v", data, err)
		}
		if n := f.RuleCount(); n != 0 {
			t.Errorf("%q: %d rules", data, n)
		}
	}
}
