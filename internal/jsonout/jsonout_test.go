package jsonout

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
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

// The types of TestMarshalStructsAsEncodingJSON: members with and without
// tags and options, pointers, interfaces, methods on values and on
// pointers, embedded structs and what else this encoder leaves whole.
type (
	docTop struct {
		Name     string            `json:"name"`
		Count    int               `json:"count,omitempty"`
		Ratio    float64           `json:"ratio"`
		Flag     bool              `json:"flag,omitempty"`
		Untagged string            // no tag: its Go name
		Skipped  string            `json:"-"`
		Odd      docOdd            `json:"odd"`
		Odds     []docOdd          `json:"odds"`
		Items    []docItem         `json:"items"`
		Ptrs     []*docItem        `json:"ptrs,omitempty"`
		Any      any               `json:"any"`
		Anys     []any             `json:"anys"`
		Map      map[string]int    `json:"map,omitempty"`
		Bytes    []byte            `json:"bytes"`
		Val      valMarshaler      `json:"val"`
		PtrM     ptrMarshaler      `json:"ptr_m"`
		PtrMs    []ptrMarshaler    `json:"ptr_ms"`
		Text     textMarshaler     `json:"text"`
		Inner    *docTop           `json:"inner,omitempty"`
		Embeds   []docEmbeds       `json:"embeds"`
		Zero     docZero           `json:"zero"`
		Nested   [][]docItem       `json:"nested"`
		Arr      [2]int            `json:"arr"`
		Strs     []string          `json:"strs,omitempty"`
		unexp    int               // unexported: never written
		Maps     []map[string]bool `json:"maps"`
		List     docList           `json:"list"`
		Lists    []docList         `json:"lists,omitempty"`
	}
	docItem struct {
		ID    string   `json:"id"`
		Tags  []string `json:"tags"`
		Empty struct{} `json:"empty"`
		Value *float64 `json:"value"`
	}
	docEmbeds struct {
		docItem
		Extra int `json:"extra"`
	}
	// docOdd holds what encoding/json does differently, one each.
	docOdd struct {
		Quoted docQuoted  `json:"quoted"`
		Named  docOddName `json:"named"`
	}
	docQuoted struct {
		N int `json:"n,string"`
	}
	docOddName struct {
		S string `json:"odd§name"` // not a name encoding/json takes: it writes S
	}
	docZero struct {
		When  time.Time `json:"when,omitzero"`
		Other int       `json:"other"`
	}
	// docList is a List: written element by element by Marshal.
	docList       []string
	valMarshaler  struct{ s string }
	ptrMarshaler  struct{ s string }
	textMarshaler struct{ s string }
)

func (l docList) MarshalJSON() ([]byte, error) { return Compact([]string(l)) }
func (l docList) Len() int                     { return len(l) }
func (l docList) AppendElement(b []byte, i int) ([]byte, error) {
	if l[i] == "fail" {
		return nil, errors.New("cannot")
	}
	return AppendString(b, l[i]), nil
}

func (m valMarshaler) MarshalJSON() ([]byte, error) {
	// Not compact: encoding/json compacts what a method returns.
	return []byte(`{ "v" : ` + strconv.Quote(m.s) + ` , "list": [ ] }`), nil
}

func (m *ptrMarshaler) MarshalJSON() ([]byte, error) {
	return []byte(`["ptr", ` + strconv.Quote(m.s) + `]`), nil
}

func (m textMarshaler) MarshalText() ([]byte, error) { return []byte("text:" + m.s), nil }

