package rules

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.yaml.in/yaml/v3"
)

// Kind is what a rule does.
type Kind string

// The rule kinds; a rule has exactly one.
const (
	KindFilter  Kind = "filter"  // keep only items for which a CEL condition is true
	KindInclude Kind = "include" // keep only the listed attribute paths
	KindExclude Kind = "exclude" // drop the listed attribute paths
	KindRename  Kind = "rename"  // move attributes: {from: to}
	KindSet     Kind = "set"     // computed attributes: {path: CEL expression}
	KindKey     Kind = "key"     // the target key: {attribute: CEL expression}
)

var kinds = []Kind{KindFilter, KindInclude, KindExclude, KindRename, KindSet, KindKey}

// TTLPolicy says what happens to the REMOVE records of TTL expiries.
type TTLPolicy string

// The TTL-delete policies.
const (
	// TTLReplicate deletes the target item as for any REMOVE (the default).
	TTLReplicate TTLPolicy = "replicate"
	// TTLSkip skips REMOVE records whose userIdentity is the DynamoDB
	// service, so expired items stay in the target.
	TTLSkip TTLPolicy = "skip"
)

// Sentinel errors, wrapped by the errors of this package.
var (
	// ErrInvalid is a rule set that does not parse or validate; the error
	// is an *Error naming the rule and line.
	ErrInvalid = errors.New("invalid rule set")
	// ErrCollision is two source items mapped to one target key in a batch.
	ErrCollision = errors.New("target key collision")
	// ErrNeedOldImage is a change that cannot be applied correctly without
	// the old image (the stream's view type must be NEW_AND_OLD_IMAGES).
	ErrNeedOldImage = errors.New("old image needed")
)

// Error is a rule-set error at a place in its source.
type Error struct {
	// Source is the name given to Parse (a file name, or "environment").
	Source string
	// Line is the 1-based line of the offending node (0 if unknown).
	Line int
	// Rule names the rule ("" for the rule set's top level).
	Rule string
	// Err is what is wrong.
	Err error
}

// Error returns "SOURCE:LINE: rule NAME: what".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Source)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Rule != "" {
		fmt.Fprintf(&b, "rule %q: ", e.Rule)
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns ErrInvalid and the cause.
func (e *Error) Unwrap() []error { return []error{ErrInvalid, e.Err} }

// EvalError is a rule failing on one item: an expression's evaluation (a
// missing attribute, a string that is no number) or its computed value.
// Where names the place in the rule set (source, rule, line, attribute),
// never the item; Err is the cause, whose message may quote the item's
// values ("no such key: …", `decimal: "…" is not a number`). A log that
// must not carry item values (docs/STYLE.md, principle 10) shows Where
// only; `ddbsync rules apply` shows the whole message.
type EvalError struct {
	// Where is the rule and attribute that failed, from the rule set alone.
	Where string
	// Err is the evaluation's error.
	Err error
}

// Error returns "WHERE: cause".
func (e *EvalError) Error() string { return e.Where + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *EvalError) Unwrap() error { return e.Err }

// Rule is one validated rule.
type Rule struct {
	// Name is the rule's name, or "rule N" (1-based) when it has none.
	Name string
	// Line is the line the rule starts on.
	Line int
	// Kind is what the rule does.
	Kind Kind
	// Paths are the attribute paths of include and exclude.
	Paths []Path
	// Pairs are the rename (From → To) and set and key (To = Expr) entries,
	// in source order.
	Pairs []Pair

	cond *expr
}

// Pair is one entry of a rename, set or key rule.
type Pair struct {
	// From is the renamed path (rename).
	From Path
	// To is the path written.
	To Path
	// Expr is the CEL expression of a set or key entry.
	Expr string

	expr *expr
}

// Path is a dotted attribute path: address.city is the city attribute of
// the address map. Names containing a dot cannot be addressed.
type Path []string

// String returns the dotted path.
func (p Path) String() string { return strings.Join(p, ".") }

// RuleSet is a validated rule set, compiled once and safe for concurrent
// use.
type RuleSet struct {
	// Source is the name given to Parse.
	Source string
	// Rules are applied in order.
	Rules []Rule
	// TTL is the TTL-delete policy.
	TTL TTLPolicy

	key *Rule // the key rule, if any
}

