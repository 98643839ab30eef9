package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	exprparser "github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"

	"github.com/haproxy-agent/agent/internal/yamlnode"
)

// Builtins are the expression functions rules may call: arithmetic on
// numbers only. Every other builtin of expr-lang (time, strings, lists,
// JSON...) is disabled: rules compare and compute numbers.
var Builtins = []string{"abs", "ceil", "floor", "round", "min", "max", "int", "float"}

// disabledBuiltins holds every builtin of expr-lang not in Builtins. It is
// shared, read-only, by every compilation.
var disabledBuiltins = func() map[string]bool {
	m := make(map[string]bool, len(builtin.Names))
	for _, name := range builtin.Names {
		if !slices.Contains(Builtins, name) {
			m[name] = true
		}
	}
	return m
}()

// disableBuiltins is expr.DisableBuiltin for all of disabledBuiltins at
// once: one option per builtin cost half the allocations of a load. expr
// only reads Config.Disabled, so the map can be shared.
func disableBuiltins(c *conf.Config) { c.Disabled = disabledBuiltins }

// compiler compiles the expressions of one file against its metrics.
type compiler struct {
	index    map[string]int // metric name → index in File.Metrics
	names    []string       // every known metric name, for suggestions
	whenOpts []expr.Option
	wOpts    []expr.Option
	rules    int // rules read so far, over all services
}

// newCompiler prepares compilation against the file's metrics. Names in
// known whose definition failed still compile, so that one bad metric
// gives one error, not one per rule.
func (p *parser) newCompiler(f *File, known map[string]bool) *compiler {
	c := &compiler{index: make(map[string]int, len(f.Metrics))}
	env := make(map[string]any, len(known))
	for name := range known {
		env[name] = float64(0)
		c.names = append(c.names, name)
	}
	slices.Sort(c.names)
	for _, m := range f.Metrics {
		c.index[m.Name] = m.Index
	}
	base := []expr.Option{expr.Env(env), expr.MaxNodes(MaxExprNodes), disableBuiltins}
	c.whenOpts = append(slices.Clip(base), expr.AsBool())
	c.wOpts = append(slices.Clip(base), expr.AsFloat64())
	return c
}

// compile compiles src, the text of n from byte offset off (or all of a
// block), into a bool (when) or number (weight) program, reporting errors
// at their own column where it can be found. It adds the metrics the
// program reads to needs.
func (p *parser) compile(c *compiler, n *yaml.Node, off int, src, ctx, what string, asBool bool, needs map[int]bool) *vm.Program {
	if strings.TrimSpace(src) == "" {
		p.errorf(n, ctx, "%s: empty expression", what)
		return nil
	}
	if len(src) > MaxExprLen {
		p.errorf(n, ctx, "%s: expression too long: %d bytes, the limit is %d", what, len(src), MaxExprLen)
		return nil
	}
	opts := c.wOpts
	if asBool {
		opts = c.whenOpts
	}
	prog, err := compileExpr(src, opts)
	if err == nil {
		// Disabling builtins does not reach expr's predicates (all, map,
		// filter...), ranges, let or literals, with which a 50-byte
		// expression loops for minutes: allow only what rules need.
		err = checkAllowed(src)
	}
	if err != nil {
		p.exprError(c, n, off, ctx, what, err)
		return nil
	}
	ast.Walk(ptr(prog.Node()), &needsVisitor{index: c.index, needs: needs})
	return prog
}

func ptr(n ast.Node) *ast.Node { return &n }

// allowedOps are the operators rules may use: arithmetic, comparison and
// logic on numbers.
var allowedOps = []string{"+", "-", "*", "/", "%", "**", "^", "==", "!=", "<", ">", "<=", ">=", "&&", "||", "and", "or", "!", "not"}

// checkAllowed rejects, with its position, the first construct of src that
// rules do not need and that could make an evaluation slow or large:
// anything but numbers, metric names, the operators of allowedOps, a ? b : c
// and the functions of Builtins. The run time of an allowed expression is
// linear in its length, and it allocates nothing that grows.
func checkAllowed(src string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot compile: %v", r)
		}
	}()
	tree, err := exprparser.Parse(src)
	if err != nil {
		return err
	}
	v := &allowVisitor{}
	ast.Walk(&tree.Node, v)
	if v.bad == nil {
		return nil
	}
	fe := &file.Error{Location: v.bad.Location(), Message: v.msg}
	return fe.Bind(file.NewSource(src))
}

