package rules

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const fleetHead = `sources:
  prom:
    prometheus: http://127.0.0.1:9090
  app:
    scrape: http://127.0.0.1:8080/metrics
metrics:
  queue: prom:sum by (server) (jobs_queue_depth)
  local: app:jobs
rules:
  - queue > 500 => drain
`

func TestFleetGood(t *testing.T) {
	for _, tc := range []struct {
		name, fleet string
		check       func(t *testing.T, f *File)
	}{
		{"discovered", `fleet:
  servers:
    source: prom
    query: up{job="web"}
    label: server
  max_unavailable: 25%
`, func(t *testing.T, f *File) {
			fl := f.Fleet
			if fl.Discovery == nil || fl.Discovery.Query != `up{job="web"}` || fl.Discovery.ByLabel != "server" || fl.Label != "server" {
				t.Errorf("discovery %+v", fl.Discovery)
			}
			if fl.MaxUnavailable != (Limit{Set: true, N: 25, Percent: true}) {
				t.Errorf("max_unavailable %+v", fl.MaxUnavailable)
			}
			if f.Metric("queue").ByLabel != "server" || f.Metric("local").ByLabel != "" {
				t.Errorf("labels: queue %q, local %q", f.Metric("queue").ByLabel, f.Metric("local").ByLabel)
			}
		}},
		{"static list", "fleet:\n  servers: [web2, web1]\n  max_unavailable: 2\n", func(t *testing.T, f *File) {
			if !slices.Equal(f.Fleet.Static, []string{"web1", "web2"}) || f.Fleet.Label != DefaultFleetLabel {
				t.Errorf("fleet %+v", f.Fleet)
			}
			if f.Fleet.MaxUnavailable != (Limit{Set: true, N: 2}) {
				t.Errorf("max_unavailable %+v", f.Fleet.MaxUnavailable)
			}
			if f.Fleet.ForgetAfter != DefaultForgetAfter {
				t.Errorf("forget_after %v, want the default %v", f.Fleet.ForgetAfter, DefaultForgetAfter)
			}
		}},
		{"forget_after", "fleet:\n  servers: [a]\n  forget_after: 90s\n", func(t *testing.T, f *File) {
			if f.Fleet.ForgetAfter != 90*time.Second {
				t.Errorf("forget_after %v, want 90s", f.Fleet.ForgetAfter)
			}
		}},
		{"static key", "fleet:\n  servers:\n    static: [a, b]\n    label: host\n", func(t *testing.T, f *File) {
			if !slices.Equal(f.Fleet.Static, []string{"a", "b"}) || f.Fleet.Label != "host" || f.Fleet.MaxUnavailable.Set {
				t.Errorf("fleet %+v", f.Fleet)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse([]byte(fleetHead+tc.fleet), "f.yaml")
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, f)
		})
	}
}

func TestFleetBad(t *testing.T) {
	for _, tc := range []struct{ fleet, want string }{
		{"fleet:\n  servers: [a]\nservices:\n  worker:\n    rules: []\n",
			"f.yaml:11:1: fleet and services do not combine: in fleet mode each poll's agent-send names a server and the top-level rules apply to every server; move the services (at 13:1) to an agent of their own"},
		{"fleet:\n  max_unavailable: 1\n", "f.yaml:11:1: fleet: servers is required"},
		{"fleet:\n  servers: [a, a, default]\n", `f.yaml:12:16: fleet: servers: duplicate server "a" (first at 12:13)`},
		{"fleet:\n  servers: [a, default]\n", `f.yaml:12:16: fleet: servers: bad server name "default"`},
		{"fleet:\n  servers: [a, " + strings.Repeat("b", MaxNameLen+1) + "]\n", `f.yaml:12:16: fleet: servers: server name too long: 255 bytes, the limit is 254`},
		{"fleet:\n  servers: [a, \"b c\"]\n", `f.yaml:12:16: fleet: servers: bad server name "b c"`},
		{"fleet:\n  servers: [a, [b]]\n", `f.yaml:12:16: fleet: servers: bad server name: want a name, got a list`},
		{"fleet:\n  servers: [a]\n  max_unavailable: 0%\n", `f.yaml:13:20: fleet: max_unavailable "0%": want a percentage from 1% to 100% or a count ≥ 0`},
		{"fleet:\n  servers: [a]\n  max_unavailable: many\n", `f.yaml:13:20: fleet: max_unavailable "many"`},
		{"fleet:\n  servers: {source: app, query: up}\n", `f.yaml:12:21: fleet: servers: source "app" is a scrape source: discovery needs a prometheus source`},
		{"fleet:\n  servers: {source: prm, query: 'up'}\n", `fleet: servers: undeclared source "prm"; did you mean "prom"?`},
		{"fleet:\n  servers: {source: prom, query: '1'}\n", `fleet: servers: query returns a scalar: want an instant vector`},
		{"fleet:\n  servers: {source: prom}\n", `fleet: servers: want source and query`},
		{"fleet:\n  servers: {source: prom, query: 'up', static: [a]}\n", `fleet: servers: static and source/query do not combine`},
		{"fleet:\n  servers: {source: prom, query: 'up', label: '__name__'}\n", `fleet: servers: bad label name "__name__"`},
		{"fleet:\n  server: [a]\n", `unknown key "server"; did you mean "servers"?`},
		{"fleet:\n  servers: [a]\n  forget_after: soon\n", `f.yaml:13:17: fleet: forget_after: bad duration "soon"`},
		{"fleet:\n  servers: [a]\n  forget_after: 0s\n", `f.yaml:13:17: fleet: forget_after must be greater than 0`},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, err := Parse([]byte(fleetHead+tc.fleet), "f.yaml")
			if err == nil {
				t.Fatal("loaded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}

func TestLimitAllowed(t *testing.T) {
	for _, tc := range []struct {
		l           Limit
		total, want int
	}{
		{Limit{}, 12, 12},
		{Limit{Set: true, N: 25, Percent: true}, 12, 3},
		{Limit{Set: true, N: 25, Percent: true}, 13, 3},
		{Limit{Set: true, N: 25, Percent: true}, 3, 1},
		{Limit{Set: true, N: 1, Percent: true}, 1000, 10},
		{Limit{Set: true, N: 3}, 12, 3},
		{Limit{Set: true, N: 0}, 12, 0},
	} {
		if got := tc.l.Allowed(tc.total); got != tc.want {
			t.Errorf("%v of %d: %d, want %d", tc.l, tc.total, got, tc.want)
		}
	}
}

// TestServerName checks the names a discovery query may give servers:
// those HAProxy's agent-send line can carry.
func TestServerName(t *testing.T) {
	for name, want := range map[string]bool{
		"web-1.example_a":                 true,
		strings.Repeat("a", MaxNameLen):   true,
		strings.Repeat("a", MaxNameLen+1): false,
		"default":                         false,
		"":                                false,
		"web 1":                           false,
		"web\x001":                        false,
		"web1\n":                          false,
		"wéb":                             false,
	} {
		if got := ServerName(name); got != want {
			t.Errorf("ServerName(%q) = %v, want %v", shorten(name), got, want)
		}
	}
}
