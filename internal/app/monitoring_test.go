package app

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	promparser "github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/haproxy-agent/agent/internal/testutil"
)

const monitoringDir = "../../examples/monitoring"

// exportedNames starts two agents and returns the names of every series
// their /metrics carry (histograms with their _bucket, _sum and _count):
// one with services, a scrape source and a maxconn rule, and one in fleet
// mode with a guardrail, each polled by a known and an unknown name.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	exp := newExporter(t)
	names := map[string]bool{"up": true} // Prometheus' own, per target
	servicesPage := polledMetrics(t, `interval: 200ms
sources:
  app:
    scrape: `+exp.srv.URL+`
metrics:
  queue_depth: app:queue_depth
  cpu: host:cpu
rules:
  - queue_depth > 500 => drain, maxconn 10
services:
  worker:
    rules:
      - cpu > 2 => weight 10%
`, "\n", `outcome="unknown_service"`)
	fleetPage := polledMetrics(t, `interval: 200ms
fleet:
  servers:
    static: [web1, web2]
  max_unavailable: 1
metrics:
  cpu: host:cpu
rules:
  - cpu >= 0 => drain
`, "web1\n", `outcome="unknown_server"`)
	// A replica of an etcd group exports the group's metrics whether or
	// not etcd answers (here it does not: fail-static).
	path := filepath.Join(t.TempDir(), "replica.yaml")
	writeAtomic(t, path, "interval: 200ms\nfleet:\n  servers:\n    static: [web1]\nmetrics:\n  cpu: host:cpu\nrules:\n  - cpu >= 0 => drain\n")
	o := Options{RulesPath: path, Logger: quietLogger()}
	o.Etcd.Endpoints = []string{fmt.Sprintf("http://127.0.0.1:%d", testutil.FreePort(t))}
	replicaPage := startAgent(t, o).get(t, "/metrics")
	for _, page := range []string{servicesPage, fleetPage, viewMetrics(t), replicaPage} {
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(strings.NewReader(page))
		if err != nil {
			t.Fatal(err)
		}
		for name, f := range fams {
			names[name] = true
			if f.GetType().String() == "HISTOGRAM" || f.GetType().String() == "SUMMARY" {
				names[name+"_sum"], names[name+"_count"] = true, true
				names[name+"_bucket"] = f.GetType().String() == "HISTOGRAM"
			}
		}
	}
	return names
}

// viewMetrics returns the /metrics page of an agent reading a real
// HAProxy's Runtime API (--haproxy.runtime-api), once it has read it.
func viewMetrics(t *testing.T) string {
	t.Helper()
	port := testutil.FreePort(t)
	hap := testutil.StartHAProxy(t, testutil.HAProxyTCPDefaults+fmt.Sprintf(`
backend be
    server web1 127.0.0.1:1 weight 100 agent-check agent-addr 127.0.0.1 agent-port %d agent-inter 100ms
`, port))
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeAtomic(t, path, "interval: 200ms\nmetrics:\n  cpu: host:cpu\nrules:\n  - cpu > 100 => drain\n")
	ag := startAgent(t, Options{RulesPath: path, Listen: fmt.Sprintf("127.0.0.1:%d", port), HAProxyRuntimeAPI: []string{hap.Socket}, Logger: quietLogger()})
	var page string
	waitFor(t, "HAProxy's view in /metrics", func() bool {
		page = ag.get(t, "/metrics")
		return strings.Contains(page, "haproxy_agent_drift{")
	})
	return page
}

