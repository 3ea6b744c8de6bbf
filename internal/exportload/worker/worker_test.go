package worker_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/exportload"
	"github.com/ddbsync/ddbsync/internal/exportload/exporttest"
	"github.com/ddbsync/ddbsync/internal/exportload/worker"
	"github.com/ddbsync/ddbsync/internal/localaws/ddbstub"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/retry"
)

// TestHandler_Handle checks the errorType each failure gets (the type
// name Step Functions retries on or not) and the output of a load.
func TestHandler_Handle(t *testing.T) {
	s3c := exporttest.S3Client(testkit.Moto(t))
	exporttest.CreateBucket(t, s3c, "bucket-w")
	items := []exporttest.Item{exporttest.Simple("a", 1, "x"), exporttest.Simple("b", 2, "y")}
	_, files := exporttest.Write(t, s3c, "bucket-w", "", [][]exporttest.Item{items, items}, exporttest.Options{Faults: map[int]exporttest.Fault{1: exporttest.WrongCount}})

	throttled := ddbstub.New(ddbstub.Options{Answer: func(ddbstub.Call) ddbstub.Answer { return ddbstub.Answer{Err: ddbstub.Throttle()} }})
	t.Cleanup(throttled.Close)
	ok := ddbstub.New(ddbstub.Options{})
	t.Cleanup(ok.Close)
	handler := func(stub *ddbstub.Server) *worker.Handler {
		table := dynamo.NewTable(stub.Client(t), "copy", dynamo.Options{Retry: retry.Policy{MaxAttempts: 2, BaseDelay: time.Millisecond}})
		return worker.New(&exportload.FileLoader{S3: s3c, Writer: table, Keys: []string{"pk", "sk"}, TempDir: t.TempDir()}, nil)
	}
	tests := map[string]struct {
		stub    *ddbstub.Server
		in      worker.Input
		want    worker.Output
		errType any
	}{
		"loaded":         {stub: ok, in: worker.Input{Bucket: "bucket-w", File: files[0]}, want: worker.Output{Key: files[0].DataFileS3Key, Items: 2, Written: 2, LinesDone: 2, Done: true}},
		"resumed":        {stub: ok, in: worker.Input{Bucket: "bucket-w", File: files[0], LinesDone: 1}, want: worker.Output{Key: files[0].DataFileS3Key, Items: 2, Written: 1, LinesDone: 2, Done: true}},
		"throttled":      {stub: throttled, in: worker.Input{Bucket: "bucket-w", File: files[0]}, errType: &worker.RetryableError{}},
		"wrong count":    {stub: ok, in: worker.Input{Bucket: "bucket-w", File: files[1]}, errType: &worker.VerifyError{}},
		"no bucket":      {stub: ok, in: worker.Input{File: files[0]}, errType: &worker.InputError{}},
		"missing object": {stub: ok, in: worker.Input{Bucket: "bucket-w", File: exportload.File{DataFileS3Key: "nope", MD5Checksum: "x", ItemCount: 1}}, errType: &worker.LoadError{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := handler(tc.stub).Handle(t.Context(), tc.in)
			if tc.errType != nil {
				require.Error(t, err)
				assert.IsType(t, tc.errType, err)
				return
			}
			require.NoError(t, err)
			out.Retries = 0
			assert.Equal(t, tc.want, out)
		})
	}
}
