package worker_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/exportload"
	"github.com/ddbsync/ddbsync/internal/exportload/exporttest"
	"github.com/ddbsync/ddbsync/internal/exportload/worker"
	"github.com/ddbsync/ddbsync/internal/localaws/ddbstub"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/retry"
	"github.com/ddbsync/ddbsync/internal/rules"
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

// TestHandler_Rules: with a rule set (RULES), a filtered item is counted,
// an item the rules fail on is counted and named in a RulesError (not
// retried), and the file is done.
func TestHandler_Rules(t *testing.T) {
	s3c := exporttest.S3Client(testkit.Moto(t))
	exporttest.CreateBucket(t, s3c, "bucket-r")
	tenant := func(it exporttest.Item, v string) exporttest.Item {
		it["tenant"] = &types.AttributeValueMemberS{Value: v}
		return it
	}
	items := []exporttest.Item{tenant(exporttest.Simple("a", 1, "x"), "acme"), tenant(exporttest.Simple("b", 2, "y"), "globex"), exporttest.Simple("c", 3, "z")}
	_, files := exporttest.Write(t, s3c, "bucket-r", "", [][]exporttest.Item{items}, exporttest.Options{})
	rs, err := rules.ParseEnv(`{"rules":[{"filter":"tenant == \"acme\""}]}`)
	require.NoError(t, err)
	stub := ddbstub.New(ddbstub.Options{})
	t.Cleanup(stub.Close)
	table := dynamo.NewTable(stub.Client(t), "copy", dynamo.Options{})
	h := worker.New(&exportload.FileLoader{S3: s3c, Writer: table, Keys: []string{"pk", "sk"}, TempDir: t.TempDir(), Rules: rs}, nil)
	out, err := h.Handle(t.Context(), worker.Input{Bucket: "bucket-r", File: files[0]})
	var re *worker.RulesError
	require.ErrorAs(t, err, &re)
	assert.ErrorIs(t, err, exportload.ErrItemsFailed)
	assert.Contains(t, err.Error(), `source key {"pk": S "c", "sk": N 3}`)
	assert.Equal(t, worker.Output{Key: files[0].DataFileS3Key, Items: 3, Written: 1, LinesDone: 3, Done: true, Filtered: 1, Failed: 1}, out)
}
