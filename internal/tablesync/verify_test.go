package tablesync_test

import (
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// planted builds source and target tables of 300 items with known
// differences and returns them by kind ("kind id", sorted).
func planted(t *testing.T) []string {
	t.Helper()
	db := localDB(t)
	createTables(t, db, "", "source", "target")
	var items []item
	for i := range 300 {
		items = append(items, genItem(i+1))
	}
	seed(t, db, "source", items)
	seed(t, db, "target", items)

	var want []string
	// Missing: in the source only.
	for _, i := range []int{5, 150, 299} {
		del(t, db, "target", key(i))
		want = append(want, "missing "+idOf(key(i)))
	}
	// Extra: in the target only (one of them deleted from the source).
	for _, i := range []int{1000, 1001} {
		put(t, db, "target", genItem(i))
		want = append(want, "extra "+idOf(key(i)))
	}
	del(t, db, "source", key(77))
	want = append(want, "extra "+idOf(key(77)))
	// Different: a changed value, a missing attribute, a changed type.
	changed := genItem(10)
	changed["n"] = n("-1")
	put(t, db, "target", changed)
	want = append(want, "different "+idOf(key(10))+" [n]")
	fewer := genItem(20)
	delete(fewer, "m")
	put(t, db, "target", fewer)
	want = append(want, "different "+idOf(key(20))+" [m]")
	retyped := genItem(30)
	retyped["ss"] = &types.AttributeValueMemberL{Value: []av{s("x"), s("y0")}}
	put(t, db, "target", retyped)
	want = append(want, "different "+idOf(key(30))+" [ss]")
	// Not different: numbers spelled otherwise, sets in another order.
	same := genItem(40)
	same["n"] = n("40.50")                                                          // 40.5
	same["ns"] = &types.AttributeValueMemberNS{Value: []string{"-35E-1", "6", "1"}} // {1, 6, -3.5} reordered
	same["ss"] = &types.AttributeValueMemberSS{Value: []string{"y0", "x"}}
	put(t, db, "target", same)
	srcSame := genItem(40)
	srcSame["n"] = n("4.05E+1")
	put(t, db, "source", srcSame)
	sort.Strings(want)
	return want
}

func describe(diffs []tablesync.Difference) []string {
	out := make([]string, 0, len(diffs))
	for _, d := range diffs {
		line := string(d.Kind) + " " + idOf(d.Key)
		if d.Kind == tablesync.Different {
			line += " " + fmtAttrs(d.Attributes)
		}
		out = append(out, line)
	}
	sort.Strings(out)
	return out
}

func fmtAttrs(a []string) string {
	out := "["
	for i, s := range a {
		if i > 0 {
			out += " "
		}
		out += s
	}
	return out + "]"
}

func TestVerify_FindsPlantedDifferences(t *testing.T) {
	want := planted(t)
	db := localDB(t)
	onDiff, got := collect()
	res, err := tablesync.Verify(t.Context(), db, "source", db, "target", tablesync.VerifyOptions{
		Segments:     tablesync.Segments{Total: 4},
		PageSize:     50,
		RecheckDelay: 10 * time.Millisecond,
		OnDifference: onDiff,
	})
	require.NoError(t, err)
	assert.Equal(t, want, describe(got()))
	assert.EqualValues(t, 3, res.Missing)
	assert.EqualValues(t, 3, res.Extra)
	assert.EqualValues(t, 3, res.Different)
	assert.EqualValues(t, 299, res.SourceItems)
	assert.EqualValues(t, 299, res.TargetItems)
	assert.False(t, res.Identical())
	for _, d := range got() {
		switch d.Kind {
		case tablesync.Missing:
			assert.NotNil(t, d.Source)
			assert.Nil(t, d.Target)
		case tablesync.Extra:
			assert.Nil(t, d.Source)
			assert.NotNil(t, d.Target)
		default:
			assert.NotNil(t, d.Source)
			assert.NotNil(t, d.Target)
		}
	}
}

func TestRepair_Converges(t *testing.T) {
	tests := map[string]struct {
		dryRun bool
	}{
		"dry run changes nothing": {dryRun: true},
		"repair":                  {},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			want := planted(t)
			db := localDB(t)
			rep := tablesync.NewRepairer(db, "source", db, "target", tablesync.RepairOptions{DryRun: tt.dryRun})
			onDiff, got := collect()
			res, err := tablesync.Verify(t.Context(), db, "source", db, "target", tablesync.VerifyOptions{
				RecheckDelay: -1,
				OnDifference: tablesync.RepairEach(rep, onDiff),
			})
			require.NoError(t, err)
			assert.Equal(t, want, describe(got()))
			assert.EqualValues(t, 9, res.Missing+res.Extra+res.Different)
			assert.Equal(t, tablesync.RepairStats{Puts: 6, Deletes: 3}, rep.Stats())

			again, err := tablesync.Verify(t.Context(), db, "source", db, "target", tablesync.VerifyOptions{RecheckDelay: -1})
			require.NoError(t, err)
			if tt.dryRun {
				assert.EqualValues(t, 9, again.Missing+again.Extra+again.Different)
				return
			}
			assert.True(t, again.Identical(), again.String())
		})
	}
}