// polledMetrics starts an agent on rules, polls it with send and with an
// unknown name, and returns its /metrics page once both polls are counted
// (the unknown one under unknownOutcome).
func polledMetrics(t *testing.T, rules, send, unknownOutcome string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeAtomic(t, path, rules)
	// A read deadline a poller descheduled between connect and write
	// cannot miss: a late line would be no line, and the unknown name's
	// poll would count as the default's.
	ag := startAgent(t, Options{RulesPath: path, PollReadTimeout: 10 * time.Second, Logger: quietLogger()})
	for _, s := range []string{send, "nosuch\n"} {
		if _, err := testutil.PollLine(ag.poll, s, 20*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	var page string
	waitFor(t, "the polls to be counted", func() bool {
		page = ag.get(t, "/metrics")
		return strings.Contains(page, unknownOutcome) && strings.Contains(page, `outcome="ok"`)
	})
	return page
}

// grafanaVars are the dashboard's variables, replaced by plausible values
// so that each query parses as PromQL.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h",
	"${job}", "haproxy-agent", "$job", "haproxy-agent", "${instance}", "web1:9898", "$instance", "web1:9898",
)

// checkQuery parses a PromQL query and returns the metric names it reads.
func checkQuery(t *testing.T, where, q string) []string {
	t.Helper()
	expr, err := promparser.NewParser(promparser.Options{}).ParseExpr(grafanaVars.Replace(q))
	if err != nil {
		t.Errorf("%s: query does not parse: %v\n  %s", where, err, q)
		return nil
	}
	var names []string
	promparser.Inspect(expr, func(n promparser.Node, _ []promparser.Node) error {
		if vs, ok := n.(*promparser.VectorSelector); ok {
			if vs.Name == "" {
				t.Errorf("%s: a selector without a metric name: %s", where, vs)
			}
			names = append(names, vs.Name)
		}
		return nil
	})
	return names
}

// TestMonitoringMixin checks examples/monitoring: the alerting rules with
// the real promtool (check rules, and their unit tests), and the Grafana
// dashboard: it parses, every query parses as PromQL, and every metric the
// rules and the dashboard name is one the agent exports.
func TestMonitoringMixin(t *testing.T) {
	t.Parallel()
	leakCheck(t)
	exported := exportedNames(t)
	used := map[string][]string{} // metric name -> where
	use := func(where string, names []string) {
		for _, n := range names {
			used[n] = append(used[n], where)
		}
	}

	promtool := testutil.RequireBinary(t, "PROMTOOL_BIN", "promtool", "/usr/bin/promtool")
	for _, args := range [][]string{
		{"check", "rules", "alerts.yaml"},
		{"test", "rules", "alerts.test.yaml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = monitoringDir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		} else if !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s says no SUCCESS:\n%s", strings.Join(args, " "), out)
		}
	}

	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	data, err := os.ReadFile(filepath.Join(monitoringDir, "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &rules); err != nil {
		t.Fatal(err)
	}
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			use("alert "+r.Alert, checkQuery(t, "alert "+r.Alert, r.Expr))
		}
	}
	for _, want := range []string{"HAProxyAgentReloadFailing", "HAProxyAgentSourceDown", "HAProxyAgentMetricsStale",
		"HAProxyAgentOutOfRotation", "HAProxyAgentGuardrailHolding", "HAProxyAgentUnknownNames", "HAProxyAgentDrift", "HAProxyAgentEtcdDown"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("alerts.yaml lacks %s", want)
		}
	}

	data, err = os.ReadFile(filepath.Join(monitoringDir, "dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title      string
		Panels     []panel
		Templating struct {
			List []struct {
				Name       string
				Definition string
			}
		}
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	var titles []string
	queries := 0
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			titles = append(titles, p.Title)
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				queries++
				where := fmt.Sprintf("panel %q %s", p.Title, tg.RefID)
				use(where, checkQuery(t, where, tg.Expr))
			}
		}
	}
	walk(dash.Panels)
	labelValues := regexp.MustCompile(`^label_values\((.*),\s*\w+\)$`)
	for _, v := range dash.Templating.List {
		if m := labelValues.FindStringSubmatch(v.Definition); m != nil {
			use("variable "+v.Name, checkQuery(t, "variable "+v.Name, m[1]))
		}
	}
	for _, want := range []string{"Weight sent, by service", "Rules firing, by service", "Source health", "Poll rate, by outcome"} {
		if !slices.Contains(titles, want) {
			t.Errorf("the dashboard lacks the panel %q", want)
		}
	}

	for name, where := range used {
		if !exported[name] {
			t.Errorf("%s names %s, which the agent does not export", strings.Join(where, ", "), name)
		}
	}
	t.Logf("%d alerts and %d dashboard queries checked; %d metric names used", len(alerts), queries, len(used))
}