// Parse reads a rule set in YAML or JSON (JSON is YAML) from src; name is
// what errors call it. An empty document is the identity rule set:
//
//	rules:
//	  - name: only-acme
//	    filter: tenant == "acme"
//	  - name: no-pii
//	    exclude: [email, address.street]
//	  - rename: {status: state}
//	  - set: {total_cents: "total * 100"}
//	  - key: {pk: 'tenant + "#" + id'}
//	ttl_deletes: skip
func Parse(name string, src []byte) (*RuleSet, error) {
	rs := &RuleSet{Source: name, TTL: TTLReplicate}
	fail := func(line int, rule string, format string, args ...any) error {
		return &Error{Source: name, Line: line, Rule: rule, Err: fmt.Errorf(format, args...)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, &Error{Source: name, Line: yamlLine(err), Err: fmt.Errorf("parse: %w", err)}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return rs, nil
	}
	top := doc.Content[0]
	if top.Kind == yaml.ScalarNode && top.Tag == "!!null" {
		return rs, nil
	}
	if top.Kind != yaml.MappingNode {
		return nil, fail(top.Line, "", "a rule set is a mapping with rules and ttl_deletes")
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch k.Value {
		case "rules":
			if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
				continue
			}
			if v.Kind != yaml.SequenceNode {
				return nil, fail(v.Line, "", "rules must be a list")
			}
			for n, rn := range v.Content {
				r, err := parseRule(name, n+1, rn)
				if err != nil {
					return nil, err
				}
				if r.Kind == KindKey {
					if rs.key != nil {
						return nil, fail(r.Line, r.Name, "a second key rule (the first is %q)", rs.key.Name)
					}
				}
				rs.Rules = append(rs.Rules, *r)
				if r.Kind == KindKey {
					rs.key = &rs.Rules[len(rs.Rules)-1]
				}
			}
		case "ttl_deletes":
			switch TTLPolicy(v.Value) {
			case TTLReplicate, TTLSkip:
				rs.TTL = TTLPolicy(v.Value)
			default:
				return nil, fail(v.Line, "", "ttl_deletes is %q; want replicate or skip", v.Value)
			}
		default:
			return nil, fail(k.Line, "", "unknown field %q (want rules or ttl_deletes)", k.Value)
		}
	}
	// The key rule pointer must survive the appends above.
	for i := range rs.Rules {
		if rs.Rules[i].Kind == KindKey {
			rs.key = &rs.Rules[i]
		}
	}
	return rs, nil
}

// yamlLine digs the line out of a yaml.v3 error ("yaml: line 3: …").
func yamlLine(err error) int {
	var n int
	s := err.Error()
	if i := strings.Index(s, "line "); i >= 0 {
		if _, err := fmt.Sscanf(s[i+5:], "%d", &n); err != nil {
			return 0 // no line number: the error is reported without one
		}
	}
	return n
}

