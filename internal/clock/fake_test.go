package clock

import (
	"testing"
	"time"
)

func TestFakeTicker(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f := NewFake(t0)
	tk := f.NewTicker(time.Second)
	f.WaitTicker()
	f.Advance(999 * time.Millisecond)
	select {
	case <-tk.C():
		t.Fatal("ticked before its period")
	default:
	}
	f.Advance(time.Millisecond)
	if got := <-tk.C(); !got.Equal(t0.Add(time.Second)) {
		t.Errorf("tick at %v, want %v", got, t0.Add(time.Second))
	}
	// Ticks not received are dropped: one is delivered, not five.
	f.Advance(5 * time.Second)
	<-tk.C()
	select {
	case <-tk.C():
		t.Fatal("a dropped tick was delivered")
	default:
	}
	if !f.Now().Equal(t0.Add(6 * time.Second)) {
		t.Errorf("Now = %v", f.Now())
	}
	tk.Reset(10 * time.Second)
	f.Advance(9 * time.Second)
	select {
	case <-tk.C():
		t.Fatal("ticked before the reset period")
	default:
	}
	f.Advance(time.Second)
	<-tk.C()
	tk.Stop()
	f.Advance(time.Minute)
	select {
	case <-tk.C():
		t.Fatal("a stopped ticker ticked")
	default:
	}
}
