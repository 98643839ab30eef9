package rules

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/haproxy-agent/agent/internal/yamlnode"
)

// actionWords are the words an action may hold, for suggestions.
var actionWords = slices.Concat(OpWords, AdminWords, []string{"weight", "maxconn"})

// validActions lists what an action may hold, for messages.
var validActions = strings.Join(slices.Concat(OpWords, AdminWords, []string{"weight N%", "weight N", "maxconn N"}), ", ")

// ParseAction parses action text such as "drain, weight 10%": words
// separated by commas and/or spaces, case-insensitive. The words are up,
// down, fail, stopped (operational state), ready, drain, maint
// (administrative state), "weight N%" or "N%" (N an integer in 0–256, a
// percent of the server line's weight), "weight N" or "weight:N" (an
// absolute weight, 0–256, HAProxy 3.1+) and "maxconn N" or "maxconn:N"
// (N ≥ 0). An action names each kind at most
// once; empty text is an error.
func ParseAction(s string) (Action, error) {
	a := NewAction()
	words := strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	if len(words) == 0 {
		return a, fmt.Errorf("empty action: want one or more of %s", validActions)
	}
	var opWord, adminWord string
	for i := 0; i < len(words); i++ {
		w := strings.ToLower(words[i])
		op, isOp := LookupOp(w)
		admin, isAdmin := LookupAdmin(w)
		switch {
		case isOp:
			if opWord != "" {
				return a, conflict(opWord, words[i], "operational state")
			}
			opWord, a.Op = words[i], op
		case isAdmin:
			if adminWord != "" {
				return a, conflict(adminWord, words[i], "administrative state")
			}
			adminWord, a.Admin = words[i], admin
		case w == "weight" || strings.HasSuffix(w, "%") || strings.HasPrefix(w, "weight:"):
			n, abs, next, err := actionWeight(words, i)
			if err != nil {
				return a, err
			}
			if a.Weight != Unset {
				return a, fmt.Errorf("two weights (%s and %s) in one action", weightText(a.Weight, a.Absolute), weightText(n, abs))
			}
			i, a.Weight, a.Absolute = next, n, abs
		case w == "maxconn" || strings.HasPrefix(w, "maxconn:"):
			n, next, err := actionMaxconn(words, i)
			if err != nil {
				return a, err
			}
			if a.Maxconn != Unset {
				return a, fmt.Errorf("two maxconn values (%d and %d) in one action", a.Maxconn, n)
			}
			i, a.Maxconn = next, n
		default:
			return a, fmt.Errorf("unknown action %q: want %s%s", words[i], validActions, yamlnode.DidYouMean(w, actionWords))
		}
	}
	return a, nil
}

// actionWeight reads the weight that words[i] starts: "weight N%", "N%"
// or "weight:N%" (a percent), "weight N" or "weight:N" (absolute, abs).
// next is the index of its last word.
func actionWeight(words []string, i int) (n int, abs bool, next int, err error) {
	w := strings.ToLower(words[i])
	text := w
	switch {
	case w == "weight":
		if i+1 >= len(words) {
			return 0, false, i, fmt.Errorf("weight needs a number, e.g. weight 50%% (of the server's weight) or weight 50 (absolute)")
		}
		i++
		text = words[i]
	case strings.HasPrefix(w, "weight:"):
		text = strings.TrimPrefix(w, "weight:")
	}
	if !strings.HasSuffix(text, "%") {
		n, err := strconv.Atoi(text)
		if err != nil || n < 0 || n > MaxWeight || text != strconv.Itoa(n) {
			return 0, false, i, fmt.Errorf("weight %q: want an integer percent from 0%% to %d%% or an absolute weight from 0 to %d", text, MaxWeight, MaxWeight)
		}
		return n, true, i, nil
	}
	n, ok := percent(text)
	if !ok {
		return 0, false, i, fmt.Errorf("weight %q: want an integer percent from 0%% to %d%%", text, MaxWeight)
	}
	return n, false, i, nil
}

// weightText renders a weight as an action writes it: "50%" or "50".
func weightText(n int, abs bool) string {
	if abs {
		return strconv.Itoa(n)
	}
	return strconv.Itoa(n) + "%"
}

// actionMaxconn reads the maxconn that words[i] starts: "maxconn N" or
// "maxconn:N". next is the index of its last word.
func actionMaxconn(words []string, i int) (n, next int, err error) {
	w := strings.ToLower(words[i])
	text := strings.TrimPrefix(w, "maxconn:")
	if w == "maxconn" {
		if i+1 >= len(words) {
			return 0, i, fmt.Errorf("maxconn needs a number, e.g. maxconn 100")
		}
		i++
		text = words[i]
	}
	n, err = strconv.Atoi(text)
	if err != nil || n < 0 || n > MaxMaxconn {
		return 0, i, fmt.Errorf("maxconn %q: want an integer from 0 (unlimited) to %d", text, MaxMaxconn)
	}
	return n, i, nil
}

func conflict(first, second, kind string) error {
	if strings.EqualFold(first, second) {
		return fmt.Errorf("%q given twice in one action", second)
	}
	return fmt.Errorf("%q and %q in one action: both set the %s", first, second, kind)
}
