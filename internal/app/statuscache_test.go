package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/haproxy-agent/agent/evaluator"
	"github.com/haproxy-agent/agent/internal/collect"
	"github.com/haproxy-agent/agent/internal/jsonout"
	"github.com/haproxy-agent/agent/internal/override"
	"github.com/haproxy-agent/agent/internal/statuspage"
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
		runtime.GC() // and what sync.Pools kept
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	publish(t0.Add(time.Second))
	one := alloc(func() { read() })
	// A build allocates the document (in pieces of 256 KiB) and little
	// else: the decisions are written one at a time through a buffer
	// reused between them. Encoding the document whole added its compact
	// copy grown by doubling, and the decisions' list in one piece (3.7
	// times the document in all); encoding/json kept the compact copy for
	// its next use, as much again in memory.
	if ratio := float64(one) / float64(size); ratio > 1.25 {
		t.Errorf("one /status build allocated %d bytes, %.2f times its document of %d: want at most 1.25", one, ratio, size)
	}
	// A new evaluation and 16 readers: still one build, not 16.
	publish(t0.Add(2 * time.Second))
	sixteen := alloc(readers)
	t.Logf("one build allocates %d bytes for a document of %d; 16 readers %d", one, size, sixteen)
	// Each reader building its own would be about 16 times.
	if sixteen > 2*one {
		t.Errorf("16 readers after an evaluation allocated %d bytes, %.1f times one reader's %d: want one build", sixteen, float64(sixteen)/float64(one), one)
	}
	var doc struct {
		EvaluatedAt time.Time `json:"evaluated_at"`
	}
	if err := json.NewDecoder(bytes.NewReader(a.statusJSON.get(a).Bytes())).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if !doc.EvaluatedAt.Equal(t0.Add(2 * time.Second)) {
		t.Errorf("evaluated_at %v after a new evaluation, want %v", doc.EvaluatedAt, t0.Add(2*time.Second))
	}
	// A reload outcome is part of the document.
	a.reloadState.Store(&ReloadStatus{Success: false, Errors: []string{"f.yaml:1:1: broken"}})
	if body := string(a.statusJSON.get(a).Bytes()); !strings.Contains(body, "f.yaml:1:1: broken") {
		t.Error("/status does not show a new reload outcome")
	}
}

// TestStatusJSONAsEncodingJSON encodes generated /status documents, every
// member of every type in them filled or left out at random, as /status
// does (member by member) and as encoding/json does (whole): the bytes
// are the same. A member added to Status, or to a type it holds, is
// covered without a change here.
func TestStatusJSONAsEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	strs := []string{"", "web01", "cpu > 0.9 && mem < 1", `quote " back \ slash`, "<&>", "line\nbreak", "é", "{[,:]}"}
	timeType := reflect.TypeFor[time.Time]()
	var fill func(v reflect.Value, depth int)
	fill = func(v reflect.Value, depth int) {
		if rng.IntN(5) == 0 {
			return // left zero: null, or left out
		}
		switch v.Kind() {
		case reflect.String:
			v.SetString(strs[rng.IntN(len(strs))])
		case reflect.Bool:
			v.SetBool(true)
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			v.SetInt(int64(rng.IntN(5) - 1))
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			v.SetUint(uint64(rng.IntN(5)))
		case reflect.Float32, reflect.Float64:
			v.SetFloat(float64(rng.IntN(2000)) / 7)
		case reflect.Pointer:
			if depth < 8 {
				v.Set(reflect.New(v.Type().Elem()))
				fill(v.Elem(), depth+1)
			}
		case reflect.Slice:
			if depth < 8 {
				n := rng.IntN(3)
				v.Set(reflect.MakeSlice(v.Type(), n, n))
				for i := range n {
					fill(v.Index(i), depth+1)
				}
			}
		case reflect.Map:
			if depth < 8 && v.Type().Key().Kind() == reflect.String {
				v.Set(reflect.MakeMap(v.Type()))
				for range rng.IntN(3) {
					e := reflect.New(v.Type().Elem()).Elem()
					fill(e, depth+1)
					v.SetMapIndex(reflect.ValueOf(strs[rng.IntN(len(strs))]).Convert(v.Type().Key()), e)
				}
			}
		case reflect.Struct:
			if v.Type() == timeType {
				v.Set(reflect.ValueOf(time.Date(2026, 12, 7, 14, rng.IntN(60), 0, rng.IntN(1e9), time.UTC)))
				return
			}
			for i := range v.NumField() {
				if v.Field(i).CanSet() {
					fill(v.Field(i), depth+1)
				}
			}
		}
	}
	for i := range 500 {
		var st Status
		fill(reflect.ValueOf(&st).Elem(), 0)
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(st); err != nil {
			t.Fatal(err)
		}
		resp, err := jsonout.NewResponse(http.StatusOK, st, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(resp.Body, want.Bytes()) {
			t.Fatalf("document %d:\n got %s\nwant %s", i, resp.Body, want.Bytes())
		}
	}
}

