package jsonout

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
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
