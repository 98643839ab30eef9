package backtest

import "time"

// TimelineWidth is the most characters a timeline takes: with its name
// and frame, a line of the text report fits 100 columns.
const TimelineWidth = 78

// codeFlap marks a bucket in which what the agent wanted changed more than
// twice: more than one excursion, flapping.
const codeFlap = '!'

// TimelineLegend explains the timeline's characters.
const TimelineLegend = ". up, full weight  w reduced weight  H held by the guardrail  D drain  M maint  X down\n" +
	"  ! flapping (3+ changes)  blank: server not known"

// timeline renders a run of n steps (their codes, as spans) as at most
// width characters, one per bucket of consecutive steps: each shows the
// worst state of its bucket, or ! when what the agent wanted changed more
// than twice within it (changes holds the steps of the changes, in order).
func timeline(spans []span, n int, changes []int, width int) string {
	if n == 0 || width <= 0 {
		return ""
	}
	size := BucketSize(n, width)
	out := make([]byte, 0, (n+size-1)/size)
	c, s := 0, 0
	for first := 0; first < n; first += size {
		last := min(first+size, n)
		// The spans that overlap [first, last): s is the one holding first.
		for s+1 < len(spans) && int(spans[s+1].from) <= first {
			s++
		}
		worst := spans[s].code
		for j := s + 1; j < len(spans) && int(spans[j].from) < last; j++ {
			if severity(spans[j].code) > severity(worst) {
				worst = spans[j].code
			}
		}
		k := 0
		for c < len(changes) && changes[c] < last {
			if changes[c] >= first {
				k++
			}
			c++
		}
		if k > 2 {
			worst = codeFlap
		}
		out = append(out, worst)
	}
	return string(out)
}

// BucketSize is how many steps of n one character of a timeline at most
// width characters stands for.
func BucketSize(n, width int) int {
	return max(1, (n+width-1)/width)
}

// BucketDuration is the simulated time one character of a run's timeline
// stands for.
func (r Range) BucketDuration() time.Duration {
	return time.Duration(BucketSize(r.Steps(), TimelineWidth)) * r.Step
}
