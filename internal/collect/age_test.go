package collect_test

import (
	"errors"
	"testing"
	"time"
)

// TestStaleAgeIsReal: a metric gone stale reports how old its last good
// value is, not 0.
func TestStaleAgeIsReal(t *testing.T) {
	r := &fake{value: 7}
	c := newCollector(t, file(10*time.Second, "app"), map[string]*fake{"app": r})
	t0 := time.Now()
	c.Collect(t.Context(), t0)
	r.set(0, errors.New("down"))
	res := c.Collect(t.Context(), t0.Add(25*time.Second))
	m := res.Metrics[0]
	if m.Missing == "" {
		t.Fatalf("metric not stale after 25s with stale_after 10s: %+v", m)
	}
	if m.Age != 25*time.Second {
		t.Errorf("stale metric's age %s, want 25s", m.Age)
	}
}
