package tablecmp_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/tablecmp"
)

// fakeTable is an in-memory table that serves DescribeTable and segmented,
// paginated Scans (two items a page).
type fakeTable struct {
	keys    []string
	items   []map[string]av
	scanErr error
}

var _ tablecmp.API = (*fakeTable)(nil)

func (f *fakeTable) DescribeTable(_ context.Context, in *dynamodb.DescribeTableInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	var schema []types.KeySchemaElement
	for i, k := range f.keys {
		typ := types.KeyTypeHash
		if i > 0 {
			typ = types.KeyTypeRange
		}
		schema = append(schema, types.KeySchemaElement{AttributeName: aws.String(k), KeyType: typ})
	}
	return &dynamodb.DescribeTableOutput{Table: &types.TableDescription{TableName: in.TableName, KeySchema: schema}}, nil
}

func (f *fakeTable) Scan(_ context.Context, in *dynamodb.ScanInput, _ ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	if f.scanErr != nil {
		return nil, f.scanErr
	}
	if !aws.ToBool(in.ConsistentRead) {
		return nil, errors.New("want a consistent read")
	}
	start := 0
	if in.ExclusiveStartKey != nil {
		start, _ = strconv.Atoi(in.ExclusiveStartKey["i"].(*n).Value)
		start++
	}
	const pageSize = 2
	out := &dynamodb.ScanOutput{}
	for i := start; i < len(f.items); i++ {
		if i%int(aws.ToInt32(in.TotalSegments)) != int(aws.ToInt32(in.Segment)) {
			continue
		}
		out.Items = append(out.Items, f.items[i])
		if len(out.Items) == pageSize {
			out.LastEvaluatedKey = map[string]av{"i": &n{Value: strconv.Itoa(i)}}
			break
		}
	}
	return out, nil
}

func item(pk string, sk string, extra ...any) map[string]av {
	it := map[string]av{"pk": &s{Value: pk}, "sk": &n{Value: sk}}
	for i := 0; i+1 < len(extra); i += 2 {
		it[extra[i].(string)] = extra[i+1].(av)
	}
	return it
}

func TestCompare(t *testing.T) {
	keys := []string{"pk", "sk"}
	source := []map[string]av{
		item("a", "1", "v", &n{Value: "1.50"}),
		item("a", "2", "tags", &ss{Value: []string{"x", "y"}}),
		item("b", "1"),
		item("c", "1", "v", &s{Value: "old"}),
		item("d", "100"),
	}
	tests := map[string]struct {
		target    []map[string]av
		want      tablecmp.Result
		examples  []tablecmp.Kind
		diffAttrs []string
	}{
		"identical up to spelling": {
			target: []map[string]av{
				item("d", "1E+2"), // the key number spelled another way
				item("c", "1", "v", &s{Value: "old"}),
				item("b", "1"),
				item("a", "2", "tags", &ss{Value: []string{"y", "x"}}),
				item("a", "1", "v", &n{Value: "1.5"}),
			},
			want: tablecmp.Result{SourceItems: 5, TargetItems: 5},
		},
		"missing extra and different": {
			target: []map[string]av{
				item("a", "1", "v", &n{Value: "1.5"}),
				item("a", "2", "tags", &ss{Value: []string{"x"}}),
				item("c", "1", "v", &s{Value: "new"}, "w", &bl{Value: true}),
				item("d", "100"),
				item("e", "1"),
			},
			want:      tablecmp.Result{SourceItems: 5, TargetItems: 5, Missing: 1, Extra: 1, Different: 2},
			examples:  []tablecmp.Kind{tablecmp.Different, tablecmp.Different, tablecmp.Extra, tablecmp.Missing},
			diffAttrs: []string{"tags"},
		},
		"empty target": {
			want:     tablecmp.Result{SourceItems: 5, Missing: 5},
			examples: []tablecmp.Kind{tablecmp.Missing, tablecmp.Missing, tablecmp.Missing, tablecmp.Missing},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			src := &fakeTable{keys: keys, items: source}
			dst := &fakeTable{keys: keys, items: tt.target}
			got, err := tablecmp.Compare(t.Context(), src, "src", dst, "dst", tablecmp.Options{Segments: 3, MaxExamples: 4})
			require.NoError(t, err)
			examples := got.Examples
			got.Examples = nil
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.want.Missing+tt.want.Extra+tt.want.Different == 0, got.Identical())
			if tt.examples == nil {
				assert.Empty(t, examples)
				return
			}
			require.Len(t, examples, len(tt.examples), "at most MaxExamples")
			for i, kind := range tt.examples {
				assert.Equal(t, kind, examples[i].Kind, "example %d", i)
			}
			if tt.diffAttrs != nil {
				assert.Equal(t, tt.diffAttrs, examples[0].Attributes, "a/2 sorts first")
				assert.Equal(t, map[string]av{"pk": &s{Value: "a"}, "sk": &n{Value: "2"}}, examples[0].Key)
			}
		})
	}
}

func TestCompare_ScanError(t *testing.T) {
	boom := errors.New("boom")
	src := &fakeTable{keys: []string{"pk"}}
	dst := &fakeTable{keys: []string{"pk"}, scanErr: boom}
	_, err := tablecmp.Compare(context.Background(), src, "src", dst, "dst", tablecmp.Options{})
	require.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), "scan dst segment")
}

func TestResult_String(t *testing.T) {
	r := tablecmp.Result{SourceItems: 3, TargetItems: 2, Missing: 1}
	assert.Equal(t, "source 3 items, target 2 items: 1 missing, 0 extra, 0 different", r.String())
}
