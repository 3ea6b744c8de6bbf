package exportload

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Export format names (manifest-summary.json's outputFormat).
const (
	// FormatDynamoDBJSON is the only output format the loader reads.
	FormatDynamoDBJSON = "DYNAMODB_JSON"
	// SummaryName and FilesName are the manifests' object names in the
	// export's folder.
	SummaryName = "manifest-summary.json"
	FilesName   = "manifest-files.json"
)

// maxManifestLine bounds one line of manifest-files.json (a few hundred
// bytes in practice).
const maxManifestLine = 64 << 10

// ObjectAPI is the part of *s3.Client the loader calls.
type ObjectAPI interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

var _ ObjectAPI = (*s3.Client)(nil)

// Summary is manifest-summary.json.
type Summary struct {
	// Version is the manifest format version ("2020-06-30").
	Version string `json:"version"`
	// ExportARN is the export's ARN.
	ExportARN string `json:"exportArn"`
	// TableARN is the exported table's ARN.
	TableARN string `json:"tableArn"`
	// ExportTime is the point in time the snapshot is consistent at.
	ExportTime time.Time `json:"exportTime"`
	// StartTime and EndTime bound the export job.
	StartTime time.Time `json:"startTime"`
	EndTime   time.Time `json:"endTime"`
	// S3Bucket and S3Prefix are where the export was written.
	S3Bucket string `json:"s3Bucket"`
	S3Prefix string `json:"s3Prefix"`
	// ManifestFilesS3Key is the key of manifest-files.json.
	ManifestFilesS3Key string `json:"manifestFilesS3Key"`
	// ItemCount is the number of items exported.
	ItemCount int64 `json:"itemCount"`
	// BilledSizeBytes is the size the export is billed for.
	BilledSizeBytes int64 `json:"billedSizeBytes"`
	// OutputFormat is DYNAMODB_JSON or ION.
	OutputFormat string `json:"outputFormat"`
	// ExportType is FULL_EXPORT or INCREMENTAL_EXPORT (absent in older
	// exports, which are full).
	ExportType string `json:"exportType,omitempty"`
}

// File is one line of manifest-files.json: a data file and what it must
// hold.
type File struct {
	// DataFileS3Key is the data file's key in the export's bucket.
	DataFileS3Key string `json:"dataFileS3Key"`
	// ItemCount is the number of items (lines) in the file.
	ItemCount int64 `json:"itemCount"`
	// MD5Checksum is the base64 MD5 of the gzipped object.
	MD5Checksum string `json:"md5Checksum"`
	// ETag is the object's S3 ETag (informative only: a multipart ETag is
	// not an MD5).
	ETag string `json:"etag,omitempty"`
}

// Export is an export's manifests, read from S3.
type Export struct {
	// Bucket is the bucket holding the export.
	Bucket string
	// Summary is manifest-summary.json.
	Summary Summary
	// Files are the lines of manifest-files.json, in order.
	Files []File
}

// ReadExport reads the manifests of the export whose folder is dir
// (".../AWSDynamoDB/<ExportId>", or the key of its manifest-summary.json)
// in bucket. It refuses an export that is not a full export in DynamoDB
// JSON ([ErrUnsupported]) and one whose file counts do not add up to the
// summary's item count ([ErrItemCount]).
func ReadExport(ctx context.Context, api ObjectAPI, bucket, dir string) (*Export, error) {
	dir = strings.TrimSuffix(strings.TrimSuffix(dir, SummaryName), "/")
	summaryKey := path.Join(dir, SummaryName)
	body, err := getAll(ctx, api, bucket, summaryKey)
	if err != nil {
		return nil, err
	}
	var sum Summary
	if err := json.Unmarshal(body, &sum); err != nil {
		return nil, fmt.Errorf("read %s: %w: %w", summaryKey, ErrCorrupt, err)
	}
	if sum.OutputFormat != FormatDynamoDBJSON {
		return nil, fmt.Errorf("read %s: output format %q: %w (export with --export-format DYNAMODB_JSON)", summaryKey, sum.OutputFormat, ErrUnsupported)
	}
	if sum.ExportType != "" && sum.ExportType != "FULL_EXPORT" {
		return nil, fmt.Errorf("read %s: export type %q: %w (a backfill needs a full export)", summaryKey, sum.ExportType, ErrUnsupported)
	}
	if sum.ExportTime.IsZero() {
		return nil, fmt.Errorf("read %s: no exportTime: %w", summaryKey, ErrCorrupt)
	}
	filesKey := sum.ManifestFilesS3Key
	if filesKey == "" {
		filesKey = path.Join(dir, FilesName)
	}
	files, err := ReadFiles(ctx, api, bucket, filesKey)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, f := range files {
		total += f.ItemCount
	}
	if total != sum.ItemCount {
		return nil, fmt.Errorf("read %s: files hold %d items, summary says %d: %w", filesKey, total, sum.ItemCount, ErrItemCount)
	}
	return &Export{Bucket: bucket, Summary: sum, Files: files}, nil
}

// ReadFiles reads manifest-files.json (JSON Lines) at key in bucket.
func ReadFiles(ctx context.Context, api ObjectAPI, bucket, key string) ([]File, error) {
	body, err := getAll(ctx, api, bucket, key)
	if err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 4096), maxManifestLine)
	var files []File
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var f File
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			return nil, fmt.Errorf("read %s line %d: %w: %w", key, line, ErrCorrupt, err)
		}
		if f.DataFileS3Key == "" || f.MD5Checksum == "" || f.ItemCount < 0 {
			return nil, fmt.Errorf("read %s line %d: dataFileS3Key, md5Checksum and itemCount are required: %w", key, line, ErrCorrupt)
		}
		files = append(files, f)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return files, nil
}

// getAll reads a small object whole.
func getAll(ctx context.Context, api ObjectAPI, bucket, key string) ([]byte, error) {
	out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	return b, nil
}

// ParseS3URI splits "s3://bucket/key" into bucket and key.
func ParseS3URI(uri string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(uri, "s3://")
	if !ok {
		return "", "", fmt.Errorf("parse %q: %w", uri, errors.New("not an s3:// URI"))
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("parse %q: %w", uri, errors.New("no bucket"))
	}
	return bucket, key, nil
}