// allowVisitor finds the first node, in source order, that rules may not use.
type allowVisitor struct {
	bad ast.Node
	msg string
}

func (v *allowVisitor) Visit(n *ast.Node) {
	msg := disallowed(*n)
	if msg == "" || v.bad != nil && v.bad.Location().From <= (*n).Location().From {
		return
	}
	v.bad, v.msg = *n, msg
}

// disallowed says why n may not appear in a rule expression, or "".
func disallowed(n ast.Node) string {
	switch n := n.(type) {
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.ConditionalNode:
		return ""
	case *ast.IdentifierNode:
		if strings.HasPrefix(n.Value, "$") {
			return fmt.Sprintf("%s is not available in rules", n.Value)
		}
		return ""
	case *ast.UnaryNode:
		if slices.Contains(allowedOps, n.Operator) {
			return ""
		}
		return fmt.Sprintf("operator %s is not available in rules", n.Operator)
	case *ast.BinaryNode:
		if slices.Contains(allowedOps, n.Operator) {
			return ""
		}
		return fmt.Sprintf("operator %s is not available in rules", n.Operator)
	case *ast.BuiltinNode:
		if slices.Contains(Builtins, n.Name) {
			return ""
		}
		return fmt.Sprintf("function %s is not available in rules (these are: %s)", n.Name, strings.Join(Builtins, ", "))
	case *ast.CallNode:
		if _, ok := n.Callee.(*ast.IdentifierNode); ok {
			return "" // an unknown name: the compiler says which
		}
		return "only the functions " + strings.Join(Builtins, ", ") + " may be called"
	case *ast.StringNode, *ast.BytesNode:
		return "strings are not available in rules"
	case *ast.NilNode:
		return "nil is not available in rules"
	case *ast.ArrayNode, *ast.SliceNode:
		return "lists are not available in rules"
	case *ast.MapNode, *ast.PairNode:
		return "maps are not available in rules"
	case *ast.MemberNode, *ast.ChainNode:
		return "field access is not available in rules"
	case *ast.VariableDeclaratorNode, *ast.SequenceNode:
		return "let and ; are not available in rules"
	}
	return fmt.Sprintf("%s is not available in rules", strings.TrimPrefix(fmt.Sprintf("%T", n), "*ast."))
}

// compileExpr compiles, turning a panic of the library into an error.
func compileExpr(src string, opts []expr.Option) (prog *vm.Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot compile: %v", r)
		}
	}()
	return expr.Compile(src, opts...)
}

// exprError reports a compile error with expr's message, a suggestion for
// an unknown name, and the error's own position when the text is found.
func (p *parser) exprError(c *compiler, n *yaml.Node, off int, ctx, what string, err error) {
	var fe *file.Error
	if !errors.As(err, &fe) {
		p.errorf(n, ctx, "%s: %v", what, err)
		return
	}
	msg := fe.Message
	if name, ok := strings.CutPrefix(msg, "unknown name "); ok {
		if s := yamlnode.DidYouMean(name, c.names); s != "" {
			msg += s
		} else if slices.Contains(builtin.Names, name) {
			msg = fmt.Sprintf("function %s is not available in rules (these are: %s)", name, strings.Join(Builtins, ", "))
		}
	}
	if strings.Contains(msg, "exceeds maximum allowed nodes") {
		p.errorf(n, ctx, "%s: expression too complex: more than %d nodes", what, MaxExprNodes)
		return
	}
	if fe.Line == 0 { // no position: a type error of the whole expression
		p.errorf(n, ctx, "%s: %s", what, msg)
		return
	}
	if pos, ok := p.innerPos(n, off, fe.Line, fe.Column+1); ok {
		p.errAt(pos, ctx, "%s: %s", what, msg)
		return
	}
	p.errorf(n, ctx, "%s: %s (line %d, column %d of the expression)", what, msg, fe.Line, fe.Column+1)
}

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
