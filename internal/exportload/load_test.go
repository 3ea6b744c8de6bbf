package exportload_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/exportload"
	"github.com/ddbsync/ddbsync/internal/exportload/exporttest"
	"github.com/ddbsync/ddbsync/internal/tablecmp"
)

// genFiles returns nFiles data files of perFile items each; one item in
// 500 has every attribute type.
func genFiles(nFiles, perFile int) [][]exporttest.Item {
	files := make([][]exporttest.Item, nFiles)
	for f := range files {
		files[f] = make([]exporttest.Item, perFile)
		for i := range files[f] {
			n := f*perFile + i
			pk := fmt.Sprintf("k%05d", n/4)
			if n%500 == 0 {
				files[f][i] = exporttest.AllTypes(pk, n)
			} else {
				files[f][i] = exporttest.Simple(pk, n, fmt.Sprintf("value %d of file %d", i, f))
			}
		}
	}
	return files
}

// loadConfig returns a Config loading the export at dir into table.
func loadConfig(tb testing.TB, s3c *s3.Client, bucket, dir string, api dynamo.API, table string) exportload.Config {
	tb.Helper()
	exp, err := exportload.ReadExport(context.Background(), s3c, bucket, dir)
	require.NoError(tb, err)
	return exportload.Config{
		Export: exp,
		Loader: &exportload.FileLoader{
			S3: s3c, Writer: dynamo.NewTable(api, table, dynamo.Options{}), Keys: []string{"pk", "sk"},
			TempDir: tb.TempDir(),
		},
		TargetTable: table,
		Workers:     4,
	}
}

// scanAll reads every item of table.
func scanAll(tb testing.TB, db *dynamodb.Client, table string) map[string]exporttest.Item {
	tb.Helper()
	out := map[string]exporttest.Item{}
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		require.NoError(tb, err)
		for _, item := range page.Items {
			out[keyString(item)] = item
		}
	}
	return out
}

// assertLoaded checks that table holds exactly the items of files.
func assertLoaded(tb testing.TB, db *dynamodb.Client, table string, files [][]exporttest.Item) {
	tb.Helper()
	got := scanAll(tb, db, table)
	n := 0
	for _, f := range files {
		for _, want := range f {
			n++
			item, ok := got[keyString(want)]
			if !assert.True(tb, ok, "item %s loaded", keyString(want)) {
				return
			}
			if !assert.True(tb, tablecmp.EqualItems(want, item), "item %s: %v", keyString(want), tablecmp.DiffItems(want, item)) {
				return
			}
		}
	}
	assert.Len(tb, got, n)
}

// TestLoad_InterruptResume loads 100,000 items in 16 files into DynamoDB
// Local, is interrupted at about 40%, and resumes from its checkpoint:
// every item is written exactly once, and the table holds the export.
func TestLoad_InterruptResume(t *testing.T) {
	t.Parallel() // long and mostly DynamoDB Local's work: overlaps the package's other long tests
	const nFiles, perFile = 16, 6250
	s3c, bucket := newBucket(t)
	files := genFiles(nFiles, perFile)
	dir, _ := exporttest.Write(t, s3c, bucket, "p", files, exporttest.Options{})
	db, _ := newDB(t)
	createTable(t, db, "target", false)
	api := newCountingAPI(db)
	cpPath := filepath.Join(t.TempDir(), "checkpoint.json")

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cfg := loadConfig(t, s3c, bucket, dir, api, "target")
	cfg.CheckpointPath = cpPath
	cfg.Progress = func(r exportload.Report) {
		if r.ItemsDone >= 40000 {
			cancel()
		}
	}
	first, err := exportload.Load(ctx, cfg)
	require.ErrorIs(t, err, context.Canceled)
	t.Logf("interrupted: %d of %d files done, %d items written", first.FilesDone, first.Files, first.ItemsWritten)
	require.Less(t, first.ItemsWritten, int64(nFiles*perFile))
	require.Positive(t, first.ItemsWritten)

	cfg.Progress = nil
	second, err := exportload.Load(t.Context(), cfg)
	require.NoError(t, err)
	assert.Equal(t, nFiles, second.FilesDone)
	assert.Equal(t, first.FilesDone, second.FilesSkipped)
	assert.Equal(t, int64(nFiles*perFile), first.ItemsWritten+second.ItemsWritten, "each item written once in all")
	assert.Equal(t, int64(nFiles*perFile), second.ItemsDone)

	counts := api.counts()
	assert.Len(t, counts, nFiles*perFile)
	for k, n := range counts {
		if n != 1 {
			t.Errorf("item %s written %d times", k, n)
		}
	}
	assertLoaded(t, db, "target", files)

	// A third run finds everything done and writes nothing.
	third, err := exportload.Load(t.Context(), cfg)
	require.NoError(t, err)
	assert.Equal(t, nFiles, third.FilesSkipped)
	assert.Zero(t, third.ItemsWritten)
}

