package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
)

func TestRepairCommand_BadInput(t *testing.T) {
	keyID := testkit.AccessKeyID(t)
	syncTables(t, keyID, 1, false)
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	require.NoError(t, os.WriteFile(bad, []byte(`{"kind":"missing","key":{"id":{"S":"order-000"}}}`+"\nnot json\n"), 0o600))
	code, _, stderr := localCmd(t, keyID, "repair", "--table", "orders", "--target-table", "orders-copy", "--from", bad)
	assert.Equal(t, exitError, code)
	assert.Contains(t, stderr, "read differences line 2: malformed difference")
}

// bigTables creates "big" (the live source: a stream, count items) and
// "big-copy" (no stream, the first copyCount of them), as a user who has
// replicated part of big would have.
func bigTables(t *testing.T, keyID string, count, copyCount int) *dynamodb.Client {
	t.Helper()
	db := testkit.DDB(t).DynamoDB(keyID)
	_, err := ddblocal.CreateTable(t.Context(), db, ddblocal.TableSpec{Name: "big", HashKey: "id", StreamViewType: types.StreamViewTypeNewAndOldImages})
	require.NoError(t, err)
	_, err = ddblocal.CreateTable(t.Context(), db, ddblocal.TableSpec{Name: "big-copy", HashKey: "id"})
	require.NoError(t, err)
	writeItems(t, db, "big", count)
	writeItems(t, db, "big-copy", copyCount)
	return db
}

// writeItems puts orders 0 to n-1 in table, 25 a call, 8 calls at once.
func writeItems(t *testing.T, db *dynamodb.Client, table string, n int) {
	t.Helper()
	put := putOrders(t.Context(), db, table, n)
	var wg sync.WaitGroup
	slots := make(chan struct{}, 8)
	errs := make(chan error, n/25+1)
	for lo := 0; lo < n; lo += 25 {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			errs <- put(lo)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// putOrders returns a function that writes orders lo to lo+24 (below n)
// to table.
func putOrders(ctx context.Context, db *dynamodb.Client, table string, n int) func(lo int) error {
	return func(lo int) error {
		{
			var reqs []types.WriteRequest
			for i := lo; i < min(lo+25, n); i++ {
				reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: order(i, "new")}})
			}
			in := map[string][]types.WriteRequest{table: reqs}
			for len(in) > 0 {
				out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: in})
				if err != nil {
					return err
				}
				in = out.UnprocessedItems
			}
			return nil
		}
	}
}

// tableCount returns the number of items in table.
func tableCount(t *testing.T, db *dynamodb.Client, table string) int {
	t.Helper()
	n := 0
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table), Select: types.SelectCount})
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		require.NoError(t, err)
		n += int(out.Count)
	}
	return n
}

// TestRepairCommand_RefusesSwappedTables is the report: with
// --table and --target-table swapped, repair would delete every item of
// the live table that the copy lacks. It must refuse before any write,
// even with --yes.
func TestRepairCommand_RefusesSwappedTables(t *testing.T) {
	t.Parallel() // long and mostly DynamoDB Local's work: overlaps the package's other long tests
	swapped := []string{"--table", "big-copy", "--target-table", "big", "--recheck-delay", "0", "--quiet", "--yes"}
	tests := map[string]struct {
		name       string
		args       []string
		wantStderr []string
	}{
		"repair":          {"repair", swapped, []string{"refused", "target table big has a stream", "--allow-target-stream"}},
		"verify --repair": {"verify", append([]string{"--repair"}, swapped...), []string{"refused", "target table big has a stream"}},
		"target stream allowed": {"repair", append([]string{"--allow-target-stream"}, swapped...),
			[]string{"refused", "19900 of the 20000 items", "--allow-mass-change"}},
	}
	// One pair of tables for all cases: each must refuse before any write,
	// which the item count checks after every case.
	keyID := testkit.NewAccessKeyID(t)
	db := bigTables(t, keyID, 20000, 100)
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := localCmd(t, keyID, tt.name, tt.args...)
			assert.Equal(t, exitUsage, code, stderr)
			for _, want := range tt.wantStderr {
				assert.Contains(t, stderr, want)
			}
			assert.Equal(t, 20000, tableCount(t, db, "big"), "nothing deleted from the live table")
		})
	}
}

func TestRepairCommand_Guards(t *testing.T) {
	t.Parallel() // long and mostly DynamoDB Local's work: overlaps the package's other long tests
	t.Run("--from refuses a mass delete before any write", func(t *testing.T) {
		keyID := testkit.NewAccessKeyID(t)
		db := syncTables(t, keyID, 0, false)
		writeItems(t, db, "orders-copy", 150)
		diffs := filepath.Join(t.TempDir(), "diffs.jsonl")
		f, err := os.Create(diffs)
		require.NoError(t, err)
		for i := range 150 {
			fmt.Fprintf(f, `{"kind":"extra","key":{"id":{"S":"order-%03d"}}}`+"\n", i)
		}
		require.NoError(t, f.Close())
		args := []string{"--table", "orders", "--target-table", "orders-copy", "--from", diffs, "--yes"}

		code, _, stderr := localCmd(t, keyID, "repair", args...)
		assert.Equal(t, exitUsage, code, stderr)
		assert.Contains(t, stderr, "delete 150 items of orders-copy that the source lacks")
		assert.Regexp(t, `refused: the repair would delete or overwrite 150 of the \d+ items of target table orders-copy \(DynamoDB's approximate count\)`, stderr)
		assert.Contains(t, stderr, "Try: ddbsync repair --endpoint-url "+testkit.DDB(t).Endpoint+" --table orders --target-table orders-copy --from "+diffs+" --dry-run")
		assert.Equal(t, 150, tableCount(t, db, "orders-copy"))

		code, stdout, stderr := localCmd(t, keyID, "repair", append(args, "--allow-mass-change")...)
		require.Equal(t, exitOK, code, stderr)
		assert.Contains(t, stdout, "repair: repaired 150: 0 puts, 150 deletes")
		assert.Zero(t, tableCount(t, db, "orders-copy"))
	})

	t.Run("a dry run shows the refusal and writes nothing", func(t *testing.T) {
		keyID := testkit.NewAccessKeyID(t)
		db := bigTables(t, keyID, 300, 0)
		code, _, stderr := localCmd(t, keyID, "repair", "--table", "big-copy", "--target-table", "big", "--allow-target-stream", "--dry-run", "--recheck-delay", "0", "--quiet")
		assert.Equal(t, exitError, code, "a dry run that finds differences")
		assert.Contains(t, stderr, "warning:  without --dry-run this repair would be refused: the repair would delete or overwrite 300 of the 300 items scanned in target table big")
		assert.Equal(t, 300, tableCount(t, db, "big"))
	})

	t.Run("interrupted: no final-looking line", func(t *testing.T) {
		keyID := testkit.NewAccessKeyID(t)
		syncTables(t, keyID, 300, false)
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		code, stdout, stderr := localIO(t, ctx, keyID, "repair", "", false, "--table", "orders", "--target-table", "orders-copy",
			"--yes", "--max-wcu", "5", "--recheck-delay", "0", "--quiet")
		assert.Equal(t, exitInterrupted, code)
		assert.NotContains(t, stdout, "repair: repaired")
		assert.Regexp(t, `ddbsync repair: interrupted: (repair )?after \d+ .*not finished`, stderr)
	})
}
