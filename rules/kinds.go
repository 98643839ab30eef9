package rules

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	exprparser "github.com/expr-lang/expr/parser"
)

// kind is what a rule expression's node yields: rules compute with
// numbers and true/false, nothing else.
type kind int

const (
	kindBad kind = iota // already reported
	kindNumber
	kindBool
)

func (k kind) String() string {
	switch k {
	case kindNumber:
		return "a number"
	case kindBool:
		return "true/false"
	}
	return "invalid"
}

// checkKinds checks that every node of a type-checked tree yields a number
// or a bool where one is needed, and that the whole yields want. expr's
// checker lets through a node whose type it cannot tell, such as
// `cpu > 1 ? cpu : true`, and everything built on it; such an expression
// failed only at evaluation, where on_missing: fire made it fire.
func checkKinds(tree *exprparser.Tree, want kind) error {
	k := &kinder{}
	if got := k.kind(tree.Node); got != want && got != kindBad {
		k.fail(tree.Node, "%s", wrongRoot(want, got))
	}
	if k.err == nil {
		return nil
	}
	return k.err.Bind(tree.Source)
}

// wrongRoot says what a when or weight expression must be, when it is
// the other kind.
func wrongRoot(want, got kind) string {
	if want == kindBool {
		return fmt.Sprintf("must be true/false, a comparison such as cpu > 0.9; this is %s", got)
	}
	return fmt.Sprintf("must be a number, such as 100 - cpu * 50; this is %s", got)
}

// checkerKind reads expr's own message for the same mistake, "expected
// bool, but got float64", as the kinds it names.
func checkerKind(msg string) (want, got kind, ok bool) {
	w, g, found := strings.Cut(strings.TrimPrefix(msg, "expected "), ", but got ")
	if !found || !strings.HasPrefix(msg, "expected ") {
		return 0, 0, false
	}
	of := func(t string) kind {
		switch t {
		case "bool":
			return kindBool
		case "float64", "float32", "int", "int64":
			return kindNumber
		}
		return kindBad
	}
	want, got = of(w), of(g)
	return want, got, want != kindBad && got != kindBad && want != got
}

// kinder walks a typed tree, keeping the first problem found.
type kinder struct {
	err *file.Error
}

func (k *kinder) fail(n ast.Node, format string, args ...any) {
	if k.err == nil {
		k.err = &file.Error{Location: n.Location(), Message: fmt.Sprintf(format, args...)}
	}
}

// need checks that n yields want; what names n's role in messages.
func (k *kinder) need(n ast.Node, want kind, what string) {
	if got := k.kind(n); got != want && got != kindBad {
		k.fail(n, "%s must be %s, not %s", what, want, got)
	}
}

// kind returns what n yields, after checking its operands.
func (k *kinder) kind(n ast.Node) kind {
	switch n := n.(type) {
	case *ast.ConditionalNode:
		k.need(n.Cond, kindBool, "the condition of ?:")
		a, b := k.kind(n.Exp1), k.kind(n.Exp2)
		if a == kindBad || b == kindBad {
			return kindBad
		}
		if a != b {
			k.fail(n, "the two branches of ?: must both be numbers or both true/false; here one is %s and the other %s", a, b)
			return kindBad
		}
		return a
	case *ast.UnaryNode:
		switch n.Operator {
		case "!", "not":
			k.need(n.Node, kindBool, "the operand of "+n.Operator)
			return kindBool
		}
		k.need(n.Node, kindNumber, "the operand of "+n.Operator)
		return kindNumber
	case *ast.BinaryNode:
		return k.binary(n)
	case *ast.BuiltinNode:
		for _, a := range n.Arguments {
			k.need(a, kindNumber, "an argument of "+n.Name)
		}
		return kindNumber
	case *ast.CallNode:
		// The only call compiled as one is int (see intFunction).
		for _, a := range n.Arguments {
			k.need(a, kindNumber, "an argument of "+n.Callee.String())
		}
		return kindNumber
	}
	return k.leaf(n)
}

// binary checks an operator's operands and returns what it yields.
func (k *kinder) binary(n *ast.BinaryNode) kind {
	switch n.Operator {
	case "&&", "||", "and", "or":
		k.need(n.Left, kindBool, "the left operand of "+n.Operator)
		k.need(n.Right, kindBool, "the right operand of "+n.Operator)
		return kindBool
	case "==", "!=":
		a, b := k.kind(n.Left), k.kind(n.Right)
		if a != b && a != kindBad && b != kindBad {
			k.fail(n, "%s compares %s with %s", n.Operator, a, b)
		}
		return kindBool
	case "<", ">", "<=", ">=":
		k.need(n.Left, kindNumber, "the left operand of "+n.Operator)
		k.need(n.Right, kindNumber, "the right operand of "+n.Operator)
		return kindBool
	case "%":
		// % takes integers only, and expr checks that only where it
		// knows both types: (cpu > 1 ? 1 : cpu) % 2 failed at evaluation.
		for _, o := range []ast.Node{n.Left, n.Right} {
			if k.need(o, kindNumber, "an operand of %"); !isInteger(o.Type()) {
				k.fail(o, "%% takes integers; use int(...)")
			}
		}
		return kindNumber
	}
	k.need(n.Left, kindNumber, "the left operand of "+n.Operator)
	k.need(n.Right, kindNumber, "the right operand of "+n.Operator)
	return kindNumber
}

// leaf returns what a node without operands yields, from the type expr's
// checker gave it.
func (k *kinder) leaf(n ast.Node) kind {
	t := n.Type()
	switch {
	case t == nil:
	case t.Kind() == reflect.Bool:
		return kindBool
	case isInteger(t) || t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return kindNumber
	}
	k.fail(n, "%s is neither a number nor true/false", n.String())
	return kindBad
}

func isInteger(t reflect.Type) bool {
	if t == nil {
		return false
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}