// TestLoad_Split loads an export in three shares (--files i/3), as three
// machines would: together they load every file once.
func TestLoad_Split(t *testing.T) {
	s3c, bucket := newBucket(t)
	files := genFiles(7, 40)
	dir, _ := exporttest.Write(t, s3c, bucket, "", files, exporttest.Options{})
	db, _ := newDB(t)
	createTable(t, db, "target", false)
	api := newCountingAPI(db)
	var total int
	for i := 1; i <= 3; i++ {
		split, err := exportload.ParseSplit(fmt.Sprintf("%d/3", i))
		require.NoError(t, err)
		cfg := loadConfig(t, s3c, bucket, dir, api, "target")
		cfg.Split = split
		cfg.CheckpointPath = filepath.Join(t.TempDir(), "cp.json")
		rep, err := exportload.Load(t.Context(), cfg)
		require.NoError(t, err)
		assert.Equal(t, []int{3, 2, 2}[i-1], rep.Files, "share %d", i)
		total += rep.Files
	}
	assert.Equal(t, 7, total)
	for k, n := range api.counts() {
		assert.Equal(t, 1, n, "item %s", k)
	}
	assertLoaded(t, db, "target", files)
}

// TestLoad_RefusesBrokenFiles loads an export with a wrong checksum and a
// truncated file: the intact files are loaded, the broken ones reported
// and not written, and the run fails.
func TestLoad_RefusesBrokenFiles(t *testing.T) {
	s3c, bucket := newBucket(t)
	files := genFiles(4, 30)
	dir, entries := exporttest.Write(t, s3c, bucket, "", files, exporttest.Options{Faults: map[int]exporttest.Fault{
		1: exporttest.WrongChecksum, 3: exporttest.Truncated,
	}})
	db, _ := newDB(t)
	createTable(t, db, "target", false)
	cfg := loadConfig(t, s3c, bucket, dir, db, "target")
	rep, err := exportload.Load(t.Context(), cfg)
	require.ErrorIs(t, err, exportload.ErrChecksum)
	require.ErrorIs(t, err, exportload.ErrCorrupt)
	assert.Equal(t, 2, rep.FilesDone)
	require.Len(t, rep.Failed, 2)
	got := scanAll(t, db, "target")
	assert.Len(t, got, 60)
	for _, i := range []int{1, 3} {
		for _, item := range files[i] {
			assert.NotContains(t, got, keyString(item), "file %s refused", entries[i].DataFileS3Key)
		}
	}
}

// TestLoad_HandOverAge refuses an export older than MaxExportAge, loads
// it with AllowOldExport, and always refuses one past its deadline.
func TestLoad_HandOverAge(t *testing.T) {
	s3c, bucket := newBucket(t)
	exportTime := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	dir, _ := exporttest.Write(t, s3c, bucket, "", genFiles(1, 3), exporttest.Options{ExportTime: exportTime})
	db, _ := newDB(t)
	createTable(t, db, "target", false)
	tests := map[string]struct {
		age   time.Duration
		allow bool
		want  bool // refused
	}{
		"fresh":                      {age: time.Hour},
		"21 h old":                   {age: 21 * time.Hour, want: true},
		"21 h old, allowed":          {age: 21 * time.Hour, allow: true},
		"past the deadline, allowed": {age: 24 * time.Hour, allow: true, want: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := loadConfig(t, s3c, bucket, dir, db, "target")
			cfg.AllowOldExport = tc.allow
			cfg.Now = func() time.Time { return exportTime.Add(tc.age) }
			rep, err := exportload.Load(t.Context(), cfg)
			assert.Equal(t, exportTime.Add(-exportload.DefaultOverlap), rep.HandOver.StreamStart)
			assert.Equal(t, exportTime.Add(-exportload.DefaultOverlap+24*time.Hour), rep.HandOver.Deadline)
			if tc.want {
				require.ErrorIs(t, err, exportload.ErrExportTooOld)
				assert.Contains(t, err.Error(), rep.HandOver.Deadline.Format(time.RFC3339))
				assert.Zero(t, rep.ItemsWritten)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, int64(3), rep.ItemsWritten)
		})
	}
}