// TestMarshalStructsAsEncodingJSON compares Marshal, which encodes structs
// and slices member by member, with encoding/json's indented encoding of
// the same value, whole, on hundreds of generated documents, passed by
// value and by pointer; and a value encoding/json refuses fails both.
func TestMarshalStructsAsEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	strs := []string{"", "a", `{"x": [1, 2]}`, `quote " and \ back`, "a,b:c", "<&>", "line\nbreak", "é", "[", "}"}
	str := func() string { return strs[rng.IntN(len(strs))] }
	item := func() docItem {
		it := docItem{ID: str()}
		if rng.IntN(2) == 0 {
			it.Tags = []string{}
			for range rng.IntN(3) {
				it.Tags = append(it.Tags, str())
			}
		}
		if rng.IntN(2) == 0 {
			v := rng.Float64() * 100
			it.Value = &v
		}
		return it
	}
	var gen func(depth int) *docTop
	gen = func(depth int) *docTop {
		d := &docTop{Name: str(), Untagged: str(), Skipped: str(), unexp: 1,
			Odd: docOdd{docQuoted{rng.IntN(3)}, docOddName{str()}}, Odds: []docOdd{{docQuoted{rng.IntN(3)}, docOddName{str()}}},
			Val: valMarshaler{str()}, PtrM: ptrMarshaler{str()}, Text: textMarshaler{str()}}
		if rng.IntN(2) == 0 {
			d.Count = rng.IntN(3)
			d.Ratio = rng.Float64()
			d.Flag = rng.IntN(2) == 0
		}
		if rng.IntN(3) > 0 {
			d.Items = []docItem{}
			for range rng.IntN(4) {
				d.Items = append(d.Items, item())
			}
		}
		for range rng.IntN(3) {
			if rng.IntN(3) == 0 {
				d.Ptrs = append(d.Ptrs, nil)
			} else {
				it := item()
				d.Ptrs = append(d.Ptrs, &it)
			}
		}
		switch rng.IntN(4) {
		case 1:
			d.Any = item()
		case 2:
			d.Any = []any{str(), 1.5, nil, map[string]any{str(): []int{}}}
		case 3:
			it := item()
			d.Any = &it
		}
		for range rng.IntN(3) {
			d.Anys = append(d.Anys, str(), valMarshaler{str()}, &ptrMarshaler{str()})
		}
		if rng.IntN(2) == 0 {
			d.Map = map[string]int{str(): 1, str(): 2}
		}
		if rng.IntN(2) == 0 {
			d.Bytes = []byte(str())
		}
		for range rng.IntN(3) {
			d.PtrMs = append(d.PtrMs, ptrMarshaler{str()})
		}
		if depth < 6 && rng.IntN(2) == 0 {
			d.Inner = gen(depth + 1)
		}
		for range rng.IntN(2) {
			d.Embeds = append(d.Embeds, docEmbeds{docItem: item(), Extra: rng.IntN(5)})
		}
		if rng.IntN(2) == 0 {
			d.Zero.When = time.Date(2026, 1, 2, 3, 4, 5, rng.IntN(1e9), time.UTC)
		}
		for range rng.IntN(3) {
			var row []docItem
			for range rng.IntN(3) {
				row = append(row, item())
			}
			d.Nested = append(d.Nested, row)
		}
		d.Arr = [2]int{rng.IntN(9), rng.IntN(9)}
		if rng.IntN(2) == 0 {
			d.Strs = []string{str()}
		}
		if rng.IntN(2) == 0 {
			d.Maps = []map[string]bool{{str(): true}, nil}
		}
		switch rng.IntN(3) {
		case 1:
			d.List = docList{}
		case 2:
			d.List = docList{str(), str()}
		}
		for range rng.IntN(3) {
			d.Lists = append(d.Lists, docList{str()}, nil)
		}
		return d
	}
	want := func(v any) []byte {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	// 500 documents cover every branch of gen many times over (each is
	// taken with probability 1/4 or more); under the race detector each
	// costs about 15 ms.
	for i := range 500 {
		d := gen(0)
		for _, v := range []any{d, *d, []any{d, *d}, []*docTop{d, nil}} {
			got, err := Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			w := want(v)
			if !bytes.Equal(got, w) {
				t.Fatalf("document %d (%T):\n got %s\nwant %s", i, v, got, w)
			}
			// In pieces of any size, down to a byte.
			chunk := 1 + rng.IntN(64)
			doc, err := newDocument(http.StatusOK, v, chunk)
			if err != nil {
				t.Fatal(err)
			}
			if got := doc.Bytes(); !bytes.Equal(got, w) || doc.Len() != len(w) {
				t.Fatalf("document %d (%T) in pieces of %d bytes, %d long:\n got %s\nwant %s", i, v, chunk, doc.Len(), got, w)
			}
			for _, c := range doc.chunks {
				if cap(c) > max(chunk, 4+2*32) {
					t.Fatalf("a piece of %d bytes, want %d", cap(c), chunk)
				}
			}
		}
	}

	bad := gen(0)
	bad.Items = append(bad.Items, docItem{Value: new(math.NaN())})
	if _, err := json.Marshal(bad); err == nil {
		t.Fatal("encoding/json encodes NaN")
	}
	var ute *json.UnsupportedValueError
	if data, err := Marshal(bad); !errors.As(err, &ute) || data != nil {
		t.Errorf("Marshal of a NaN deep in a document: %q, %v; want no document and encoding/json's error", data, err)
	}
	if doc, err := NewDocument(http.StatusOK, bad); !errors.As(err, &ute) || doc.Code != http.StatusInternalServerError || !strings.Contains(string(doc.Bytes()), "unsupported value: NaN") {
		t.Errorf("NewDocument of a NaN deep in a document: %d %q, %v; want a 500 with the error", doc.Code, doc.Bytes(), err)
	}
	bad = gen(0)
	bad.List = docList{"a", "fail"}
	var me *json.MarshalerError
	if data, err := Marshal(bad); !errors.As(err, &me) || data != nil || !strings.Contains(err.Error(), "json: error calling MarshalJSON for type jsonout.docList: cannot") {
		t.Errorf("Marshal of a list whose element fails: %q, %v; want no document and encoding/json's error", data, err)
	}
}

// TestDocumentWrite sends a document held in many pieces as one body of
// the right length, with its code.
func TestDocumentWrite(t *testing.T) {
	v := map[string][]string{"a": {strings.Repeat("x", 3*chunkSize), "y"}, "b": nil}
	doc, err := NewDocument(http.StatusAccepted, v)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.chunks) < 4 {
		t.Fatalf("%d pieces, want 4 or more", len(doc.chunks))
	}
	want, _ := Marshal(v)
	rec := httptest.NewRecorder()
	doc.Write(rec)
	if rec.Code != http.StatusAccepted || !bytes.Equal(rec.Body.Bytes(), want) ||
		rec.Header().Get("Content-Length") != strconv.Itoa(len(want)) || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("Write: %d, %d bytes (Content-Length %s, Content-Type %s); want 202 and the %d bytes of Marshal",
			rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"), rec.Header().Get("Content-Type"), len(want))
	}
}
