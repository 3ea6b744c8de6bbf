package samtemplate

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// root is the repository root, relative to this package.
var root = filepath.Join("..", "..")

// loadYAML parses a repository file and returns its top-level mapping.
// Short-form CloudFormation tags (!Ref, !Sub, ...) stay in Node.Tag.
func loadYAML(tb testing.TB, name string) *yaml.Node {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	require.NoError(tb, err)
	var doc yaml.Node
	require.NoError(tb, yaml.Unmarshal(b, &doc), name)
	require.Len(tb, doc.Content, 1, name)
	require.Equal(tb, yaml.MappingNode, doc.Content[0].Kind, name)
	return doc.Content[0]
}

// field follows keys through nested mappings; nil if one is missing.
func field(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
				break
			}
		}
		n = next
	}
	return n
}

// entries returns a mapping's keys and values in order.
func entries(n *yaml.Node) (keys []string, values []*yaml.Node) {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i].Value)
		values = append(values, n.Content[i+1])
	}
	return keys, values
}

// scalars returns a scalar's value, or a sequence's scalar values.
func scalars(n *yaml.Node) []string {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}
	}
	var out []string
	for _, c := range n.Content {
		out = append(out, c.Value)
	}
	return out
}

// intrinsic returns the function name ("Ref", "Sub", "GetAtt", "If", ...)
// and argument of an intrinsic function in short (!Sub x) or long
// ({"Fn::Sub": x}) form.
func intrinsic(n *yaml.Node) (name string, arg *yaml.Node, ok bool) {
	if n == nil {
		return "", nil, false
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return strings.TrimPrefix(n.Tag, "!"), n, true
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		k := n.Content[0].Value
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return strings.TrimPrefix(k, "Fn::"), n.Content[1], true
		}
	}
	return "", nil, false
}

// expr renders a node in one line, intrinsics in short form, so that two
// spellings of the same expression compare equal.
func expr(n *yaml.Node) string {
	if n == nil {
		return "<missing>"
	}
	if name, arg, ok := intrinsic(n); ok {
		if name == "GetAtt" && arg.Kind == yaml.SequenceNode {
			return "!GetAtt " + strings.Join(scalars(arg), ".")
		}
		if arg.Kind == yaml.ScalarNode {
			return "!" + name + " " + arg.Value
		}
		return "!" + name + plain(arg)
	}
	return plain(n)
}

func plain(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return n.Value
	case yaml.SequenceNode:
		parts := make([]string, len(n.Content))
		for i, c := range n.Content {
			parts[i] = expr(c)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case yaml.MappingNode:
		keys, values := entries(n)
		parts := make([]string, len(keys))
		for i := range keys {
			parts[i] = keys[i] + ": " + expr(values[i])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case yaml.AliasNode:
		return expr(n.Alias)
	}
	return "?"
}

// subVars matches ${Name} and ${Name.Attr} in a Fn::Sub template, not
// ${!Literal}.
var subVars = regexp.MustCompile(`\$\{([A-Za-z0-9:]+)(\.[A-Za-z0-9.]+)?\}`)

// references adds to out every name n refers to with Ref, Sub, GetAtt or
// Condition.
func references(n *yaml.Node, out map[string]bool) {
	if n == nil {
		return
	}
	if name, arg, ok := intrinsic(n); ok {
		switch {
		case (name == "Ref" || name == "Condition") && arg.Kind == yaml.ScalarNode:
			out[arg.Value] = true
			return
		case name == "GetAtt":
			out[strings.SplitN(strings.Join(scalars(arg), "."), ".", 2)[0]] = true
			return
		case name == "Sub" && arg.Kind == yaml.ScalarNode:
			for _, m := range subVars.FindAllStringSubmatch(arg.Value, -1) {
				out[m[1]] = true
			}
			return
		case name == "Sub" && arg.Kind == yaml.SequenceNode && len(arg.Content) == 2:
			local, _ := entries(arg.Content[1])
			for _, m := range subVars.FindAllStringSubmatch(arg.Content[0].Value, -1) {
				if !contains(local, m[1]) {
					out[m[1]] = true
				}
			}
			references(arg.Content[1], out)
			return
		}
		if arg != n {
			references(arg, out)
			return
		}
	}
	for _, c := range n.Content {
		references(c, out)
	}
	if n.Kind == yaml.AliasNode {
		references(n.Alias, out)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// parseGo parses a Go file of the repository.
func parseGo(tb testing.TB, name string) *ast.File {
	tb.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, name), nil, 0)
	require.NoError(tb, err)
	return f
}

// sdkEnvVars are variables the templates declare that the AWS SDK reads,
// not configFromEnv, and why they are there.
var sdkEnvVars = map[string]string{
	"AWS_ENDPOINT_URL_DYNAMODB": "empty on AWS (the SDK ignores an empty value); declared so that sam local invoke -n can point the function at DynamoDB Local",
}

// envVarsRead returns the environment variable names the replicator reads:
// the string literals that look like one inside configFromEnv.
func envVarsRead(tb testing.TB) map[string]bool {
	tb.Helper()
	envName := regexp.MustCompile(`^[A-Z][A-Z0-9_]+$`)
	out := map[string]bool{}
	for _, d := range parseGo(tb, "cmd/replicator/config.go").Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "configFromEnv" {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && envName.MatchString(s) {
					out[s] = true
				}
			}
			return true
		})
	}
	require.NotEmpty(tb, out, "configFromEnv not found in cmd/replicator/config.go")
	return out
}

// dynamoCalls returns the DynamoDB operations the replicator calls: the
// methods of internal/dynamo's API interface.
func dynamoCalls(tb testing.TB) []string {
	tb.Helper()
	var out []string
	ast.Inspect(parseGo(tb, "internal/dynamo/table.go"), func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "API" {
			return true
		}
		for _, m := range ts.Type.(*ast.InterfaceType).Methods.List {
			for _, name := range m.Names {
				out = append(out, name.Name)
			}
		}
		return false
	})
	require.NotEmpty(tb, out, "type API not found in internal/dynamo/table.go")
	return out
}

// emfMetrics returns the metric names internal/lambdahandler writes: the
// Name fields of its []emf.Metric literals.
func emfMetrics(tb testing.TB) []string {
	tb.Helper()
	var out []string
	ast.Inspect(parseGo(tb, "internal/lambdahandler/stream.go"), func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		arr, ok := lit.Type.(*ast.ArrayType)
		if !ok {
			return true
		}
		if sel, ok := arr.Elt.(*ast.SelectorExpr); !ok || sel.Sel.Name != "Metric" {
			return true
		}
		for _, e := range lit.Elts {
			for _, kv := range e.(*ast.CompositeLit).Elts {
				kv := kv.(*ast.KeyValueExpr)
				if kv.Key.(*ast.Ident).Name == "Name" {
					s, err := strconv.Unquote(kv.Value.(*ast.BasicLit).Value)
					require.NoError(tb, err)
					out = append(out, s)
				}
			}
		}
		return false
	})
	require.NotEmpty(tb, out, "no []emf.Metric literal in internal/lambdahandler/stream.go")
	return out
}
