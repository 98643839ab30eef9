package responder

import (
	"bytes"
	"testing"
)

func TestNewTable(t *testing.T) {
	def := []byte("up ready 100%")
	svc := map[string][]byte{
		"worker":       []byte("up drain 50%\r\n"),
		DefaultService: []byte("down\n"),
	}
	tb := NewTable(def, svc)
	def[0] = 'X'
	svc["worker"][0] = 'X'
	svc["late"] = []byte("x")

	if got := string(tb.Default()); got != "up ready 100%\n" {
		t.Errorf("Default() = %q", got)
	}
	if got, ok := tb.Reply("worker"); !ok || string(got) != "up drain 50%\n" {
		t.Errorf("Reply(worker) = %q, %v", got, ok)
	}
	for _, name := range []string{"", DefaultService} {
		if got, ok := tb.Reply(name); !ok || !bytes.Equal(got, tb.Default()) {
			t.Errorf("Reply(%q) = %q, %v; want the default", name, got, ok)
		}
	}
	if _, ok := tb.Reply("late"); ok {
		t.Error("the table changed with its argument map")
	}
	if !tb.HasServices() {
		t.Error("HasServices() = false")
	}
	if NewTable(def, map[string][]byte{DefaultService: []byte("x")}).HasServices() {
		t.Error(`a table whose only service is "default" must read no agent-send line`)
	}
}
