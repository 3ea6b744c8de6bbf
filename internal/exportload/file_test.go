package exportload_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/exportload"
	"github.com/ddbsync/ddbsync/internal/exportload/exporttest"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/replicate/replicatetest"
	"github.com/ddbsync/ddbsync/internal/tablecmp"
)

// TestFileLoader_LoadFile loads single data files of an export served by
// moto_server: every attribute type round-trips, and a file that does not
// match its manifest is refused before anything of it is written.
func TestFileLoader_LoadFile(t *testing.T) {
	client, bucket := newBucket(t)
	all := make([]exporttest.Item, 60)
	for i := range all {
		all[i] = exporttest.AllTypes(fmt.Sprintf("p%d", i%7), i)
	}
	files := [][]exporttest.Item{all, all[:10], all[:10], all[:10], all[:10], nil}
	dir, entries := exporttest.Write(t, client, bucket, "exports/x", files, exporttest.Options{Faults: map[int]exporttest.Fault{
		1: exporttest.WrongChecksum, 2: exporttest.Truncated, 3: exporttest.WrongCount, 4: exporttest.NotJSON,
	}})
	require.Contains(t, dir, "exports/x/AWSDynamoDB/")

	tests := map[string]struct {
		file    int
		from    int64
		want    error
		written int
	}{
		"every attribute type":    {file: 0, written: 60},
		"resumed at line 26":      {file: 0, from: 26, written: 34},
		"wrong checksum":          {file: 1, want: exportload.ErrChecksum},
		"truncated gzip":          {file: 2, want: exportload.ErrCorrupt},
		"wrong item count":        {file: 3, want: exportload.ErrItemCount},
		"a line that is not JSON": {file: 4, want: exportload.ErrCorrupt},
		"empty file":              {file: 5},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := replicatetest.NewMemWriter()
			l := &exportload.FileLoader{S3: client, Writer: w, Keys: []string{"pk", "sk"}, Concurrency: 3, TempDir: t.TempDir()}
			var marks []int64
			res, err := l.LoadFile(t.Context(), bucket, entries[tc.file], tc.from, func(n int64) { marks = append(marks, n) })
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				var fe *exportload.FileError
				require.ErrorAs(t, err, &fe)
				assert.Equal(t, entries[tc.file].DataFileS3Key, fe.Key)
				assert.Zero(t, written(w), "nothing of a refused file is written")
				assert.False(t, res.Done)
				return
			}
			require.NoError(t, err)
			assert.True(t, res.Done)
			assert.Equal(t, int64(tc.written), res.Written)
			assert.Equal(t, int64(len(files[tc.file])), res.LinesDone)
			assert.Equal(t, tc.written, written(w))
			for _, item := range files[tc.file][tc.from:] {
				id, _ := replicate.KeyID(exporttest.Item{"pk": item["pk"], "sk": item["sk"]})
				got, ok := w.Items()[id]
				require.True(t, ok, "item %s written", id)
				assert.True(t, tablecmp.EqualItems(item, got), "item %s round-trips", id)
			}
			if tc.written > 0 {
				assert.IsIncreasing(t, marks)
				assert.Equal(t, res.LinesDone, marks[len(marks)-1])
			}
		})
	}
}
