package tablesync_test

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/rules"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// hookReader runs fn once, before the first strongly consistent
// BatchGetItem: a change made between a verify's first read and its
// recheck.
type hookReader struct {
	tablesync.TableReader
	once sync.Once
	fn   func()
}

func (h *hookReader) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	for _, ka := range in.RequestItems {
		if aws.ToBool(ka.ConsistentRead) {
			h.once.Do(h.fn)
		}
	}
	return h.TableReader.BatchGetItem(ctx, in, optFns...)
}

// TestRules_VerifyRecheckFollowsTheSourceItem: when the recheck finds
// that the source item moved to another target key, left the filter or
// was deleted since the first read, the difference settles only if the
// target now matches what the rules say of it: the new key's copy is
// checked (missing if absent), and the stale copy at the old key is
// reported extra, with the reverse mapping and in the fallback (rules
// that drop the source key), where the old key must leave the expected
// set.
func TestRules_VerifyRecheckFollowsTheSourceItem(t *testing.T) {
	const base = `{filter: 'tenant != "initech"'}, {key: {pk: 'tenant + "#" + id'}}`
	mappings := map[string]string{
		"reverse":  "rules: [" + base + "]",
		"fallback": "rules: [" + base + ", {exclude: [id]}]",
	}
	for _, tc := range []struct {
		name           string
		change         func(t *testing.T, db *dynamodb.Client, rs *rules.RuleSet)
		missing, extra int64
	}{
		{name: "moved", change: func(t *testing.T, db *dynamodb.Client, _ *rules.RuleSet) {
			put(t, db, "src", item{"id": s("i1"), "tenant": s("globex"), "v": s("2")})
		}, missing: 1, extra: 1},
		{name: "moved and copied", change: func(t *testing.T, db *dynamodb.Client, rs *rules.RuleSet) {
			src := item{"id": s("i1"), "tenant": s("globex"), "v": s("2")}
			put(t, db, "src", src)
			_, out, _, err := rs.Target(src, item{"id": s("i1")})
			require.NoError(t, err)
			put(t, db, "dst", out)
			del(t, db, "dst", item{"pk": s("acme#i1")})
		}},
		{name: "left the filter", change: func(t *testing.T, db *dynamodb.Client, _ *rules.RuleSet) {
			put(t, db, "src", item{"id": s("i1"), "tenant": s("initech"), "v": s("2")})
		}, extra: 1},
		{name: "deleted", change: func(t *testing.T, db *dynamodb.Client, _ *rules.RuleSet) {
			del(t, db, "src", item{"id": s("i1")})
		}, extra: 1},
		{name: "deleted with its copy", change: func(t *testing.T, db *dynamodb.Client, _ *rules.RuleSet) {
			del(t, db, "src", item{"id": s("i1")})
			del(t, db, "dst", item{"pk": s("acme#i1")})
		}},
	} {
		for mapping, rulesText := range mappings {
			t.Run(tc.name+", "+mapping, func(t *testing.T) {
				db := localDB(t)
				createKeyed(t, db, "src", "id")
				createKeyed(t, db, "dst", "pk")
				rs := mustRules(t, rulesText)
				for _, id := range []string{"i0", "i1", "i2"} {
					src := item{"id": s(id), "tenant": s("acme"), "v": s("1")}
					put(t, db, "src", src)
					_, out, _, err := rs.Target(src, item{"id": s(id)})
					require.NoError(t, err)
					if id == "i1" {
						out["v"] = s("0") // different: the recheck re-reads it
					}
					put(t, db, "dst", out)
				}
				dst := &hookReader{TableReader: db, fn: func() { tc.change(t, db, rs) }}
				diffs, got := collect()
				res, err := tablesync.Verify(t.Context(), db, "src", dst, "dst", tablesync.VerifyOptions{
					Segments: tablesync.Segments{Total: 1}, RecheckDelay: -1, Rules: rs, OnDifference: diffs,
				})
				require.NoError(t, err)
				assert.Equal(t, tc.missing, res.Missing, "%s %v", res, got())
				assert.Equal(t, tc.extra, res.Extra, "%s %v", res, got())
				assert.Zero(t, res.Different+res.Collisions+res.RuleErrors, "%s %v", res, got())
				for _, d := range got() {
					switch d.Kind {
					case tablesync.Missing:
						assert.Equal(t, item{"pk": s("globex#i1")}, d.Key)
					case tablesync.Extra:
						assert.Equal(t, item{"pk": s("acme#i1")}, d.Key)
					}
				}
			})
		}
	}
}
