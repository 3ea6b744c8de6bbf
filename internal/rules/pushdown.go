package rules

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	celtypes "cel.dev/cel-go/common/types"
)

// ErrNotPushable is a rule set whose filter cannot be turned into a safe
// Lambda event filter; the error says why.
var ErrNotPushable = errors.New("filter cannot be pushed down")

// unbackslash spells a quote or a backslash inside a JSON string of the
// pattern as \u0022 and \u005c, the same JSON: SAM CLI's
// --parameter-overrides unescapes \" (and "\ ", \') in a quoted value, so
// a pattern with neither survives it (cmd/ddbsync's samOverride). In valid
// JSON every backslash starts an escape, so a left-to-right scan of these
// pairs sees each escape whole.
var unbackslash = strings.NewReplacer(`\\`, `\u005c`, `\"`, `\u0022`)

// maxPatternLength is the longest Pattern a Lambda filter may have:
// https://docs.aws.amazon.com/lambda/latest/api/API_Filter.html
const maxPatternLength = 4096

// FilterCriteria is a Lambda event source mapping's FilterCriteria: the
// record reaches the function when one of the filters matches.
type FilterCriteria struct {
	Filters []Filter `json:"Filters"`
}

// Filter is one Lambda event filter.
type Filter struct {
	// Pattern is the filter pattern, as JSON in a string.
	Pattern string `json:"Pattern"`
}

// PushDown is the event filter derived from a rule set's filters.
type PushDown struct {
	// ImagePattern is the pattern of one image, {"attr":{"S":["v"]},…},
	// as JSON: the templates' StreamFilterImagePattern parameter, which
	// they put under both NewImage and OldImage.
	ImagePattern string
	// Criteria are the two filters, on NewImage and on OldImage.
	Criteria FilterCriteria
	// Notes say where the filter holds and what it does not do.
	Notes []string
}

// PushDown derives a Lambda event filter (FilterCriteria) from the rule
// set's filters that lets through every record the function needs: a
// record whose NewImage matches the filters (a put) or whose OldImage does
// (a MODIFY leaving the filter, which deletes the target item, or the
// REMOVE of a kept item). The two patterns are separate filters, which
// Lambda ORs (up to 5 filters per mapping by default):
// https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html
//
// Only these forms are pushed down, on top-level attributes that no
// earlier rule drops, renames, computes or changes: attr == "lit",
// item.attr == "lit", attr in ["a", "b"], attr == true (BOOL), has(item.attr),
// and conjunctions (&&) of them, in one filter rule or several. Numbers are
// not: a stream image's N value is a JSON string in the spelling it was
// written with ("1.0", "1E0", "1"), so neither an exact nor a numeric match
// of the pattern agrees with the rules' decimal comparison. Anything else is
// ErrNotPushable, with the reason.
//
// The filter is only safe on a NEW_AND_OLD_IMAGES stream: on a NEW_IMAGE
// stream a MODIFY leaving the filter and every REMOVE carry no OldImage and
// would be dropped, leaving stale items in the target.
func (rs *RuleSet) PushDown() (*PushDown, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrNotPushable, fmt.Sprintf(format, args...))
	}
	if rs == nil {
		return nil, fail("no rule set")
	}
	cons := map[string]*constraint{}
	filters := 0
	for i := range rs.Rules {
		r := &rs.Rules[i]
		if r.Kind != KindFilter {
			continue
		}
		filters++
		atoms, err := conjuncts(r.cond.ast.NativeRep().Expr())
		if err != nil {
			return nil, fail("rule %q (line %d): %v", r.Name, r.Line, err)
		}
		for _, a := range atoms {
			if to, ok := followAttribute(rs.Rules[:i], a.attr); !ok || to != a.attr {
				return nil, fail("rule %q (line %d) reads %s, which an earlier rule drops, renames, computes or changes: the stream's images do not have the value the filter sees",
					r.Name, r.Line, a.attr)
			}
			c := cons[a.attr]
			if c == nil {
				c = &constraint{}
				cons[a.attr] = c
			}
			if err := c.add(a); err != nil {
				return nil, fail("rule %q (line %d): %s %v", r.Name, r.Line, a.attr, err)
			}
		}
	}
	if filters == 0 {
		return nil, fail("the rule set has no filter rule: every record is needed")
	}
	image := map[string]any{}
	for attr, c := range cons {
		switch {
		case c.strings != nil:
			image[attr] = map[string][]string{"S": c.strings}
		case c.boolean != nil:
			image[attr] = map[string][]bool{"BOOL": {*c.boolean}}
		}
		// has() alone is left out: a pattern that matches more is still
		// safe, and the function applies the whole filter.
	}
	if len(image) == 0 {
		return nil, fail("the filters only test has(): a pattern of them would let every record through")
	}
	raw, err := json.Marshal(image)
	if err != nil {
		return nil, fmt.Errorf("encode pattern: %w", err)
	}
	pd := &PushDown{ImagePattern: unbackslash.Replace(string(raw))}
	for _, img := range []string{"NewImage", "OldImage"} {
		p := `{"dynamodb":{"` + img + `":` + pd.ImagePattern + `}}`
		if len(p) > maxPatternLength {
			return nil, fail("the pattern is %d characters, more than Lambda's %d", len(p), maxPatternLength)
		}
		pd.Criteria.Filters = append(pd.Criteria.Filters, Filter{Pattern: p})
	}
	pd.Notes = append(pd.Notes,
		"the function must apply this same rule set: the filter only spares it the records the rules would drop, and lets through items leaving the filter, which the rules delete from the target",
		"safe only on a NEW_AND_OLD_IMAGES stream: with NEW_IMAGE, a MODIFY leaving the filter and every REMOVE have no OldImage and would be dropped",
		"a record whose filter attribute is missing from both images never reaches the function, where a bare name would fail it (an evaluation error)")
	if rs.TTL == TTLSkip {
		pd.Notes = append(pd.Notes, "ttl_deletes: skip stays with the function: Lambda filters DynamoDB records on their dynamodb key only, "+
			"so a TTL REMOVE (userIdentity) of a kept item still reaches it, and it skips it")
	}
	return pd, nil
}

