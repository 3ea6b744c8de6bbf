package exportload_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/exportload"
)

// fakeExportAPI is a func-field fake of exportload.ExportAPI.
type fakeExportAPI struct {
	pitr     types.PointInTimeRecoveryStatus
	started  *dynamodb.ExportTableToPointInTimeInput
	statuses []types.ExportStatus
	calls    int
}

func (f *fakeExportAPI) DescribeContinuousBackups(context.Context, *dynamodb.DescribeContinuousBackupsInput, ...func(*dynamodb.Options)) (*dynamodb.DescribeContinuousBackupsOutput, error) {
	return &dynamodb.DescribeContinuousBackupsOutput{ContinuousBackupsDescription: &types.ContinuousBackupsDescription{
		PointInTimeRecoveryDescription: &types.PointInTimeRecoveryDescription{PointInTimeRecoveryStatus: f.pitr},
	}}, nil
}

func (f *fakeExportAPI) ExportTableToPointInTime(_ context.Context, in *dynamodb.ExportTableToPointInTimeInput, _ ...func(*dynamodb.Options)) (*dynamodb.ExportTableToPointInTimeOutput, error) {
	f.started = in
	return &dynamodb.ExportTableToPointInTimeOutput{ExportDescription: &types.ExportDescription{ExportArn: aws.String(*in.TableArn + "/export/1")}}, nil
}

func (f *fakeExportAPI) DescribeExport(_ context.Context, in *dynamodb.DescribeExportInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeExportOutput, error) {
	st := f.statuses[min(f.calls, len(f.statuses)-1)]
	f.calls++
	d := &types.ExportDescription{ExportArn: in.ExportArn, ExportStatus: st, ItemCount: aws.Int64(int64(10 * f.calls)),
		S3Bucket: aws.String("b"), ExportManifest: aws.String("p/AWSDynamoDB/1/manifest-summary.json"), ExportTime: aws.Time(time.Unix(1795000000, 0))}
	if st == types.ExportStatusFailed {
		d.FailureCode, d.FailureMessage = aws.String("S3AccessDenied"), aws.String("no access")
	}
	return &dynamodb.DescribeExportOutput{ExportDescription: d}, nil
}

const tableARN = "arn:aws:dynamodb:us-east-1:123456789012:table/orders"

func TestStartExport(t *testing.T) {
	t.Run("no PITR", func(t *testing.T) {
		api := &fakeExportAPI{pitr: types.PointInTimeRecoveryStatusDisabled}
		_, err := exportload.StartExport(t.Context(), api, exportload.ExportRequest{TableARN: tableARN, Bucket: "b"})
		require.ErrorIs(t, err, exportload.ErrPITRDisabled)
		assert.Contains(t, err.Error(), "aws dynamodb update-continuous-backups --table-name orders --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true")
		assert.Nil(t, api.started, "no export started")
	})
	t.Run("started", func(t *testing.T) {
		api := &fakeExportAPI{pitr: types.PointInTimeRecoveryStatusEnabled}
		arn, err := exportload.StartExport(t.Context(), api, exportload.ExportRequest{TableARN: tableARN, Bucket: "b", Prefix: "p", ClientToken: "tok"})
		require.NoError(t, err)
		assert.Equal(t, tableARN+"/export/1", arn)
		assert.Equal(t, types.ExportFormatDynamodbJson, api.started.ExportFormat)
		assert.Equal(t, types.ExportTypeFullExport, api.started.ExportType)
		assert.Equal(t, "tok", aws.ToString(api.started.ClientToken))
	})
}

func TestWaitExport(t *testing.T) {
	tests := map[string]struct {
		statuses []types.ExportStatus
		wantErr  error
		polls    int
	}{
		"completed": {statuses: []types.ExportStatus{types.ExportStatusInProgress, types.ExportStatusInProgress, types.ExportStatusCompleted}, polls: 3},
		"failed":    {statuses: []types.ExportStatus{types.ExportStatusInProgress, types.ExportStatusFailed}, wantErr: exportload.ErrExportFailed, polls: 2},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			api := &fakeExportAPI{statuses: tc.statuses}
			var seen []exportload.ExportStatus
			st, err := exportload.WaitExport(t.Context(), api, tableARN+"/export/1", time.Millisecond, func(s exportload.ExportStatus) { seen = append(seen, s) })
			assert.Len(t, seen, tc.polls)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.Contains(t, err.Error(), "S3AccessDenied")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "p/AWSDynamoDB/1", st.Dir())
			assert.Equal(t, int64(30), st.ItemCount)
		})
	}
}

type fakeMappingAPI lambda.GetEventSourceMappingOutput

func (f *fakeMappingAPI) GetEventSourceMapping(context.Context, *lambda.GetEventSourceMappingInput, ...func(*lambda.Options)) (*lambda.GetEventSourceMappingOutput, error) {
	out := lambda.GetEventSourceMappingOutput(*f)
	return &out, nil
}

// TestCheckMapping enforces the ordering rule on AWS: the replicator's
// mapping is disabled, at TRIM_HORIZON, and applied nothing after the
// export's stream start.
func TestCheckMapping(t *testing.T) {
	h := exportload.NewHandOver(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), 0)
	before, after := aws.Time(h.StreamStart.Add(-time.Hour)), aws.Time(h.StreamStart.Add(time.Minute))
	tests := map[string]struct {
		m    fakeMappingAPI
		fail bool
	}{
		"new, disabled at TRIM_HORIZON": {m: fakeMappingAPI{State: aws.String("Disabled"), StartingPosition: lambdatypes.EventSourcePositionTrimHorizon, LastProcessingResult: aws.String("No records processed"), LastModified: after}},
		"disabled before the export":    {m: fakeMappingAPI{State: aws.String("Disabled"), StartingPosition: lambdatypes.EventSourcePositionTrimHorizon, LastProcessingResult: aws.String("OK"), LastModified: before}},
		"disabled after the export":     {m: fakeMappingAPI{State: aws.String("Disabled"), StartingPosition: lambdatypes.EventSourcePositionTrimHorizon, LastProcessingResult: aws.String("OK"), LastModified: after}, fail: true},
		"enabled":                       {m: fakeMappingAPI{State: aws.String("Enabled"), StartingPosition: lambdatypes.EventSourcePositionTrimHorizon}, fail: true},
		"at LATEST":                     {m: fakeMappingAPI{State: aws.String("Disabled"), StartingPosition: lambdatypes.EventSourcePositionLatest}, fail: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := exportload.CheckMapping(t.Context(), &tc.m, "uuid-1", h)
			if tc.fail {
				require.ErrorIs(t, err, exportload.ErrMappingNotReady)
				return
			}
			require.NoError(t, err)
		})
	}
}

func TestParseSplit(t *testing.T) {
	for in, want := range map[string]exportload.Split{"": {}, "1/1": {I: 1, N: 1}, "2/4": {I: 2, N: 4}} {
		got, err := exportload.ParseSplit(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
		assert.Equal(t, in, got.String())
	}
	for _, bad := range []string{"0/4", "5/4", "1/0", "a/b", "3"} {
		_, err := exportload.ParseSplit(bad)
		assert.Error(t, err, bad)
	}
}
