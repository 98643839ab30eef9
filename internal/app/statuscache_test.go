package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/collect"
	"github.com/haproxy-agent/agent/internal/override"
	"github.com/haproxy-agent/agent/rules"
)

// discardWriter is a ResponseWriter that keeps the status and the length
// written, not the bytes: readers must not be what allocates.
type discardWriter struct {
	h    http.Header
	code int
	n    int
	body []byte // the first 200 bytes
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(c int)   { w.code = c }
func (w *discardWriter) Write(p []byte) (int, error) {
	if len(w.body) < 200 {
		w.body = append(w.body, p[:min(len(p), 200-len(w.body))]...)
	}
	w.n += len(p)
	return len(p), nil
}

// TestStatusEncodedOncePerEvaluation reads /status of a 2,000-server fleet
// with 16 concurrent readers: they share one document, so the bytes
// allocated are about one document's, not one per reader (ratios against
// the document's own size). A new evaluation is a new document.
func TestStatusEncodedOncePerEvaluation(t *testing.T) {
	// Not parallel: it counts the bytes the whole process allocates.
	var yaml strings.Builder
	yaml.WriteString("fleet:\n  servers:\n    static:\n")
	for i := range 2000 {
		fmt.Fprintf(&yaml, "      - web%04d\n", i)
	}
	yaml.WriteString("metrics:\n  cpu: host:cpu\n  load1: host:load1\nrules:\n")
	for i := range 10 {
		fmt.Fprintf(&yaml, "  - cpu > %d || load1 > %d => drain\n", 100+i, 1000+i)
	}
	f, err := rules.Parse([]byte(yaml.String()), "fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	store, err := override.Open("", nil, override.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	a := &agent{log: quietLogger(), overrides: store}
	a.reloadState.Store(&ReloadStatus{Success: true})
	ev := evaluator.New(f)
	snap := evaluator.Snapshot{"cpu": {Value: 1}, "load1": {Value: 2}}
	publish := func(at time.Time) {
		res := ev.Evaluate(at, snap, nil)
		a.status.Store(newStatus(f, res, &collect.Result{}, time.Millisecond, time.Millisecond))
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	publish(t0)

	read := func() *discardWriter {
		w := &discardWriter{h: http.Header{}}
		a.handleStatus(w, nil)
		return w
	}
	first := read()
	if first.code != http.StatusOK || first.n < 1<<20 {
		t.Fatalf("/status: %d, %d bytes; want 200 and a document over 1 MiB", first.code, first.n)
	}
	size := first.n

	// Readers of a document already built allocate nothing of its size.
	var before, after runtime.MemStats
	readers := func() {
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				if w := read(); w.n != size && w.code == http.StatusOK {
					// A new evaluation's document may differ in size.
					size = w.n
				}
			})
		}
		wg.Wait()
	}
	runtime.ReadMemStats(&before)
	readers()
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > uint64(size)/4 {
		t.Errorf("16 readers of a built /status allocated %d bytes, the document is %d: each encoded its own", got, size)
	}

	// One reader after a new evaluation: one build, the baseline.
	alloc := func(f func()) uint64 {
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	publish(t0.Add(time.Second))
	one := alloc(func() { read() })
	// A new evaluation and 16 readers: still one build, not 16.
	publish(t0.Add(2 * time.Second))
	sixteen := alloc(readers)
	t.Logf("one build allocates %d bytes for a document of %d; 16 readers %d", one, size, sixteen)
	// Each reader building its own would be about 16 times; a document a
	// little larger than the last (its buffer grown once) about 2.5 times.
	if sixteen > 4*one {
		t.Errorf("16 readers after an evaluation allocated %d bytes, %.1f times one reader's %d: want one build", sixteen, float64(sixteen)/float64(one), one)
	}
	var doc struct {
		EvaluatedAt time.Time `json:"evaluated_at"`
	}
	if err := json.NewDecoder(bytes.NewReader(a.statusJSON.get(a).Body)).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if !doc.EvaluatedAt.Equal(t0.Add(2 * time.Second)) {
		t.Errorf("evaluated_at %v after a new evaluation, want %v", doc.EvaluatedAt, t0.Add(2*time.Second))
	}
	// A reload outcome is part of the document.
	a.reloadState.Store(&ReloadStatus{Success: false, Errors: []string{"f.yaml:1:1: broken"}})
	if body := string(a.statusJSON.get(a).Body); !strings.Contains(body, "f.yaml:1:1: broken") {
		t.Error("/status does not show a new reload outcome")
	}
}
