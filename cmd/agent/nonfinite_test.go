package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSources serves a scraped page with an infinite sample and a
// Prometheus API that answers every query as Prometheus answers
// `vector(1) / 0`: a one-sample vector whose value is "+Inf".
func fakeSources(t *testing.T) (page, prom string) {
	t.Helper()
	pageSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, "# TYPE m gauge\nm +Inf\n# TYPE low gauge\nlow -Inf\n")
	}))
	t.Cleanup(pageSrv.Close)
	promSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		// Stamped with the time asked, as Prometheus does: an older sample
		// would be stale.
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[%s,"+Inf"]}]}}`, r.FormValue("time"))
	}))
	t.Cleanup(promSrv.Close)
	return pageSrv.URL + "/metrics", promSrv.URL
}

// TestEvalJSONNonFinite: an infinite value (a scraped
// `m +Inf`, an error ratio with no traffic) made `agent eval --output
// json` print nothing and exit 0. It is now null with its name beside it,
// and rules still compare it.
func TestEvalJSONNonFinite(t *testing.T) {
	page, prom := fakeSources(t)
	path := filepath.Join(t.TempDir(), "r.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(`interval: 2s
sources:
  app:
    scrape: %s
  prom:
    prometheus: %s
metrics:
  m: app:m
  low: app:low
  ratio: prom:vector(1) / 0
rules:
  - m > 1 => drain
  - ratio > 0.5 => weight 50%%
  - low < 0 => maxconn 10
`, page, prom)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := agent(t, "eval", "--dry-run", "--rules", path, "--output", "json")
	if code != exitOK || out == "" {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, out, errOut)
	}
	var rep struct {
		Metrics []struct {
			Name      string   `json:"name"`
			Value     *float64 `json:"value"`
			NonFinite string   `json:"non_finite"`
			Missing   string   `json:"missing"`
		} `json:"metrics"`
		Services []struct {
			Reply string `json:"reply"`
			Rules []struct {
				Values []struct {
					Name      string   `json:"name"`
					Value     *float64 `json:"value"`
					NonFinite string   `json:"non_finite"`
				} `json:"values"`
			} `json:"rules"`
		} `json:"services"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	want := map[string]string{"m": "+Inf", "low": "-Inf", "ratio": "+Inf"}
	for _, m := range rep.Metrics {
		if m.Value != nil || m.Missing != "" || m.NonFinite != want[m.Name] {
			t.Errorf("metric %s: value %v, non_finite %q, missing %q; want null, %q", m.Name, m.Value, m.NonFinite, m.Missing, want[m.Name])
		}
	}
	if len(rep.Services) != 1 || rep.Services[0].Reply != "up drain 50% maxconn:10 #m > 1; ratio > 0.5; low < 0\n" {
		t.Fatalf("services: %+v", rep.Services)
	}
	v := rep.Services[0].Rules[0].Values[0]
	if v.Name != "m" || v.Value != nil || v.NonFinite != "+Inf" {
		t.Errorf("rule value: %+v", v)
	}

	// The text output names the values too.
	code, out, errOut = agent(t, "eval", "--dry-run", "--rules", path)
	if code != exitOK || !strings.Contains(out, "+Inf") || !strings.Contains(out, "-Inf") || strings.Contains(out, "missing:") {
		t.Fatalf("text: exit %d\n%s%s", code, out, errOut)
	}
}
