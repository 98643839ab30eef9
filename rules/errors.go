package rules

import "sort"

// Sorted returns the problems in file order, each once: a node reached
// through several aliases is reported once. It reorders es in place.
func (es Errors) Sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool {
		a, b := es[i].Pos, es[j].Pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	seen := make(map[Error]bool, len(es))
	out := es[:0]
	for _, e := range es {
		if seen[*e] {
			continue
		}
		seen[*e] = true
		out = append(out, e)
	}
	return out
}