// panel is the part of a Grafana panel the test reads.
type panel struct {
	Title   string
	Type    string
	Panels  []panel
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	}
}

// TestUnknownNamesAlertOnFleetMetrics runs the shipped HAProxyAgentUnknownNames
// alert through promtool over the poll counters a real fleet agent exports
// after a poll without agent-send and one naming an unknown server: their
// labels as /metrics shows them, their values growing at the rate seen.
// A fleet agent's servers are labelled server, and it has no series for
// the default service.
func TestUnknownNamesAlertOnFleetMetrics(t *testing.T) {
	t.Parallel()
	leakCheck(t)
	promtool := testutil.RequireBinary(t, "PROMTOOL_BIN", "promtool", "/usr/bin/promtool")
	path := filepath.Join(t.TempDir(), "rules.yaml")
	writeAtomic(t, path, `interval: 200ms
fleet:
  servers:
    static: [web1, web2]
metrics:
  cpu: host:cpu
rules:
  - cpu < 0 => drain
`)
	// No agent-send waits the read deadline out: a second.
	ag := startAgent(t, Options{RulesPath: path, PollReadTimeout: time.Second, Logger: quietLogger()})
	for _, send := range []string{"web1\n", "", "nosuch\n"} {
		if line, err := testutil.PollLine(ag.poll, send, 20*time.Second); err != nil {
			t.Fatal(err)
		} else if send != "web1\n" && line != "\n" {
			t.Errorf("poll %q: %q, want an empty line", send, line)
		}
	}
	var page string
	waitFor(t, "the polls to be counted", func() bool {
		page = ag.get(t, "/metrics")
		return metricSum(page, "haproxy_agent_polls_total", `outcome="unknown_server"`) == 2 &&
			metricSum(page, "haproxy_agent_polls_total", `server="web1"`, `outcome="ok"`) == 1
	})
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var series strings.Builder
	for _, m := range fams["haproxy_agent_polls_total"].GetMetric() {
		labels := []string{`job="haproxy-agent"`, `instance="lb-agent:9898"`}
		for _, l := range m.GetLabel() {
			if l.GetName() == "service" && l.GetValue() != "" {
				t.Errorf("fleet series with service=%q: %v", l.GetValue(), m)
			}
			if l.GetValue() != "" {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
		}
		fmt.Fprintf(&series, "      - series: '%s{%s}'\n        values: '0+%gx40'\n", "haproxy_agent_polls_total", strings.Join(labels, ","), m.GetCounter().GetValue())
	}
	abs, err := filepath.Abs(filepath.Join(monitoringDir, "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The description has no template: promtool compares it as written.
	data, err := os.ReadFile(abs)
	if err != nil {
		t.Fatal(err)
	}
	desc := regexp.MustCompile(`(?s)alert: HAProxyAgentUnknownNames.*?description: (".*?")\n`).FindSubmatch(data)
	if desc == nil {
		t.Fatal("alerts.yaml: no description for HAProxyAgentUnknownNames")
	}
	test := fmt.Sprintf(`rule_files: [%q]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
%s    alert_rule_test:
      - eval_time: 30m
        alertname: HAProxyAgentUnknownNames
        exp_alerts:
          - exp_labels: {severity: warning, job: haproxy-agent, instance: "lb-agent:9898"}
            exp_annotations:
              summary: "HAProxy polls agent lb-agent:9898 with names it does not know"
              description: %s
`, abs, series.String(), desc[1])
	file := filepath.Join(t.TempDir(), "fleet.test.yaml")
	writeAtomic(t, file, test)
	out, err := exec.Command(promtool, "test", "rules", file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Errorf("promtool test rules: %v\n%s\ntest file:\n%s", err, out, test)
	}
}
