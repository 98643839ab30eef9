package ruletest

import "strings"

// suggest returns the candidate closest to word when few enough edits
// separate them to read as a typo, or "".
func suggest(word string, candidates []string) string {
	limit := 1
	if n := len(word); n > 6 {
		limit = 3
	} else if n > 3 {
		limit = 2
	}
	best, bestD := "", limit+1
	for _, c := range candidates {
		if d := levenshtein(strings.ToLower(word), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// levenshtein counts the single-byte edits that turn a into b. Long inputs
// are not compared: names are short.
func levenshtein(a, b string) int {
	if len(a) > 128 || len(b) > 128 {
		return len(a) + len(b)
	}
	row := make([]int, len(b)+1)
	for j := range row {
		row[j] = j
	}
	for i := 1; i <= len(a); i++ {
		diag := row[0]
		row[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			up := row[j]
			row[j] = min(row[j]+1, row[j-1]+1, diag+cost)
			diag = up
		}
	}
	return row[len(b)]
}
