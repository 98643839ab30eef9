package jsonout

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"sync"
)

// A document is encoded piece by piece: the members of its structs and
// the elements of its slices each through encoding/json on their own,
// indented as they come into the document's buffer. Encoding it whole
// made encoding/json hold the compact document in a buffer grown by
// doubling, and keep that buffer for its next use: for a /status of tens
// of MB, more than the document again in memory. A piece is encoded as
// encoding/json would encode it in place, so the bytes are the same.

// maxStreamDepth is how deep structs and slices are taken apart; below,
// values are encoded whole (which also leaves pointer cycles to
// encoding/json's own check).
const maxStreamDepth = 4

// List is a JSON array that a document written by MarshalSized (and
// Marshal, Write, Serve, NewResponse) takes element by element, through a
// buffer reused between them, rather than whole from MarshalJSON: a list
// of 10,000 servers' decisions is tens of MB compact. AppendElement
// appends element i, compact, as MarshalJSON writes it in the array; an
// empty list is written by MarshalJSON ("null" or "[]").
type List interface {
	json.Marshaler
	Len() int
	AppendElement(b []byte, i int) ([]byte, error)
}

var (
	listType          = reflect.TypeFor[List]()
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// marshals reports whether encoding/json hands values of t to a method.
func marshals(t reflect.Type) bool {
	return t.Implements(marshalerType) || t.Implements(textMarshalerType)
}

// streamer encodes values into an indenter.
type streamer struct {
	w   *indenter
	buf bytes.Buffer
	enc *json.Encoder
	// elem is a List's element, reused.
	elem []byte
}

func newStreamer(w *indenter) *streamer {
	s := &streamer{w: w}
	s.enc = json.NewEncoder(&s.buf)
	s.enc.SetEscapeHTML(false)
	return s
}

// value writes v, taking structs and slices apart down to maxStreamDepth.
func (s *streamer) value(v reflect.Value, depth int) error {
	if !v.IsValid() {
		s.raw("null")
		return nil
	}
	t := v.Type()
	switch {
	case depth >= maxStreamDepth:
		return s.whole(v)
	case t.Implements(listType):
		return s.list(v.Interface().(List))
	case marshals(t):
		return s.encode(v.Interface())
	case v.CanAddr() && marshals(reflect.PointerTo(t)):
		return s.encode(v.Addr().Interface())
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			s.raw("null")
			return nil
		}
		return s.value(v.Elem(), depth)
	case reflect.Struct:
		fields, ok := structFields(t)
		if !ok {
			return s.whole(v)
		}
		s.raw("{")
		first := true
		for _, f := range fields {
			fv := v.Field(f.index)
			if f.omitEmpty && isEmpty(fv) {
				continue
			}
			if !first {
				s.raw(",")
			}
			first = false
			s.w.write(f.key)
			if err := s.value(fv, depth+1); err != nil {
				return err
			}
		}
		s.raw("}")
		return nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return s.whole(v) // base64, or bytes with methods of their own
		}
		if v.IsNil() {
			s.raw("null")
			return nil
		}
		s.raw("[")
		for i := range v.Len() {
			if i > 0 {
				s.raw(",")
			}
			if err := s.value(v.Index(i), depth+1); err != nil {
				return err
			}
		}
		s.raw("]")
		return nil
	}
	return s.whole(v)
}

// list writes l element by element.
func (s *streamer) list(l List) error {
	n := l.Len()
	if n == 0 {
		return s.encode(l)
	}
	s.raw("[")
	for i := range n {
		if i > 0 {
			s.raw(",")
		}
		var err error
		if s.elem, err = l.AppendElement(s.elem[:0], i); err != nil {
			return &json.MarshalerError{Type: reflect.TypeOf(l), Err: err}
		}
		s.w.write(s.elem)
	}
	s.raw("]")
	return nil
}

// whole encodes v in one piece, addressable if it is (encoding/json calls
// pointer methods only on addressable values).
func (s *streamer) whole(v reflect.Value) error {
	if v.CanAddr() {
		return s.encode(v.Addr().Interface())
	}
	return s.encode(v.Interface())
}

func (s *streamer) encode(v any) error {
	s.buf.Reset()
	if err := s.enc.Encode(v); err != nil {
		return err
	}
	s.w.write(bytes.TrimSuffix(s.buf.Bytes(), []byte("\n")))
	return nil
}

func (s *streamer) raw(p string) { s.w.writeString(p) }

// field is a struct member as encoding/json writes it.
type field struct {
	index     int
	key       []byte // "name":
	omitEmpty bool
}

// fieldsOf caches structFields by type.
var fieldsOf sync.Map // reflect.Type → []field, or nil when not streamed

// structFields returns t's members in encoding/json's order, and false
// when t uses what this encoder leaves to encoding/json: embedded
// structs, the string and omitzero options, unusual names.
func structFields(t reflect.Type) ([]field, bool) {
	if c, ok := fieldsOf.Load(t); ok {
		fs := c.([]field)
		return fs, fs != nil
	}
	var fs []field
	ok := true
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			ok = false
			break
		}
		if !sf.IsExported() {
			continue
		}
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := cutComma(tag)
		if name == "" {
			name = sf.Name
		}
		f := field{index: i}
		for opts != "" {
			var o string
			o, opts, _ = cutComma(opts)
			switch o {
			case "omitempty":
				f.omitEmpty = true
			case "string", "omitzero":
				ok = false
			}
		}
		if !plainName(name) {
			ok = false
		}
		if !ok {
			break
		}
		f.key = append(AppendString(nil, name), ':')
		fs = append(fs, f)
	}
	if !ok {
		fs = nil
	} else if fs == nil {
		fs = []field{}
	}
	fieldsOf.Store(t, fs)
	return fs, ok
}

func cutComma(s string) (before, after string, found bool) {
	for i := range len(s) {
		if s[i] == ',' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// plainName reports whether a member's name is letters, digits, '_' and
// '-', which encoding/json takes from a tag as it is.
func plainName(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return s != ""
}

// isEmpty is encoding/json's omitempty test.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}
