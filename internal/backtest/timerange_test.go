package backtest

import (
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
		err  string
	}{
		{in: "2026-12-01T10:00:00Z", want: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)},
		{in: "2026-12-01T11:00:00+01:00", want: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)},
		{in: "2026-12-01T10:00:00.5Z", want: time.Date(2026, 12, 1, 10, 0, 0, 5e8, time.UTC)},
		{in: "1796119200", want: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)},
		{in: "1796119200.25", want: time.Date(2026, 12, 1, 10, 0, 0, 25e7, time.UTC)},
		{in: "yesterday", err: `time "yesterday": want RFC 3339`},
		{in: "2026-12-01 10:00", err: "want RFC 3339"},
		{in: "NaN", err: "out of range"},
		{in: "1e300", err: "out of range"},
	} {
		got, err := ParseTime(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseTime(%q) = %v, %v; want error %q", tc.in, got, err, tc.err)
		case tc.err == "" && (err != nil || !got.Equal(tc.want)):
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestNewRange(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 7, 0, time.UTC)
	r, err := NewRange(t0, t0.Add(time.Hour), 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// Start moves back to a multiple of the step, end back to a whole
	// number of steps: 10:00:00 to 11:00:00, 240 steps.
	if want := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC); !r.Start.Equal(want) || !r.End.Equal(want.Add(time.Hour)) || r.Steps() != 240 {
		t.Errorf("range %+v, %d steps", r, r.Steps())
	}
	if got := r.At(239); !got.Equal(r.End.Add(-15 * time.Second)) {
		t.Errorf("last step at %v", got)
	}
	for _, tc := range []struct {
		start, end time.Time
		step       time.Duration
		err        string
	}{
		{t0, t0.Add(time.Hour), 0, "must be greater than 0"},
		{t0, t0.Add(time.Hour), 1500 * time.Microsecond, "whole number of milliseconds"},
		{t0, t0, time.Second, "is not after start"},
		{t0, t0.Add(5 * time.Second), time.Minute, "shorter than one step"},
		{t0, t0.Add(24 * 365 * time.Hour), time.Second, "the limit is 10000000"},
		// A time.Duration ends at 292 years: the span must be refused,
		// not cut there into another range.
		{time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), 24 * 365 * time.Hour, "longer than 292 years"},
		{time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), 24 * time.Hour, "longer than 292 years"},
	} {
		if _, err := NewRange(tc.start, tc.end, tc.step); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("NewRange(%v, %v, %v): %v; want %q", tc.start, tc.end, tc.step, err, tc.err)
		}
	}
}

func TestChunks(t *testing.T) {
	t0 := time.Unix(1796119200, 0).UTC()
	for _, tc := range []struct {
		steps, max int
		want       []Chunk
	}{
		{1, 10000, []Chunk{{0, 0}}},
		{10000, 10000, []Chunk{{0, 9999}}},
		{10001, 10000, []Chunk{{0, 9999}, {10000, 10000}}},
		{40320, 10000, []Chunk{{0, 9999}, {10000, 19999}, {20000, 29999}, {30000, 39999}, {40000, 40319}}},
		{7, 3, []Chunk{{0, 2}, {3, 5}, {6, 6}}},
	} {
		r := Range{Start: t0, End: t0.Add(time.Duration(tc.steps) * 15 * time.Second), Step: 15 * time.Second}
		got := r.Chunks(tc.max)
		if len(got) != len(tc.want) {
			t.Errorf("%d steps by %d: %v; want %v", tc.steps, tc.max, got, tc.want)
			continue
		}
		covered := 0
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%d steps by %d: %v; want %v", tc.steps, tc.max, got, tc.want)
			}
			// Prometheus refuses (end-start)/step > 11,000.
			if n := r.At(got[i].Last).Sub(r.At(got[i].First)) / r.Step; n >= 11000 {
				t.Errorf("chunk %v spans %d steps", got[i], n)
			}
			covered += got[i].Last - got[i].First + 1
		}
		if covered != tc.steps {
			t.Errorf("%d steps by %d: chunks cover %d", tc.steps, tc.max, covered)
		}
	}
}

func TestTimeline(t *testing.T) {
	for _, tc := range []struct {
		name    string
		states  string
		changes []int
		width   int
		want    string
	}{
		{"one per step", "..DD..", []int{2, 4}, 10, "..DD.."},
		{"worst of the bucket", "..D...ww..X.", []int{2, 3, 6, 8, 10, 11}, 4, "D.wX"},
		{"held and weight", "wwHH", []int{2}, 2, "wH"},
		{"flapping", ".D.D.D......", []int{1, 2, 3, 4, 5, 6}, 2, "!."},
		{"one excursion is not flapping", ".DD.........", []int{1, 3}, 2, "D."},
		{"unknown is least", "  ..", nil, 2, " ."},
		{"uneven last bucket", ".....D.", []int{5, 6}, 3, ".D."},
		{"empty", "", nil, 10, ""},
	} {
		got := timeline(spansOf(tc.states), len(tc.states), tc.changes, tc.width)
		if got != tc.want {
			t.Errorf("%s: Timeline(%q, %v, %d) = %q; want %q", tc.name, tc.states, tc.changes, tc.width, got, tc.want)
		}
		if len(got) > tc.width {
			t.Errorf("%s: %d characters for width %d", tc.name, len(got), tc.width)
		}
	}
	// 7 days at 15s fit the width.
	if got := timeline([]span{{code: codeUp}}, 40320, nil, TimelineWidth); len(got) > TimelineWidth || len(got) < TimelineWidth-5 {
		t.Errorf("40,320 steps: %d characters", len(got))
	}
}

// spansOf turns one code per step into spans, one per run of a code.
func spansOf(states string) []span {
	var out []span
	for k := range len(states) {
		if k == 0 || states[k] != states[k-1] {
			out = append(out, span{from: int32(k), code: states[k]})
		}
	}
	return out
}
