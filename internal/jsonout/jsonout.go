// Package jsonout writes the agent's JSON documents (/status, `agent eval
// --output json`, the overrides API) so that they are whole or not at all:
// a document is encoded into memory first, and a failed encode is an error
// for the caller to report (HTTP 500, exit 1), never an empty success.
//
// JSON has no NaN or infinities, and encoding/json fails a whole document
// over one of them. Number turns a float into what the documents carry
// instead: null, and the name of the value beside it.
package jsonout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"reflect"
	"strconv"
)

// Number returns v as the documents carry a metric value: a pointer to v
// when it is a finite number, and otherwise nil (written as null) with the
// value's name, "+Inf", "-Inf" or "NaN", for a field beside it (by
// convention "non_finite"). A scraped `m +Inf` or a PromQL `vector(1) / 0`
// is a real value that rules compare; it must not empty the document.
func Number(v float64) (*float64, string) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, NonFinite(v)
	}
	return &v, ""
}

// NonFinite names a non-finite value as Prometheus writes it: "+Inf",
// "-Inf" or "NaN"; "" for a finite one.
func NonFinite(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return ""
}

// Marshal encodes v indented by two spaces, ending in a newline, with
// "<", ">" and "&" as they are: these documents are read by people and
// scripts, never embedded in HTML.
func Marshal(v any) ([]byte, error) { return MarshalSized(v, 0) }

// MarshalSized is Marshal into a buffer of size bytes to start with: the
// size of the last such document, so that a large one is not copied
// through every doubling of its buffer.
func MarshalSized(v any, size int) ([]byte, error) {
	w := &indenter{out: make([]byte, 0, size)}
	if err := w.encode(v); err != nil {
		return nil, err
	}
	return w.out, nil
}

// indenter appends the compact JSON written to it, in pieces of any
// size, indented as json.Indent(dst, src, "", "  ") does: a member or
// element per line, "key": value, and empty objects and arrays as {} and
// [].
type indenter struct {
	out               []byte
	depth             int
	inString, escaped bool
	// open is set after '{' or '[': a newline follows unless the next
	// byte closes it.
	open bool
	// chunk, when set, is the size of the buffers the document is
	// written in: out is moved to chunks when full.
	chunk  int
	chunks [][]byte
}

// encode writes v, ending in a newline. Structs and slices are encoded
// member by member, each indented straight into the buffer as it comes:
// neither the compact document nor encoding/json's own indenting copy of
// it is ever held.
func (w *indenter) encode(v any) error {
	if err := newStreamer(w).value(reflect.ValueOf(v), 0); err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	w.writeString("\n")
	return nil
}

func (w *indenter) write(src []byte)       { indent(w, src) }
func (w *indenter) writeString(src string) { indent(w, src) }

func indent[T string | []byte](w *indenter, src T) {
	dst := w.out
	for i := 0; i < len(src); i++ {
		// The most one byte writes: a newline and indentation before it.
		if w.chunk > 0 && cap(dst)-len(dst) < 4+2*w.depth {
			w.chunks = append(w.chunks, dst)
			dst = make([]byte, 0, max(w.chunk, 4+2*w.depth))
		}
		c := src[i]
		if w.inString {
			dst = append(dst, c)
			switch {
			case w.escaped:
				w.escaped = false
			case c == '\\':
				w.escaped = true
			case c == '"':
				w.inString = false
			}
			continue
		}
		if w.open {
			w.open = false
			if c == '}' || c == ']' {
				dst = append(dst, c)
				continue
			}
			w.depth++
			dst = newline(dst, w.depth)
		}
		switch c {
		case '"':
			w.inString = true
			dst = append(dst, c)
		case '{', '[':
			dst = append(dst, c)
			w.open = true
		case '}', ']':
			w.depth--
			dst = newline(dst, w.depth)
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			dst = newline(dst, w.depth)
		case ':':
			dst = append(dst, ':', ' ')
		default:
			dst = append(dst, c)
		}
	}
	w.out = dst
}

func newline(dst []byte, depth int) []byte {
	dst = append(dst, '\n')
	for range depth {
		dst = append(dst, ' ', ' ')
	}
	return dst
}

// Compact encodes v on one line without HTML escaping, for MarshalJSON
// methods: encoding/json uses their output as it is, so an escaping
// json.Marshal there would write "\u003e" for every ">" of an expression
// or error whatever the document's encoder says.
func Compact(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Write encodes v with Marshal and writes it to w only if it encoded whole.
func Write(w io.Writer, v any) error {
	data, err := Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// Serve answers an HTTP request with v as JSON and status code. When v
// cannot be encoded it answers 500 with the error instead, as JSON
// ({"error": "..."}), and returns the error for the caller to log.
func Serve(w http.ResponseWriter, code int, v any) error {
	r, err := NewResponse(code, v, 0)
	r.Write(w)
	return err
}

// Response is an answer encoded ahead, to be written to many requests.
type Response struct {
	Code int
	Body []byte
}

// NewResponse encodes v as Serve answers it (size as for MarshalSized):
// code and v, or 500 and the error as JSON, with the error returned.
func NewResponse(code int, v any, size int) (Response, error) {
	data, err := MarshalSized(v, size)
	if err != nil {
		return errorResponse(err), err
	}
	return Response{Code: code, Body: data}, nil
}

func errorResponse(err error) Response {
	msg, _ := json.Marshal(err.Error()) // a string always encodes
	return Response{Code: http.StatusInternalServerError, Body: []byte(`{"error": ` + string(msg) + "}\n")}
}

// chunkSize is the size of a Document's pieces.
const chunkSize = 256 << 10

// Document is an answer encoded ahead, to be written to many requests, as
// Response is, but held in pieces of 256 KiB: a document of tens of MB
// then needs no buffer of its size, grown by doubling on a first encoding
// or sized from the last one and a little larger, and takes memory as it
// is written rather than all at once.
type Document struct {
	Code   int
	chunks [][]byte
	size   int
}

// NewDocument encodes v as NewResponse does, into pieces: code and v, or
// 500 and the error as JSON, with the error returned.
func NewDocument(code int, v any) (Document, error) { return newDocument(code, v, chunkSize) }

func newDocument(code int, v any, chunk int) (Document, error) {
	w := &indenter{chunk: chunk}
	w.out = make([]byte, 0, chunk)
	if err := w.encode(v); err != nil {
		r := errorResponse(err)
		return Document{Code: r.Code, chunks: [][]byte{r.Body}, size: len(r.Body)}, err
	}
	d := Document{Code: code, chunks: append(w.chunks, w.out)}
	for _, c := range d.chunks {
		d.size += len(c)
	}
	return d, nil
}

// Len is the size of the document in bytes; 0 for the zero Document.
func (d Document) Len() int { return d.size }

// Bytes returns the document in one piece (a copy).
func (d Document) Bytes() []byte {
	b := make([]byte, 0, d.size)
	for _, c := range d.chunks {
		b = append(b, c...)
	}
	return b
}

// Write sends d; a failed write is the client gone.
func (d Document) Write(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(d.size))
	w.WriteHeader(d.Code)
	for _, c := range d.chunks {
		if _, err := w.Write(c); err != nil {
			return
		}
	}
}

// Write sends r; a failed write is the client gone.
func (r Response) Write(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(r.Body)))
	w.WriteHeader(r.Code)
	_, _ = w.Write(r.Body)
}
