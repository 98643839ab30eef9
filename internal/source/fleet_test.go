package source

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/haproxy-agent/agent/internal/sample"
	"github.com/haproxy-agent/agent/rules"
)

// vectorJSON is an instant query's answer: n series named webNNNN.
func vectorJSON(n int) []byte {
	type s struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	res := make([]s, n)
	for i := range res {
		res[i] = s{Metric: map[string]string{"__name__": "jobs_queue_depth", "job": "web", "server": fmt.Sprintf("web%04d", i)}, Value: [2]any{1.7e9, fmt.Sprint(i * 3)}}
	}
	b, _ := json.Marshal(map[string]any{"status": "success", "data": map[string]any{"resultType": "vector", "result": res}})
	return b
}

func TestPromQLVectorByServer(t *testing.T) {
	body := vectorJSON(3)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer srv.Close()
	p := newPromQLT(t, srv.URL, time.Second)
	m := promMetric("queue", "jobs_queue_depth", "")
	m.ByLabel = "server"
	out, err := p.Read(context.Background(), []*rules.Metric{m, promMetric("shared", "jobs_queue_depth", rules.AggSum)})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]sample.Labeled{"web0000": {Value: 0}, "web0001": {Value: 3}, "web0002": {Value: 6}}; !sameLabeled(out[0].ByLabel, want) {
		t.Errorf("by server %v, want %v", out[0].ByLabel, want)
	}
	if out[1].ByLabel != nil || out[1].Value != 9 {
		t.Errorf("metric without a label: %+v, want the sum 9", out[1])
	}
}

// BenchmarkPromQLVector1000 reads a 1,000-server vector result over
// loopback HTTP: the request, JSON decoding and the split by server.
func BenchmarkPromQLVector1000(b *testing.B) {
	body := vectorJSON(1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer srv.Close()
	p := newPromQLT(b, srv.URL, 5*time.Second)
	m := promMetric("queue", "jobs_queue_depth", "")
	m.ByLabel = "server"
	ms := []*rules.Metric{m}
	b.ReportAllocs()
	for b.Loop() {
		out, err := p.Read(context.Background(), ms)
		if err != nil || len(out[0].ByLabel) != 1000 {
			b.Fatalf("read: %v, %d servers", err, len(out[0].ByLabel))
		}
	}
}

func TestDecodeVector(t *testing.T) {
	body := `{"status":"success","warnings":["w1"],"data":{"resultType":"vector","result":[` +
		`{"metric":{"__name__":"q","server":"a","job":"x"},"value":[1700000000.5,"3"]},` +
		`{"metric":{"job":"x"},"value":[1700000000,"NaN"]}]}}`
	vec, warnings, _, err := decodeVector([]byte(body), "server")
	if err != nil {
		t.Fatal(err)
	}
	if len(vec) != 2 || vec[0].Metric["server"] != "a" || len(vec[0].Metric) != 1 || vec[0].Value != 3 ||
		vec[0].Timestamp != model.TimeFromUnixNano(1700000000500000000) || len(vec[1].Metric) != 0 || !math.IsNaN(float64(vec[1].Value)) {
		t.Errorf("vector %v", vec)
	}
	if len(warnings) != 1 || warnings[0] != "w1" {
		t.Errorf("warnings %v", warnings)
	}
	for _, body := range []string{
		`{"status":"error","errorType":"bad_data","error":"parse error"}`,
		`{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"histogram":[1,{"count":"1"}]}]}}`,
		`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"x"]}]}}`,
		`<html>`,
	} {
		if _, _, _, err := decodeVector([]byte(body), "server"); !errors.Is(err, errNotFast) {
			t.Errorf("%s: err %v, want errNotFast", body, err)
		}
	}
}

// TestVectorQueryFallsBack checks that what the fast decoder does not take
// (here a query error) comes through the API client with its own error.
func TestVectorQueryFallsBack(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"1:5: parse error: nope"}`))
	}))
	defer srv.Close()
	p := newPromQLT(t, srv.URL, time.Second)
	m := promMetric("queue", "jobs_queue_depth", "")
	m.ByLabel = "server"
	out, err := p.Read(context.Background(), []*rules.Metric{m})
	if err != nil {
		t.Fatal(err)
	}
	if out[0].Err == nil || !strings.Contains(out[0].Err.Error(), "bad_data: 1:5: parse error: nope") {
		t.Errorf("error %v", out[0].Err)
	}
}

// sameLabeled compares values by label, ignoring sample ages.
func sameLabeled(a, b map[string]sample.Labeled) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v.Value != w.Value || (v.Err == nil) != (w.Err == nil) {
			return false
		}
	}
	return true
}
