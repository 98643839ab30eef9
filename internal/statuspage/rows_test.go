package statuspage

import (
	"html/template"
	"strings"
	"testing"
)

// TestEscapeAsTemplate checks escape against template.HTMLEscapeString.
func TestEscapeAsTemplate(t *testing.T) {
	for _, s := range []string{"", "plain", `<script>alert("x")</script>`, "a&b'c\x00d>", "é<ü>", "&&&", "tail<"} {
		var b strings.Builder
		escape(&b, s)
		if want := template.HTMLEscapeString(s); b.String() != want {
			t.Errorf("escape(%q) = %q; want %q", s, b.String(), want)
		}
	}
}
