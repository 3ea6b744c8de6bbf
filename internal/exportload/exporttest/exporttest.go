// Package exporttest writes DynamoDB point-in-time exports, in the format
// DynamoDB documents
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport.Output.html),
// to an S3 API (moto_server in tests), so that the loader is tested on
// several data files, manifests and checksums, including broken ones. It is
// test code: nothing shipped imports it.
package exporttest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/exportload"
)

// Item is one table item.
type Item = map[string]types.AttributeValue

// Fault breaks one data file of an export.
type Fault int

// Faults.
const (
	// None leaves the file intact.
	None Fault = iota
	// WrongChecksum lists a wrong md5Checksum in the manifest.
	WrongChecksum
	// Truncated cuts the gzip stream in the middle; the manifest's
	// checksum is that of the cut object, so only decompression finds it.
	Truncated
	// WrongCount lists one item more in the manifest than the file holds.
	WrongCount
	// NotJSON replaces the file's last line with text that is not JSON.
	NotJSON
)

// Options shapes an export.
type Options struct {
	// ExportID is the export's id (default "01700000000000-abcdef01").
	ExportID string
	// ExportTime is the snapshot's time (default now).
	ExportTime time.Time
	// TableARN is the exported table's ARN.
	TableARN string
	// Faults breaks data files, by index.
	Faults map[int]Fault
}

// S3Client returns an S3 client for endpoint (moto_server), path-style,
// with static credentials.
func S3Client(endpoint string) *s3.Client {
	return s3.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", ""),
	}, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	})
}

// CreateBucket creates bucket.
func CreateBucket(tb testing.TB, client *s3.Client, bucket string) {
	tb.Helper()
	_, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	require.NoError(tb, err)
}

// Write uploads an export of files (each a list of items, possibly empty)
// under prefix in bucket and returns its folder, the dir to pass to
// exportload.ReadExport, and its manifest entries.
func Write(tb testing.TB, client *s3.Client, bucket, prefix string, files [][]Item, opts Options) (string, []exportload.File) {
	tb.Helper()
	ctx := context.Background()
	if opts.ExportID == "" {
		opts.ExportID = "01700000000000-abcdef01"
	}
	if opts.ExportTime.IsZero() {
		opts.ExportTime = time.Now()
	}
	if opts.TableARN == "" {
		opts.TableARN = "arn:aws:dynamodb:us-east-1:123456789012:table/source"
	}
	dir := path.Join(prefix, "AWSDynamoDB", opts.ExportID)
	put := func(key string, body []byte) {
		_, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
		require.NoError(tb, err, key)
	}
	var manifest bytes.Buffer
	var entries []exportload.File
	var total int64
	for i, items := range files {
		fault := opts.Faults[i]
		body := DataFile(tb, items, fault == NotJSON)
		if fault == Truncated {
			body = body[:len(body)/2]
		}
		sum := md5.Sum(body)
		f := exportload.File{
			DataFileS3Key: path.Join(dir, "data", fmt.Sprintf("%04d-%s.json.gz", i, strconv.Itoa(len(items)))),
			ItemCount:     int64(len(items)),
			MD5Checksum:   base64.StdEncoding.EncodeToString(sum[:]),
			ETag:          hex.EncodeToString(sum[:]),
		}
		switch fault {
		case WrongChecksum:
			wrong := md5.Sum(append(body, 0))
			f.MD5Checksum = base64.StdEncoding.EncodeToString(wrong[:])
		case WrongCount:
			f.ItemCount++
		}
		put(f.DataFileS3Key, body)
		line, err := json.Marshal(f)
		require.NoError(tb, err)
		manifest.Write(append(line, '\n'))
		entries = append(entries, f)
		total += f.ItemCount
	}
	filesKey := path.Join(dir, exportload.FilesName)
	put(filesKey, manifest.Bytes())
	summary := map[string]any{
		"version":            "2020-06-30",
		"exportArn":          opts.TableARN + "/export/" + opts.ExportID,
		"startTime":          opts.ExportTime.UTC().Format(time.RFC3339Nano),
		"endTime":            opts.ExportTime.Add(time.Minute).UTC().Format(time.RFC3339Nano),
		"tableArn":           opts.TableARN,
		"tableId":            "12345a12-abcd-123a-ab12-1234abc12345",
		"exportTime":         opts.ExportTime.UTC().Format(time.RFC3339Nano),
		"s3Bucket":           bucket,
		"s3Prefix":           prefix,
		"s3SseAlgorithm":     "AES256",
		"s3SseKmsKeyId":      nil,
		"manifestFilesS3Key": filesKey,
		"billedSizeBytes":    0,
		"itemCount":          total,
		"outputFormat":       exportload.FormatDynamoDBJSON,
		"exportType":         "FULL_EXPORT",
	}
	b, err := json.Marshal(summary)
	require.NoError(tb, err)
	put(path.Join(dir, exportload.SummaryName), b)
	put(path.Join(dir, "_started"), nil)
	return dir, entries
}

// DataFile returns the gzipped JSON Lines of items, {"Item":{...}} each,
// as an export writes them; an empty list is an empty object. With notJSON
// the last line is replaced by text that is not JSON.
func DataFile(tb testing.TB, items []Item, notJSON bool) []byte {
	tb.Helper()
	if len(items) == 0 {
		return nil
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for i, item := range items {
		av, err := attributevalue.MarshalMapJSON(item)
		require.NoError(tb, err)
		line := []byte(`{"Item":` + string(av) + "}\n")
		if notJSON && i == len(items)-1 {
			line = []byte("{\"Item\":{\"pk\":{\"S\":\"x\"}\n")
		}
		_, err = zw.Write(line)
		require.NoError(tb, err)
	}
	require.NoError(tb, zw.Close())
	return buf.Bytes()
}

// AllTypes returns an item with key pk (S) and sk (N) and one attribute of
// each of DynamoDB's ten types.
func AllTypes(pk string, sk int) Item {
	return Item{
		"pk":   &types.AttributeValueMemberS{Value: pk},
		"sk":   &types.AttributeValueMemberN{Value: strconv.Itoa(sk)},
		"s":    &types.AttributeValueMemberS{Value: "héllo \"quoted\" \n line"},
		"n":    &types.AttributeValueMemberN{Value: "12345678901234567890123456789012345678"},
		"nf":   &types.AttributeValueMemberN{Value: "-0.000000000000000000000000000000000001"},
		"b":    &types.AttributeValueMemberB{Value: []byte{0, 1, 2, 255}},
		"bool": &types.AttributeValueMemberBOOL{Value: true},
		"null": &types.AttributeValueMemberNULL{Value: true},
		"ss":   &types.AttributeValueMemberSS{Value: []string{"a", "b"}},
		"ns":   &types.AttributeValueMemberNS{Value: []string{"1", "2.5"}},
		"bs":   &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}},
		"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{
			&types.AttributeValueMemberS{Value: "x"}, &types.AttributeValueMemberN{Value: "1"},
			&types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"deep": &types.AttributeValueMemberBOOL{Value: false}}},
		}},
		"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"inner": &types.AttributeValueMemberS{Value: "v"},
			"list":  &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberNULL{Value: true}}},
		}},
	}
}

// Simple returns a small item with key pk (S) and sk (N).
func Simple(pk string, sk int, v string) Item {
	return Item{
		"pk": &types.AttributeValueMemberS{Value: pk},
		"sk": &types.AttributeValueMemberN{Value: strconv.Itoa(sk)},
		"v":  &types.AttributeValueMemberS{Value: v},
	}
}