// atom is one conjunct of a filter: attr is one of strings, is boolean, or
// exists (has).
type atom struct {
	attr    string
	strings []string
	boolean *bool
}

// constraint is what the conjuncts on one attribute say together.
type constraint struct {
	strings []string // nil: no string test; sorted
	boolean *bool
}

func (c *constraint) add(a atom) error {
	switch {
	case a.strings != nil && c.boolean != nil, a.boolean != nil && c.strings != nil:
		return errors.New("is tested as a string and as a bool: the filter is never true")
	case a.strings != nil && c.strings == nil:
		c.strings = sortedSet(a.strings)
	case a.strings != nil:
		c.strings = intersect(c.strings, a.strings)
		if len(c.strings) == 0 {
			return errors.New("is tested against values that exclude each other: the filter is never true")
		}
	case a.boolean != nil && c.boolean != nil && *c.boolean != *a.boolean:
		return errors.New("is tested as both true and false: the filter is never true")
	case a.boolean != nil:
		c.boolean = a.boolean
	}
	return nil
}

// conjuncts splits a filter into its atoms, or says which part is not a
// pushable form.
func conjuncts(e ast.Expr) ([]atom, error) {
	if e.Kind() == ast.CallKind && e.AsCall().FunctionName() == operators.LogicalAnd {
		var out []atom
		for _, arg := range e.AsCall().Args() {
			a, err := conjuncts(arg)
			if err != nil {
				return nil, err
			}
			out = append(out, a...)
		}
		return out, nil
	}
	a, err := atomOf(e)
	if err != nil {
		return nil, err
	}
	return []atom{a}, nil
}

// atomOf reads one pushable form.
func atomOf(e ast.Expr) (atom, error) {
	switch e.Kind() {
	case ast.SelectKind:
		if s := e.AsSelect(); s.IsTestOnly() {
			if name, ok := itemField(s.Operand(), s.FieldName()); ok {
				return atom{attr: name}, nil
			}
		}
	case ast.CallKind:
		c := e.AsCall()
		args := c.Args()
		switch {
		case c.FunctionName() == operators.Equals && len(args) == 2:
			attr, lit := args[0], args[1]
			if attr.Kind() == ast.LiteralKind {
				attr, lit = lit, attr
			}
			name, ok := attrName(attr)
			if !ok || lit.Kind() != ast.LiteralKind {
				break
			}
			switch v := lit.AsLiteral().(type) {
			case celtypes.String:
				return atom{attr: name, strings: []string{string(v)}}, nil
			case celtypes.Bool:
				b := bool(v)
				return atom{attr: name, boolean: &b}, nil
			default:
				return atom{}, fmt.Errorf("%s is compared with a %s: only strings and bools are pushed down "+
					"(a stream image's number is a string in the spelling it was written with, which a pattern cannot compare as a decimal)",
					name, lit.AsLiteral().Type().TypeName())
			}
		case c.FunctionName() == operators.In && len(args) == 2 && args[1].Kind() == ast.ListKind:
			name, ok := attrName(args[0])
			if !ok {
				break
			}
			var vals []string
			for _, el := range args[1].AsList().Elements() {
				s, ok := literalString(el)
				if !ok {
					return atom{}, fmt.Errorf("%s in [...] lists something other than string literals", name)
				}
				vals = append(vals, s)
			}
			if len(vals) == 0 {
				return atom{}, fmt.Errorf("%s in [] is never true", name)
			}
			return atom{attr: name, strings: vals}, nil
		}
	}
	return atom{}, errors.New(`only attr == "lit", item.attr == "lit", attr in ["a", "b"], attr == true, has(item.attr) and && of them are pushed down`)
}

// attrName is the top-level attribute an expression reads as it is: a
// bare name or item.name.
func attrName(e ast.Expr) (string, bool) {
	switch e.Kind() {
	case ast.IdentKind:
		if n := e.AsIdent(); n != itemVar {
			return n, true
		}
	case ast.SelectKind:
		if s := e.AsSelect(); !s.IsTestOnly() {
			return itemField(s.Operand(), s.FieldName())
		}
	}
	return "", false
}

// itemField is field when operand is the item variable.
func itemField(operand ast.Expr, field string) (string, bool) {
	return field, operand.Kind() == ast.IdentKind && operand.AsIdent() == itemVar
}

func literalString(e ast.Expr) (string, bool) {
	if e.Kind() != ast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().(celtypes.String)
	return string(s), ok
}

func sortedSet(v []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range v {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func intersect(a, b []string) []string {
	in := map[string]bool{}
	for _, s := range b {
		in[s] = true
	}
	out := []string{}
	for _, s := range a {
		if in[s] {
			out = append(out, s)
		}
	}
	return out
}

// String returns the FilterCriteria as JSON.
func (c FilterCriteria) String() string {
	b, err := json.Marshal(c)
	if err != nil {
		return strings.TrimSpace(err.Error())
	}
	return string(b)
}