// parseRule validates the n-th rule.
func parseRule(source string, n int, node *yaml.Node) (*Rule, error) {
	r := &Rule{Name: fmt.Sprintf("rule %d", n), Line: node.Line}
	fail := func(line int, format string, args ...any) error {
		return &Error{Source: source, Line: line, Rule: r.Name, Err: fmt.Errorf(format, args...)}
	}
	if node.Kind != yaml.MappingNode {
		return nil, fail(node.Line, "a rule is a mapping with one of %s", kindList())
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		if k, v := node.Content[i], node.Content[i+1]; k.Value == "name" {
			if v.Kind != yaml.ScalarNode || strings.TrimSpace(v.Value) == "" {
				return nil, fail(v.Line, "name must be a non-empty string")
			}
			r.Name = v.Value
		}
	}
	var body *yaml.Node
	for i := 0; i+1 < len(node.Content); i += 2 {
		k, v := node.Content[i], node.Content[i+1]
		if k.Value == "name" {
			continue
		}
		if !isKind(k.Value) {
			return nil, fail(k.Line, "unknown field %q (want name and one of %s)", k.Value, kindList())
		}
		if r.Kind != "" {
			return nil, fail(k.Line, "has both %s and %s; a rule does one thing", r.Kind, k.Value)
		}
		r.Kind, body = Kind(k.Value), v
	}
	if r.Kind == "" {
		return nil, fail(node.Line, "does nothing: give it one of %s", kindList())
	}
	switch r.Kind {
	case KindFilter:
		if body.Kind != yaml.ScalarNode {
			return nil, fail(body.Line, "filter must be a CEL expression")
		}
		e, err := compile(body.Value)
		if err != nil {
			return nil, fail(body.Line, "filter: %v", err)
		}
		r.cond = e
	case KindInclude, KindExclude:
		if body.Kind != yaml.SequenceNode || len(body.Content) == 0 {
			return nil, fail(body.Line, "%s must be a non-empty list of attribute paths", r.Kind)
		}
		for _, p := range body.Content {
			path, err := parsePath(p)
			if err != nil {
				return nil, fail(p.Line, "%s: %v", r.Kind, err)
			}
			r.Paths = append(r.Paths, path)
		}
	case KindRename, KindSet, KindKey:
		if body.Kind != yaml.MappingNode || len(body.Content) == 0 {
			return nil, fail(body.Line, "%s must be a non-empty mapping", r.Kind)
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(body.Content); i += 2 {
			k, v := body.Content[i], body.Content[i+1]
			left, err := parsePath(k)
			if err != nil {
				return nil, fail(k.Line, "%s: %v", r.Kind, err)
			}
			if prev, dup := seen[left.String()]; dup {
				return nil, fail(k.Line, "%s: %q is given twice (first on line %d)", r.Kind, left, prev)
			}
			seen[left.String()] = k.Line
			var p Pair
			switch r.Kind {
			case KindRename:
				to, err := parsePath(v)
				if err != nil {
					return nil, fail(v.Line, "rename %s: %v", left, err)
				}
				p = Pair{From: left, To: to}
			default:
				if r.Kind == KindKey && len(left) != 1 {
					return nil, fail(k.Line, "key: %q: a key attribute is a top-level name", left)
				}
				if v.Kind != yaml.ScalarNode {
					return nil, fail(v.Line, "%s %s: want a CEL expression", r.Kind, left)
				}
				e, err := compile(v.Value)
				if err != nil {
					return nil, fail(v.Line, "%s %s: %v", r.Kind, left, err)
				}
				p = Pair{To: left, Expr: v.Value, expr: e}
			}
			r.Pairs = append(r.Pairs, p)
		}
		if len(r.Pairs) > 2 && r.Kind == KindKey {
			return nil, fail(body.Line, "key: a DynamoDB key has one or two attributes")
		}
	}
	return r, nil
}

func isKind(s string) bool {
	for _, k := range kinds {
		if string(k) == s {
			return true
		}
	}
	return false
}

func kindList() string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// parsePath reads a dotted path from a scalar node.
func parsePath(n *yaml.Node) (Path, error) {
	if n.Kind != yaml.ScalarNode || n.Value == "" {
		return nil, errors.New("want an attribute path such as address.city")
	}
	p := Path(strings.Split(n.Value, "."))
	for _, s := range p {
		if s == "" {
			return nil, fmt.Errorf("%q has an empty name", n.Value)
		}
	}
	return p, nil
}

// ParseEnv reads a rule set from an environment variable's value: the
// JSON (or YAML) itself, or its standard or URL-safe base64 encoding. An
// empty value is the identity rule set.
func ParseEnv(value string) (*RuleSet, error) {
	const name = "environment"
	v := strings.TrimSpace(value)
	if v == "" || strings.HasPrefix(v, "{") || strings.Contains(v, "\n") {
		return Parse(name, []byte(v))
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			return Parse(name, bytes.TrimSpace(b))
		}
	}
	return nil, &Error{Source: name, Err: errors.New("want the rule set's JSON or its base64 encoding")}
}

// IsIdentity reports whether the rule set changes nothing: no rules and
// TTL deletes replicated. Callers keep their raw fast path for it.
func (rs *RuleSet) IsIdentity() bool {
	return rs == nil || (len(rs.Rules) == 0 && rs.TTL != TTLSkip)
}

// Item applies the rules to a source item: keep is false when a filter
// drops it. src is not modified; out shares unchanged values with it.
// An error (a CEL evaluation error, a computed value that is no
// attribute) names the rule.
func (rs *RuleSet) Item(src map[string]types.AttributeValue) (out map[string]types.AttributeValue, keep bool, err error) {
	return rs.apply(src, true)
}

