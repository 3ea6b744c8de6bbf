package exportload

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DefaultPollInterval is how often WaitExport calls DescribeExport.
const DefaultPollInterval = 20 * time.Second

// ExportAPI is the part of *dynamodb.Client that starts and follows
// exports.
type ExportAPI interface {
	DescribeContinuousBackups(ctx context.Context, in *dynamodb.DescribeContinuousBackupsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeContinuousBackupsOutput, error)
	ExportTableToPointInTime(ctx context.Context, in *dynamodb.ExportTableToPointInTimeInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ExportTableToPointInTimeOutput, error)
	DescribeExport(ctx context.Context, in *dynamodb.DescribeExportInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeExportOutput, error)
}

var _ ExportAPI = (*dynamodb.Client)(nil)

// CheckPITR returns ErrPITRDisabled, with the command that enables it,
// when table (a name or an ARN) does not have point-in-time recovery:
// ExportTableToPointInTime needs it
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport.HowItWorks.html).
func CheckPITR(ctx context.Context, api ExportAPI, table string) error {
	out, err := api.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(table)})
	if err != nil {
		return fmt.Errorf("describe continuous backups of %s: %w", table, err)
	}
	d := out.ContinuousBackupsDescription
	if d == nil || d.PointInTimeRecoveryDescription == nil ||
		d.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus != types.PointInTimeRecoveryStatusEnabled {
		return fmt.Errorf("check %s: %w; enable it (it takes effect in a few minutes and is billed by table size) with:\n"+
			"  aws dynamodb update-continuous-backups --table-name %s --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true",
			table, ErrPITRDisabled, tableName(table))
	}
	return nil
}

// tableName returns the name part of a table ARN, or s itself.
func tableName(s string) string {
	if i := strings.LastIndex(s, ":table/"); i >= 0 {
		return s[i+len(":table/"):]
	}
	return s
}

// ExportRequest starts an export.
type ExportRequest struct {
	// TableARN is the source table's ARN. Required.
	TableARN string
	// Bucket and Prefix are where the export is written. Bucket is
	// required.
	Bucket, Prefix string
	// ExportTime is the snapshot's time; zero means now.
	ExportTime time.Time
	// ClientToken makes the request idempotent (a retried start with the
	// same token returns the same export); empty means none.
	ClientToken string
}

// StartExport checks point-in-time recovery and starts a full export in
// DynamoDB JSON; it returns the export's ARN.
func StartExport(ctx context.Context, api ExportAPI, req ExportRequest) (string, error) {
	if err := CheckPITR(ctx, api, req.TableARN); err != nil {
		return "", err
	}
	in := &dynamodb.ExportTableToPointInTimeInput{
		TableArn:     aws.String(req.TableARN),
		S3Bucket:     aws.String(req.Bucket),
		ExportFormat: types.ExportFormatDynamodbJson,
		ExportType:   types.ExportTypeFullExport,
	}
	if req.Prefix != "" {
		in.S3Prefix = aws.String(req.Prefix)
	}
	if !req.ExportTime.IsZero() {
		in.ExportTime = aws.Time(req.ExportTime)
	}
	if req.ClientToken != "" {
		in.ClientToken = aws.String(req.ClientToken)
	}
	out, err := api.ExportTableToPointInTime(ctx, in)
	if err != nil {
		return "", fmt.Errorf("export table %s: %w", req.TableARN, err)
	}
	return aws.ToString(out.ExportDescription.ExportArn), nil
}

// ExportStatus is what DescribeExport says about an export.
type ExportStatus struct {
	// ARN is the export's ARN.
	ARN string
	// Status is IN_PROGRESS, COMPLETED or FAILED.
	Status types.ExportStatus
	// ExportTime is the snapshot's time.
	ExportTime time.Time
	// ItemCount and BilledSizeBytes are known once it is completed.
	ItemCount, BilledSizeBytes int64
	// Bucket is the export's bucket; ManifestKey the key of its
	// manifest-summary.json (known once it is completed).
	Bucket, ManifestKey string
	// Failure is FailureCode: FailureMessage, for a failed export.
	Failure string
}

// Dir returns the export's folder in Bucket (".../AWSDynamoDB/<ExportId>").
func (s ExportStatus) Dir() string { return path.Dir(s.ManifestKey) }

// DescribeExport returns an export's status.
func DescribeExport(ctx context.Context, api ExportAPI, arn string) (ExportStatus, error) {
	out, err := api.DescribeExport(ctx, &dynamodb.DescribeExportInput{ExportArn: aws.String(arn)})
	if err != nil {
		return ExportStatus{}, fmt.Errorf("describe export %s: %w", arn, err)
	}
	d := out.ExportDescription
	s := ExportStatus{
		ARN:             aws.ToString(d.ExportArn),
		Status:          d.ExportStatus,
		ItemCount:       aws.ToInt64(d.ItemCount),
		BilledSizeBytes: aws.ToInt64(d.BilledSizeBytes),
		Bucket:          aws.ToString(d.S3Bucket),
		ManifestKey:     aws.ToString(d.ExportManifest),
	}
	if d.ExportTime != nil {
		s.ExportTime = *d.ExportTime
	}
	if d.FailureCode != nil || d.FailureMessage != nil {
		s.Failure = aws.ToString(d.FailureCode) + ": " + aws.ToString(d.FailureMessage)
	}
	return s, nil
}

// WaitExport calls DescribeExport every interval (zero means
// DefaultPollInterval) until the export is no longer IN_PROGRESS, calling
// progress, if not nil, with each status. It returns the final status, and
// an error wrapping ErrExportFailed for a failed export.
func WaitExport(ctx context.Context, api ExportAPI, arn string, interval time.Duration, progress func(ExportStatus)) (ExportStatus, error) {
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	for {
		s, err := DescribeExport(ctx, api, arn)
		if err != nil {
			return s, err
		}
		if progress != nil {
			progress(s)
		}
		switch s.Status {
		case types.ExportStatusCompleted:
			return s, nil
		case types.ExportStatusFailed:
			return s, fmt.Errorf("wait for export %s: %w: %s", arn, ErrExportFailed, s.Failure)
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return s, fmt.Errorf("wait for export %s: %w", arn, context.Cause(ctx))
		case <-t.C:
		}
	}
}
