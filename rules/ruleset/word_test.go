package ruleset

import (
	"encoding/json"
	"testing"
)

func TestWordsRoundTrip(t *testing.T) {
	for _, w := range OpWords {
		o, ok := LookupOp(w)
		if !ok || o.String() != w {
			t.Errorf("LookupOp(%q) = %v, %v", w, o, ok)
		}
	}
	for _, w := range AdminWords {
		a, ok := LookupAdmin(w)
		if !ok || a.String() != w {
			t.Errorf("LookupAdmin(%q) = %v, %v", w, a, ok)
		}
	}
	for _, w := range []string{"", "UP", "ready", "weight"} {
		if _, ok := LookupOp(w); ok {
			t.Errorf("LookupOp(%q) found a word", w)
		}
	}
	if Maint <= Drain || Drain <= Ready || Ready <= NoAdmin {
		t.Error("admin words do not rise maint over drain over ready")
	}
	if (Stopped + 1).Valid() || !(Stopped).Valid() || (Maint + 1).Valid() {
		t.Error("Valid is wrong at the edges")
	}
}

func TestWordsJSON(t *testing.T) {
	type reply struct {
		Op    Op    `json:"op"`
		Admin Admin `json:"admin"`
	}
	for _, in := range []reply{{Down, Drain}, {Up, Ready}, {NoOp, NoAdmin}, {Stopped, Maint}} {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out reply
		if err := json.Unmarshal(b, &out); err != nil || out != in {
			t.Errorf("%s read back as %+v, %v", b, out, err)
		}
	}
	var r reply
	if err := json.Unmarshal([]byte(`{"op":"sideways"}`), &r); err == nil {
		t.Error("an unknown word was read without an error")
	}
}
