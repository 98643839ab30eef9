package jsonout

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNumber(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		name string
	}{{1.5, ""}, {0, ""}, {math.Inf(1), "+Inf"}, {math.Inf(-1), "-Inf"}, {math.NaN(), "NaN"}} {
		p, name := Number(tc.v)
		if name != tc.name || (name == "") != (p != nil) || p != nil && *p != tc.v {
			t.Errorf("Number(%v) = %v, %q", tc.v, p, name)
		}
	}
}

// unencodable holds a float encoding/json refuses, as any document with a
// bare non-finite value would.
type unencodable struct {
	V float64 `json:"v"`
}

func TestWriteIsAllOrNothing(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, unencodable{math.Inf(1)}); err == nil || buf.Len() != 0 {
		t.Fatalf("Write: err %v, wrote %q", err, buf.String())
	}
	if err := Write(&buf, unencodable{2}); err != nil || buf.String() != "{\n  \"v\": 2\n}\n" {
		t.Fatalf("Write: err %v, wrote %q", err, buf.String())
	}
}

func TestServeFailsLoudly(t *testing.T) {
	rec := httptest.NewRecorder()
	err := Serve(rec, http.StatusOK, unencodable{math.NaN()})
	if err == nil || rec.Code != http.StatusInternalServerError {
		t.Fatalf("Serve: err %v, code %d", err, rec.Code)
	}
	var body struct{ Error string }
	if jerr := json.Unmarshal(rec.Body.Bytes(), &body); jerr != nil || !strings.Contains(body.Error, "unsupported value: NaN") {
		t.Fatalf("body %q (%v)", rec.Body.String(), jerr)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}

	rec = httptest.NewRecorder()
	if err := Serve(rec, http.StatusCreated, map[string]int{"a": 1}); err != nil || rec.Code != http.StatusCreated || rec.Body.String() != "{\n  \"a\": 1\n}\n" {
		t.Fatalf("Serve: err %v, code %d, body %q", err, rec.Code, rec.Body.String())
	}
	var ute *json.UnsupportedValueError
	if !errors.As(Write(&bytes.Buffer{}, unencodable{math.Inf(-1)}), &ute) {
		t.Error("the encoder's error is not wrapped")
	}
}

// TestMarshalIndentsAsEncodingJSON compares Marshal with encoding/json's
// own indenting on thousands of generated documents: nested objects and
// arrays, empty ones, and strings holding brackets, commas, colons,
// quotes and escapes.
func TestMarshalIndentsAsEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	strs := []string{"", "a", `{"x": [1, 2]}`, `quote " and \ back`, "a,b:c", "<&>", "line\nbreak", "\\", `\"`, "é"}
	var gen func(depth int) any
	gen = func(depth int) any {
		switch k := rng.IntN(7); {
		case depth > 4 || k == 0:
			return strs[rng.IntN(len(strs))]
		case k == 1:
			return rng.Float64() * 1e6
		case k == 2:
			return nil
		case k == 3:
			return rng.IntN(2) == 0
		case k == 4:
			a := []any{}
			for range rng.IntN(4) {
				a = append(a, gen(depth+1))
			}
			return a
		default:
			m := map[string]any{}
			for range rng.IntN(4) {
				m[strs[rng.IntN(len(strs))]] = gen(depth + 1)
			}
			return m
		}
	}
	for i := range 5000 {
		v := gen(0)
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		got, err := Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("document %d:\n got %s\nwant %s", i, got, want.Bytes())
		}
	}
}
