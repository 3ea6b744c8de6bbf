package rules

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	celtypes "cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DefaultCostLimit is the CEL cost limit of one evaluation: enough for
// string work on a 400 KB item, small enough that a runaway comprehension
// stops quickly.
const DefaultCostLimit = 1_000_000

// itemVar is the CEL variable holding the whole item.
const itemVar = "item"

// expr is a compiled CEL expression.
type expr struct {
	src  string
	prg  cel.Program
	vars []string // the item's attributes named bare, besides item
	ast  *cel.Ast // the checked expression (its output type; push-down reads its form)
}

// compile compiles src once; free identifiers other than item name
// top-level attributes.
func compile(src string) (*expr, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty expression")
	}
	base, err := baseEnv()
	if err != nil {
		return nil, err
	}
	parsed, iss := base.Parse(src)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	seen := map[string]bool{itemVar: true}
	var vars []string
	var opts []cel.EnvOption
	ast.PostOrderVisit(parsed.NativeRep().Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() != ast.IdentKind {
			return
		}
		name := e.AsIdent()
		if seen[name] || strings.HasPrefix(name, "@") || strings.HasPrefix(name, "__") {
			return
		}
		seen[name] = true
		vars = append(vars, name)
		opts = append(opts, cel.Variable(name, cel.DynType))
	}))
	env, err := base.Extend(opts...)
	if err != nil {
		return nil, fmt.Errorf("declare attributes: %w", err)
	}
	checked, iss := env.Check(parsed)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	prg, err := env.Program(checked, cel.CostLimit(DefaultCostLimit))
	if err != nil {
		return nil, fmt.Errorf("plan expression: %w", err)
	}
	return &expr{src: src, prg: prg, vars: vars, ast: checked}, nil
}

// baseEnv is the CEL environment every expression extends, made once:
// item, decimal() and the conversions of a decimal.
var baseEnv = sync.OnceValues(func() (*cel.Env, error) {
	env, err := cel.NewEnv(cel.Variable(itemVar, cel.MapType(cel.StringType, cel.DynType)),
		cel.Function("decimal",
			cel.Overload("decimal_string", []*cel.Type{cel.StringType}, cel.DynType,
				cel.UnaryBinding(func(v ref.Val) ref.Val {
					d, err := parseDecimal(string(v.(celtypes.String)))
					if err != nil {
						return celtypes.NewErr("decimal: %v", err)
					}
					d.text = ""
					return d
				})),
			cel.Overload("decimal_int", []*cel.Type{cel.IntType}, cel.DynType,
				cel.UnaryBinding(func(v ref.Val) ref.Val { d, _ := decimalOf(v); return d })),
		),
		convertDecimal("string", cel.StringType, celtypes.StringType),
		convertDecimal("int", cel.IntType, celtypes.IntType),
		convertDecimal("double", cel.DoubleType, celtypes.DoubleType),
	)
	if err != nil {
		return nil, fmt.Errorf("create cel env: %w", err)
	}
	return env, nil
})

// convertDecimal adds the conversion fn(decimal) to the standard one.
func convertDecimal(fn string, result *cel.Type, to ref.Type) cel.EnvOption {
	return cel.Function(fn, cel.Overload(fn+"_ddbsync_decimal", []*cel.Type{DecimalType}, result,
		cel.UnaryBinding(func(v ref.Val) ref.Val { return v.ConvertToType(to) })))
}

