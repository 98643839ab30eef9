package ruletest

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
)

// MaxSamples caps the samples one series may expand to, so that a typo such
// as x1000000000 cannot exhaust memory.
const MaxSamples = 100000

// seriesError is a problem in series notation, at a byte offset of the
// text (-1 when the parser gave none).
type seriesError struct {
	msg    string
	offset int
}

// seriesPrefix makes the text a series description the Prometheus parser
// accepts: a metric with no labels, then values.
const seriesPrefix = "{} "

// repeatRe finds the repeat counts of the expanding notation (a+bxN, axN).
var repeatRe = regexp.MustCompile(`x\s*(\d+)`)

var seriesParser = parser.NewParser(parser.Options{})

// parseSeries expands promtool's series notation: values separated by
// spaces, `_` for a missing sample, `a+bxN` and `a-bxN` for N+1 values
// stepping by b, `axN` or `_xN` for N+1 repeats.
func parseSeries(text string) ([]Sample, *seriesError) {
	total := 0
	for _, m := range repeatRe.FindAllStringSubmatch(text, -1) {
		n, err := strconv.Atoi(m[1])
		if err != nil || n > MaxSamples {
			total = MaxSamples + 1
			break
		}
		total += n
	}
	if total > MaxSamples {
		return nil, &seriesError{msg: "series too long: the limit is " + strconv.Itoa(MaxSamples) + " samples", offset: -1}
	}
	_, vals, err := seriesParser.ParseSeriesDesc(seriesPrefix + text)
	if err != nil {
		return nil, seriesErr(err, len(text))
	}
	if len(vals) > MaxSamples {
		return nil, &seriesError{msg: "series too long: the limit is " + strconv.Itoa(MaxSamples) + " samples", offset: -1}
	}
	out := make([]Sample, len(vals))
	for i, v := range vals {
		if v.Histogram != nil {
			return nil, &seriesError{msg: "histogram samples are not supported: metrics are plain numbers", offset: -1}
		}
		out[i] = Sample{Value: v.Value, Omitted: v.Omitted}
	}
	if len(out) == 0 {
		return nil, &seriesError{msg: "series has no samples", offset: -1}
	}
	return out, nil
}

// seriesErr turns a Prometheus parse error into a message and an offset
// in the text the user wrote.
func seriesErr(err error, textLen int) *seriesError {
	var pe *parser.ParseErr
	var pes parser.ParseErrors
	switch {
	case errors.As(err, &pes) && len(pes) > 0:
		pe = &pes[0]
	case errors.As(err, &pe):
	default:
		return &seriesError{msg: "bad series notation: " + err.Error(), offset: -1}
	}
	msg := "bad series notation: " + strings.TrimSpace(pe.Err.Error())
	off := int(pe.PositionRange.Start) - len(seriesPrefix)
	if off < 0 || off > textLen {
		off = -1
	}
	return &seriesError{msg: msg, offset: off}
}