// apply runs the rules; with filters false it ignores the filter rules
// (to find the target key of an item that is filtered out).
func (rs *RuleSet) apply(src map[string]types.AttributeValue, filters bool) (map[string]types.AttributeValue, bool, error) {
	if rs == nil || len(rs.Rules) == 0 {
		return src, true, nil
	}
	item := make(map[string]types.AttributeValue, len(src))
	for k, v := range src {
		item[k] = v
	}
	for i := range rs.Rules {
		r := &rs.Rules[i]
		fail := func(err error) error {
			return fmt.Errorf("%s: rule %q (line %d): %w", rs.Source, r.Name, r.Line, err)
		}
		evalFail := func(what string, err error) error {
			return &EvalError{Where: fmt.Sprintf("%s: rule %q (line %d): %s", rs.Source, r.Name, r.Line, what), Err: err}
		}
		switch r.Kind {
		case KindFilter:
			if !filters {
				continue
			}
			v, err := r.cond.eval(item)
			if err != nil {
				return nil, false, evalFail("filter", err)
			}
			b, ok := v.Value().(bool)
			if !ok {
				return nil, false, fail(fmt.Errorf("filter gives %s, not a bool", v.Type().TypeName()))
			}
			if !b {
				return nil, false, nil
			}
		case KindInclude:
			item = includePaths(item, r.Paths)
		case KindExclude:
			for _, p := range r.Paths {
				item = deletePath(item, p)
			}
		case KindRename:
			for _, p := range r.Pairs {
				v, ok := getPath(item, p.From)
				if !ok {
					continue
				}
				item = deletePath(item, p.From)
				item = setPath(item, p.To, v)
			}
		case KindSet, KindKey:
			for _, p := range r.Pairs {
				v, err := p.expr.eval(item)
				if err != nil {
					return nil, false, evalFail(fmt.Sprintf("%s %s", r.Kind, p.To), err)
				}
				av, err := fromCEL(v)
				if err != nil {
					return nil, false, evalFail(fmt.Sprintf("%s %s", r.Kind, p.To), err)
				}
				if r.Kind == KindKey {
					switch av.(type) {
					case *types.AttributeValueMemberS, *types.AttributeValueMemberN, *types.AttributeValueMemberB:
					default:
						return nil, false, fail(fmt.Errorf("key %s: a key attribute must be a string, number or bytes, not %s", p.To, v.Type().TypeName()))
					}
				}
				item = setPath(item, p.To, av)
			}
		}
	}
	return item, true, nil
}

// targetKeyNames returns the target key's attribute names: the key rule's,
// or the source key's names as the rename rules move them.
func (rs *RuleSet) targetKeyNames(srcKey map[string]types.AttributeValue) []string {
	var names []string
	if rs.key != nil {
		for _, p := range rs.key.Pairs {
			names = append(names, p.To[0])
		}
		return names
	}
	for name := range rs.renamedKey(srcKey) {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Summary describes each rule in a line, for `ddbsync rules check`.
func (rs *RuleSet) Summary() []string {
	var out []string
	for _, r := range rs.Rules {
		var what string
		switch r.Kind {
		case KindFilter:
			what = "keep only items where " + r.cond.src + " (an item leaving the filter is deleted from the target)"
		case KindInclude:
			what = "keep only " + joinPaths(r.Paths)
		case KindExclude:
			what = "drop " + joinPaths(r.Paths)
		case KindRename:
			var s []string
			for _, p := range r.Pairs {
				s = append(s, p.From.String()+" -> "+p.To.String())
			}
			what = "rename " + strings.Join(s, ", ")
		case KindSet:
			var s []string
			for _, p := range r.Pairs {
				s = append(s, p.To.String()+" = "+p.Expr)
			}
			what = "compute " + strings.Join(s, ", ")
		case KindKey:
			var s []string
			for _, p := range r.Pairs {
				s = append(s, p.To.String()+" = "+p.Expr)
			}
			what = "re-key the target: " + strings.Join(s, ", ") + " (a changed key deletes the old target item)"
		}
		out = append(out, fmt.Sprintf("%s (line %d): %s", r.Name, r.Line, what))
	}
	switch rs.TTL {
	case TTLSkip:
		out = append(out, "ttl_deletes: skip (TTL expiries by the DynamoDB service are not deleted from the target)")
	default:
		out = append(out, "ttl_deletes: replicate (TTL expiries delete the target item)")
	}
	return out
}

func joinPaths(ps []Path) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}