// TestCachesKeepNoOldEvaluation publishes evaluations of a fleet, reading
// /status and building the status page's snapshot after each: once a
// newer one is published, an evaluation's Status and its decisions are
// garbage, whatever the caches built from it, and /status's document of
// the old evaluation goes with the publication, not at the next read
// (at idle, perhaps never). Each evaluation at 10,000 servers is tens of
// MB, and the document of /status tens more.
func TestCachesKeepNoOldEvaluation(t *testing.T) {
	var yaml strings.Builder
	yaml.WriteString("fleet:\n  servers:\n    static:\n")
	for i := range 200 {
		fmt.Fprintf(&yaml, "      - web%04d\n", i)
	}
	yaml.WriteString("metrics:\n  cpu: host:cpu\nrules:\n  - cpu > 100 => drain\n")
	f, err := rules.Parse([]byte(yaml.String()), "fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	store, err := override.Open("", nil, override.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	a := &agent{log: quietLogger(), overrides: store, history: statuspage.NewHistory(time.Second)}
	a.reloadState.Store(&ReloadStatus{Success: true})
	p := &pages{a: a}
	ev := evaluator.New(f)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var freed atomic.Int64
	// publish does what the loop does with an evaluation's Status.
	publish := func(i int) {
		res := ev.Evaluate(t0.Add(time.Duration(i)*time.Second), evaluator.Snapshot{"cpu": {Value: float64(i)}}, nil)
		st := newStatus(f, res, &collect.Result{}, time.Millisecond, time.Millisecond)
		runtime.AddCleanup(st, func(int) { freed.Add(1) }, 0)
		a.status.Store(st)
		a.statusJSON.drop(st)
	}
	const n = 20
	for i := range n {
		publish(i)
		if a.statusJSON.get(a).Len() == 0 {
			t.Fatal("no /status document")
		}
		if p.snapshot(a.status.Load()).fleet == nil {
			t.Fatal("no fleet table")
		}
	}
	// Published again once read (a reader came between the publication
	// and the drop): the document stays.
	a.statusJSON.drop(a.status.Load())
	if a.statusJSON.doc.Len() == 0 {
		t.Error("/status dropped the document of the evaluation published")
	}
	// A new evaluation nobody has read yet.
	publish(n)
	if a.statusJSON.doc.Len() != 0 {
		t.Error("/status keeps the document of an earlier evaluation after a new one was published")
	}
	deadline := time.Now().Add(10 * time.Second) // a hang, not a figure
	for freed.Load() < n && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got := freed.Load(); got != n {
		t.Errorf("%d of the %d earlier evaluations were freed; want all: a cache keeps them", got, n)
	}
	if body := a.statusJSON.get(a).Bytes(); !bytes.Contains(body, []byte(t0.Add(n*time.Second).Format(time.RFC3339))) {
		t.Errorf("/status after the last evaluation: %.300s", body)
	}
	runtime.KeepAlive(a)
	runtime.KeepAlive(p)
}
