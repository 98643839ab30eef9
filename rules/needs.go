package rules

import (
	"slices"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// MetricsRead returns, sorted, the indexes in f.Metrics of the metrics
// that the programs read; nil programs are skipped. It is what Rule.Needs
// holds for a rule's When and Weight, for rules built in code.
func MetricsRead(f *File, progs ...*vm.Program) []int {
	index := make(map[string]int, len(f.Metrics))
	for _, m := range f.Metrics {
		index[m.Name] = m.Index
	}
	needs := map[int]bool{}
	for _, p := range progs {
		if p != nil {
			addNeeds(index, p, needs)
		}
	}
	return sortedNeeds(needs)
}

// addNeeds adds to needs the indexes of the metrics prog reads.
func addNeeds(index map[string]int, prog *vm.Program, needs map[int]bool) {
	ast.Walk(ptr(prog.Node()), &needsVisitor{index: index, needs: needs})
}

func ptr(n ast.Node) *ast.Node { return &n }

// needsVisitor collects the metrics an expression reads.
type needsVisitor struct {
	index map[string]int
	needs map[int]bool
}

func (v *needsVisitor) Visit(n *ast.Node) {
	if id, ok := (*n).(*ast.IdentifierNode); ok {
		if i, ok := v.index[id.Value]; ok {
			v.needs[i] = true
		}
	}
}

// sortedNeeds turns the set into the sorted slice Rule.Needs holds.
func sortedNeeds(needs map[int]bool) []int {
	out := make([]int, 0, len(needs))
	for i := range needs {
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}
