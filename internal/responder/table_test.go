package responder

import (
	"testing"
	"time"
)

// TestNewTable checks a table through what polls get from it: lines copied
// and newline-terminated, "" and DefaultService selecting the default, a
// service named DefaultService dropped.
func TestNewTable(t *testing.T) {
	h := start(t, Options{})
	def := []byte("up ready 100%")
	svc := map[string][]byte{
		"worker":       []byte("up drain 50%\r\n"),
		DefaultService: []byte("down\n"),
	}
	h.srv.Publish(NewTable(def, svc))
	def[0] = 'X'
	svc["worker"][0] = 'X'
	svc["late"] = []byte("x")

	for send, want := range map[string]string{
		"\n":                   "up ready 100%\n",
		DefaultService + "\n":  "up ready 100%\n",
		"worker\n":             "up drain 50%\n",
		"late\n":               "\n", // unknown: the map was copied
		"worker\r\n":           "up drain 50%\n",
		"not-a-service-here\n": "\n",
	} {
		if got := h.poll(send, false); got != want {
			t.Errorf("poll %q: got %q, want %q", send, got, want)
		}
	}
}

// TestTableWithoutServicesReadsNothing: a table whose only service is
// DefaultService is answered at once, without waiting for a line.
func TestTableWithoutServicesReadsNothing(t *testing.T) {
	h := start(t, Options{ReadTimeout: time.Minute})
	h.srv.Publish(NewTable([]byte(defaultLine), map[string][]byte{DefaultService: []byte("x")}))
	if got := h.poll("", false); got != defaultLine {
		t.Errorf("poll: got %q, want %q", got, defaultLine)
	}
}
