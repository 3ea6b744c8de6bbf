package rules

import (
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
)

// decimalTraits are the operators a Decimal supports on the left: ==, <,
// <=, >, >=, +, -, * and unary -, against a decimal, an int, a uint or a
// double.
const decimalTraits = traits.ComparerType | traits.AdderType | traits.SubtractorType |
	traits.MultiplierType | traits.NegatorType

// DecimalType is the CEL type of a DynamoDB number: an exact decimal, so
// a 38-digit number compares and adds without the rounding of a double.
var DecimalType = types.NewObjectType("ddbsync.decimal", decimalTraits)

// Decimal is a DynamoDB number as a CEL value: unscaled × 10^exp.
type Decimal struct {
	unscaled *big.Int
	exp      int
	text     string // the DynamoDB spelling, kept when the value is unchanged
}

// maxExponent bounds the exponents a Decimal parses, well beyond
// DynamoDB's 10^-130..10^126, so a hostile input cannot make a huge
// big.Int.
const maxExponent = 400

// parseDecimal reads a DynamoDB number such as "-12.5E+3".
func parseDecimal(s string) (Decimal, error) {
	t := strings.TrimSpace(s)
	mant, expPart := t, ""
	if i := strings.IndexAny(t, "eE"); i >= 0 {
		mant, expPart = t[:i], t[i+1:]
	}
	exp := 0
	if expPart != "" {
		e, err := strconv.Atoi(expPart)
		if err != nil || e > maxExponent || e < -maxExponent {
			return Decimal{}, fmt.Errorf("%q is not a number", s)
		}
		exp = e
	}
	neg := strings.HasPrefix(mant, "-")
	mant = strings.TrimPrefix(strings.TrimPrefix(mant, "-"), "+")
	intPart, frac, _ := strings.Cut(mant, ".")
	digits := intPart + frac
	if digits == "" || strings.Trim(digits, "0123456789") != "" || len(digits) > maxExponent {
		return Decimal{}, fmt.Errorf("%q is not a number", s)
	}
	u, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return Decimal{}, fmt.Errorf("%q is not a number", s)
	}
	if neg {
		u.Neg(u)
	}
	return Decimal{unscaled: u, exp: exp - len(frac), text: s}, nil
}

// decimalOf converts an int, uint or double CEL value to a Decimal.
func decimalOf(v ref.Val) (Decimal, bool) {
	switch v := v.(type) {
	case Decimal:
		return v, true
	case types.Int:
		return Decimal{unscaled: big.NewInt(int64(v))}, true
	case types.Uint:
		return Decimal{unscaled: new(big.Int).SetUint64(uint64(v))}, true
	case types.Double:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return Decimal{}, false
		}
		d, err := parseDecimal(strconv.FormatFloat(f, 'g', -1, 64))
		return d, err == nil
	}
	return Decimal{}, false
}

// align returns the unscaled values of a and b at their common exponent.
func align(a, b Decimal) (x, y *big.Int, exp int) {
	x, y = a.unscaled, b.unscaled
	switch {
	case a.exp > b.exp:
		x = new(big.Int).Mul(x, pow10(a.exp-b.exp))
		return x, y, b.exp
	case b.exp > a.exp:
		y = new(big.Int).Mul(y, pow10(b.exp-a.exp))
	}
	return x, y, a.exp
}

func pow10(n int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil) }

// String returns the number in DynamoDB's spelling: the original text if
// the value came from an item, else plain digits with a decimal point.
func (d Decimal) String() string {
	if d.text != "" {
		return d.text
	}
	s := new(big.Int).Abs(d.unscaled).String()
	sign := ""
	if d.unscaled.Sign() < 0 {
		sign = "-"
	}
	if d.exp >= 0 {
		if d.unscaled.Sign() == 0 {
			return "0"
		}
		return sign + s + strings.Repeat("0", d.exp)
	}
	n := -d.exp
	if len(s) <= n {
		s = strings.Repeat("0", n-len(s)+1) + s
	}
	s = s[:len(s)-n] + "." + s[len(s)-n:]
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "0" {
		return "0"
	}
	return sign + s
}

