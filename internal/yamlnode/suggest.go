package yamlnode

import (
	"fmt"
	"strings"
)

// Suggest returns the candidate nearest to word, ignoring case, when it is
// close enough to be a likely typo, or else the first candidate that word
// cuts short (keep_firing for keep_firing_for; words of 4 bytes or more), or
// "". Of equally near candidates the first wins.
func Suggest(word string, candidates []string) string {
	best, bestDist := "", -1
	w := strings.ToLower(word)
	for _, c := range candidates {
		d := editDistance(w, strings.ToLower(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	if best != "" && bestDist <= maxTypo(word) {
		return best
	}
	if len(w) >= 4 {
		for _, c := range candidates {
			if strings.HasPrefix(strings.ToLower(c), w) {
				return c
			}
		}
	}
	return ""
}

// DidYouMean renders Suggest's answer as a message suffix,
// `; did you mean "x"?`, or "" when there is none.
func DidYouMean(word string, candidates []string) string {
	if s := Suggest(word, candidates); s != "" {
		return fmt.Sprintf("; did you mean %q?", s)
	}
	return ""
}

// maxTypo is how many edits still read as a typo for a word of that length.
func maxTypo(word string) int {
	switch n := len(word); {
	case n <= 3:
		return 1
	case n <= 6:
		return 2
	default:
		return 3
	}
}

// editDistance is the Levenshtein distance between a and b, in bytes.
// Inputs are short names; very long inputs are not compared.
func editDistance(a, b string) int {
	if len(a) > 256 || len(b) > 256 {
		return len(a) + len(b)
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
