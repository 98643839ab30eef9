package rules

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/checker"
	exprcompiler "github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
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

// intFunction replaces expr's int, which converts a float64 as Go does:
// +Inf became -9223372036854775808, so int(ratio * 100) >= 5 was false
// where ratio * 100 >= 5 is true. It truncates toward zero as before, and
// a number that is not finite or beyond the integers is an error: the
// rule is unknown, as a weight that is not finite is. It keeps expr's
// argument check and integer result, so that int(x) % 2 still compiles.
var intFunction = &builtin.Function{
	Name:     "int",
	Func:     finiteInt,
	Validate: builtin.Builtins[builtin.Index["int"]].Validate,
}

// finiteInt is int(x) for a number x.
func finiteInt(args ...any) (any, error) {
	switch x := args[0].(type) {
	case int:
		return x, nil
	case float64:
		// 2^63 is the first float64 beyond int64's range.
		if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) >= 1<<63 {
			return nil, fmt.Errorf("int(%v): not a number an integer can hold", x)
		}
		return int(x), nil
	}
	return nil, fmt.Errorf("int(%v): not a number", args[0])
}

// compiler compiles the expressions of one file against its metrics.
type compiler struct {
	index map[string]int // metric name → index in File.Metrics
	names []string       // every known metric name, for suggestions
	// cfg is expr's configuration, built once per file and shared by every
	// compilation: expr.Compile builds a new one per call, whose type
	// environment (one entry per metric) cost O(metrics) per rule, 17 GB
	// allocated for 10,000 rules over 10,000 metrics.
	cfg   *conf.Config
	rules int // rules read so far, over all services
	// nodes counts the expression nodes compiled so far, over all services
	// and after YAML aliases are expanded, against MaxFileNodes.
	nodes int
	// overNodes is set once the file went over MaxFileNodes (reported once).
	overNodes bool
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
	c.cfg = newConfig(env)
	return c
}

// newConfig is what expr.Compile builds from expr.Env(env),
// expr.MaxNodes(MaxExprNodes) and every builtin but Builtins disabled.
func newConfig(env map[string]any) *conf.Config {
	cfg := conf.CreateNew()
	cfg.WithEnv(env)
	cfg.MaxNodes = MaxExprNodes
	cfg.Disabled = disabledBuiltins
	for name := range disabledBuiltins {
		delete(cfg.Builtins, name)
	}
	cfg.Functions[intFunction.Name] = intFunction
	return cfg
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
	if c.overNodes {
		return nil // reported once, where the file went over
	}
	want := kindNumber
	if asBool {
		want = kindBool
	}
	prog, nodes, err := compileExpr(src, c.cfg, want)
	if c.nodes += nodes; c.nodes > MaxFileNodes {
		c.overNodes = true
		p.errorf(n, ctx, "%s: too many expression nodes in the file: more than %d, counting each use of a YAML alias", what, MaxFileNodes)
		return nil
	}
	if err != nil {
		p.exprError(c, n, off, ctx, what, err)
		return nil
	}
	addNeeds(c.index, prog, needs)
	return prog
}

// compileExpr does what expr.Compile does, with the shared cfg, and in
// between checks that src uses only what rules may (checkAllowed) and
// that every node of the typed tree is a number or a bool where one is
// needed (checkKinds). It returns the number of nodes parsed, also on
// failure, and turns a panic of the library into an error.
func compileExpr(src string, cfg *conf.Config, want kind) (prog *vm.Program, nodes int, err error) {
	defer func() {
		if r := recover(); r != nil {
			prog, err = nil, fmt.Errorf("cannot compile: %v", r)
		}
	}()
	cfg.ExpectAny = true
	cfg.Expect = reflect.Float64
	if want == kindBool {
		cfg.Expect = reflect.Bool
	}
	tree, err := exprparser.ParseWithConfig(src, cfg)
	if err != nil {
		return nil, 0, err
	}
	nodes = countNodes(tree.Node)
	if err := checkAllowed(tree); err != nil {
		return nil, nodes, err
	}
	if _, err := checker.Check(tree, cfg); err != nil {
		return nil, nodes, err
	}
	if err := checkKinds(tree, want); err != nil {
		return nil, nodes, err
	}
	if err := optimizer.Optimize(&tree.Node, cfg); err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			return nil, nodes, fe.Bind(tree.Source)
		}
		return nil, nodes, err
	}
	prog, err = exprcompiler.Compile(tree, cfg)
	return prog, nodes, err
}

// countNodes is the number of nodes of the tree at n.
func countNodes(n ast.Node) int {
	v := &countVisitor{}
	ast.Walk(&n, v)
	return v.n
}

type countVisitor struct{ n int }

func (v *countVisitor) Visit(*ast.Node) { v.n++ }

// allowedOps are the operators rules may use: arithmetic, comparison and
// logic on numbers.
var allowedOps = []string{"+", "-", "*", "/", "%", "**", "^", "==", "!=", "<", ">", "<=", ">=", "&&", "||", "and", "or", "!", "not"}

// checkAllowed rejects, with its position, the first construct of the
// parsed tree that rules do not need and that could make an evaluation
// slow or large: anything but numbers, metric names, the operators of
// allowedOps, a ? b : c and the functions of Builtins. The run time of an
// allowed expression is linear in its length, and it allocates nothing
// that grows.
func checkAllowed(tree *exprparser.Tree) error {
	v := &allowVisitor{}
	ast.Walk(&tree.Node, v)
	if v.bad == nil {
		return nil
	}
	fe := &file.Error{Location: v.bad.Location(), Message: v.msg}
	return fe.Bind(tree.Source)
}

// allowVisitor finds the first node, in source order, that rules may not
// use; but a call of a function goes before a value (string, nil, list,
// map), since it says more: in `[cpu] | len() > 0` the list is only there
// for len.
type allowVisitor struct {
	bad ast.Node
	msg string
}

func (v *allowVisitor) Visit(n *ast.Node) {
	msg := disallowed(*n)
	if msg == "" {
		return
	}
	if v.bad != nil {
		switch {
		case isCallNode(*n) && isValueNode(v.bad):
		case isValueNode(*n) && isCallNode(v.bad), v.bad.Location().From <= (*n).Location().From:
			return
		}
	}
	v.bad, v.msg = *n, msg
}

func isCallNode(n ast.Node) bool {
	switch n.(type) {
	case *ast.CallNode, *ast.BuiltinNode:
		return true
	}
	return false
}

func isValueNode(n ast.Node) bool {
	switch n.(type) {
	case *ast.StringNode, *ast.BytesNode, *ast.NilNode, *ast.ArrayNode, *ast.MapNode, *ast.PairNode:
		return true
	}
	return false
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
		if id, ok := n.Callee.(*ast.IdentifierNode); ok {
			if id.Value == intFunction.Name {
				return ""
			}
			if slices.Contains(builtin.Names, id.Value) {
				return fmt.Sprintf("function %s is not available in rules (these are: %s)", id.Value, strings.Join(Builtins, ", "))
			}
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

// exprError reports a compile error with expr's message, a suggestion for
// an unknown name, and the error's own position when the text is found.
func (p *parser) exprError(c *compiler, n *yaml.Node, off int, ctx, what string, err error) {
	var fe *file.Error
	if !errors.As(err, &fe) {
		msg := err.Error()
		if want, got, ok := checkerKind(msg); ok {
			// expr's words for a when that is a number, or a weight that
			// is true/false.
			msg = wrongRoot(want, got)
		}
		p.errorf(n, ctx, "%s: %s", what, msg)
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