// ConvertToNative implements ref.Val.
func (d Decimal) ConvertToNative(typeDesc reflect.Type) (any, error) {
	switch typeDesc.Kind() {
	case reflect.String:
		return d.String(), nil
	case reflect.Float64:
		f, err := strconv.ParseFloat(d.String(), 64)
		return f, err
	}
	if typeDesc == reflect.TypeOf(Decimal{}) {
		return d, nil
	}
	return nil, fmt.Errorf("decimal: no conversion to %v", typeDesc)
}

// ConvertToType implements ref.Val: string(n), double(n) and int(n) (for
// an integer that fits).
func (d Decimal) ConvertToType(t ref.Type) ref.Val {
	switch t {
	case types.StringType:
		return types.String(d.String())
	case types.DoubleType:
		f, err := strconv.ParseFloat(d.String(), 64)
		if err != nil {
			return types.NewErr("decimal: %v", err)
		}
		return types.Double(f)
	case types.IntType:
		r := new(big.Rat).SetInt(d.unscaled)
		if d.exp > 0 {
			r.Mul(r, new(big.Rat).SetInt(pow10(d.exp)))
		} else if d.exp < 0 {
			r.Quo(r, new(big.Rat).SetInt(pow10(-d.exp)))
		}
		if !r.IsInt() || !r.Num().IsInt64() {
			return types.NewErr("decimal %s is not an int", d)
		}
		return types.Int(r.Num().Int64())
	case DecimalType:
		return d
	case types.TypeType:
		return DecimalType
	}
	return types.NewErr("decimal: no conversion to %s", t.TypeName())
}

// Equal implements ref.Val: numerically, so 1.0 == 1 and 1E1 == 10.
func (d Decimal) Equal(other ref.Val) ref.Val {
	o, ok := decimalOf(other)
	if !ok {
		return types.False
	}
	x, y, _ := align(d, o)
	return types.Bool(x.Cmp(y) == 0)
}

// Type implements ref.Val.
func (d Decimal) Type() ref.Type { return DecimalType }

// Value implements ref.Val.
func (d Decimal) Value() any { return d.String() }

// Compare implements traits.Comparer.
func (d Decimal) Compare(other ref.Val) ref.Val {
	o, ok := decimalOf(other)
	if !ok {
		return types.MaybeNoSuchOverloadErr(other)
	}
	x, y, _ := align(d, o)
	return types.Int(x.Cmp(y))
}

func (d Decimal) arith(other ref.Val, op func(x, y *big.Int) *big.Int) ref.Val {
	o, ok := decimalOf(other)
	if !ok {
		return types.MaybeNoSuchOverloadErr(other)
	}
	x, y, exp := align(d, o)
	return Decimal{unscaled: op(x, y), exp: exp}
}

// Add implements traits.Adder.
func (d Decimal) Add(other ref.Val) ref.Val {
	return d.arith(other, func(x, y *big.Int) *big.Int { return new(big.Int).Add(x, y) })
}

// Subtract implements traits.Subtractor.
func (d Decimal) Subtract(other ref.Val) ref.Val {
	return d.arith(other, func(x, y *big.Int) *big.Int { return new(big.Int).Sub(x, y) })
}

// Multiply implements traits.Multiplier.
func (d Decimal) Multiply(other ref.Val) ref.Val {
	o, ok := decimalOf(other)
	if !ok {
		return types.MaybeNoSuchOverloadErr(other)
	}
	if d.exp+o.exp > maxExponent || d.exp+o.exp < -maxExponent {
		return types.NewErr("decimal: exponent out of range")
	}
	return Decimal{unscaled: new(big.Int).Mul(d.unscaled, o.unscaled), exp: d.exp + o.exp}
}

// Negate implements traits.Negater.
func (d Decimal) Negate() ref.Val {
	return Decimal{unscaled: new(big.Int).Neg(d.unscaled), exp: d.exp}
}