// eval evaluates e on item.
func (e *expr) eval(item map[string]types.AttributeValue) (ref.Val, error) {
	v, _, err := e.prg.Eval(&activation{item: item})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// activation resolves item and the bare attribute names, converting
// attribute values to CEL only when an expression reads them.
type activation struct {
	item map[string]types.AttributeValue
	all  ref.Val
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	if name == itemVar {
		if a.all == nil {
			a.all = toCEL(&types.AttributeValueMemberM{Value: a.item})
		}
		return a.all, true
	}
	v, ok := a.item[name]
	if !ok {
		return nil, false
	}
	return toCEL(v), true
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

// toCEL converts an attribute value to CEL: S string, N decimal, B bytes,
// BOOL bool, NULL null, L list, M map, and SS, NS and BS lists of their
// members (a set read in CEL is a list; the rules that do not compute an
// attribute keep it a set).
func toCEL(v types.AttributeValue) ref.Val {
	a := celtypes.DefaultTypeAdapter
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return celtypes.String(v.Value)
	case *types.AttributeValueMemberN:
		d, err := parseDecimal(v.Value)
		if err != nil {
			return celtypes.NewErr("attribute: %v", err)
		}
		return d
	case *types.AttributeValueMemberB:
		return celtypes.Bytes(v.Value)
	case *types.AttributeValueMemberBOOL:
		return celtypes.Bool(v.Value)
	case *types.AttributeValueMemberNULL:
		return celtypes.NullValue
	case *types.AttributeValueMemberSS:
		out := make([]ref.Val, len(v.Value))
		for i, s := range v.Value {
			out[i] = celtypes.String(s)
		}
		return celtypes.NewRefValList(a, out)
	case *types.AttributeValueMemberNS:
		out := make([]ref.Val, len(v.Value))
		for i, s := range v.Value {
			out[i] = toCEL(&types.AttributeValueMemberN{Value: s})
		}
		return celtypes.NewRefValList(a, out)
	case *types.AttributeValueMemberBS:
		out := make([]ref.Val, len(v.Value))
		for i, b := range v.Value {
			out[i] = celtypes.Bytes(b)
		}
		return celtypes.NewRefValList(a, out)
	case *types.AttributeValueMemberL:
		out := make([]ref.Val, len(v.Value))
		for i, e := range v.Value {
			out[i] = toCEL(e)
		}
		return celtypes.NewRefValList(a, out)
	case *types.AttributeValueMemberM:
		m := make(map[ref.Val]ref.Val, len(v.Value))
		for k, e := range v.Value {
			m[celtypes.String(k)] = toCEL(e)
		}
		return celtypes.NewRefValMap(a, m)
	}
	return celtypes.NewErr("attribute of unknown type %T", v)
}

// fromCEL converts a computed value to an attribute value: string S,
// int, uint, double and decimal N, bytes B, bool BOOL, null NULL, list L
// and map M (with string keys).
func fromCEL(v ref.Val) (types.AttributeValue, error) {
	switch v := v.(type) {
	case celtypes.String:
		return &types.AttributeValueMemberS{Value: string(v)}, nil
	case Decimal:
		return &types.AttributeValueMemberN{Value: v.String()}, nil
	case celtypes.Int, celtypes.Uint, celtypes.Double:
		d, ok := decimalOf(v)
		if !ok {
			return nil, fmt.Errorf("%v is not a DynamoDB number", v)
		}
		return &types.AttributeValueMemberN{Value: d.String()}, nil
	case celtypes.Bytes:
		return &types.AttributeValueMemberB{Value: []byte(v)}, nil
	case celtypes.Bool:
		return &types.AttributeValueMemberBOOL{Value: bool(v)}, nil
	case celtypes.Null:
		return &types.AttributeValueMemberNULL{Value: true}, nil
	case *celtypes.Err:
		return nil, v
	}
	if l, ok := v.(traits.Lister); ok {
		var out []types.AttributeValue
		for it := l.Iterator(); it.HasNext() == celtypes.True; {
			e, err := fromCEL(it.Next())
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		if out == nil {
			out = []types.AttributeValue{}
		}
		return &types.AttributeValueMemberL{Value: out}, nil
	}
	if m, ok := v.(traits.Mapper); ok {
		out := map[string]types.AttributeValue{}
		for it := m.Iterator(); it.HasNext() == celtypes.True; {
			k := it.Next()
			ks, ok := k.(celtypes.String)
			if !ok {
				return nil, fmt.Errorf("map key %v is not a string", k)
			}
			e, err := fromCEL(m.Get(k))
			if err != nil {
				return nil, err
			}
			out[string(ks)] = e
		}
		return &types.AttributeValueMemberM{Value: out}, nil
	}
	return nil, fmt.Errorf("a %s cannot be an attribute value", v.Type().TypeName())
}
