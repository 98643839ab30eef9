package backtest

import (
	"strings"
	"testing"
	"time"
)

// TestTextCounts: the totals line counts in words that agree with the
// number: 1 change, 2 changes.
func TestTextCounts(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	r, err := NewRange(t0, t0.Add(time.Hour), 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range map[int]string{0: "0 changes", 1: "1 change,", 2: "2 changes"} {
		tg := &Target{Name: "default", Initial: "up ready 100%", Changes: []Change{}, Totals: Totals{Changes: n}, Timeline: "...."}
		var b strings.Builder
		if err := (&Report{rng: r, Services: []*Target{tg}}).WriteText(&b); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), ", "+want) {
			t.Errorf("%d changes: want %q in\n%s", n, want, b.String())
		}
	}
}
