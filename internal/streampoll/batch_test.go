package streampoll

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allTypesRecord is a MODIFY record from the Streams API with every
// attribute type, numbers that a float64 would change, and a TTL identity.
func allTypesRecord() streamtypes.Record {
	key := map[string]streamtypes.AttributeValue{
		"pk": &streamtypes.AttributeValueMemberS{Value: "order#1"},
		"sk": &streamtypes.AttributeValueMemberN{Value: "12345678901234567890123456789012345678"},
	}
	image := map[string]streamtypes.AttributeValue{
		"pk":     key["pk"],
		"sk":     key["sk"],
		"s":      &streamtypes.AttributeValueMemberS{Value: "héllo \"quoted\" <tag>"},
		"n":      &streamtypes.AttributeValueMemberN{Value: "-0.000000000000000000000000000000000001"},
		"b":      &streamtypes.AttributeValueMemberB{Value: []byte{0, 1, 2, 255}},
		"bool":   &streamtypes.AttributeValueMemberBOOL{Value: true},
		"null":   &streamtypes.AttributeValueMemberNULL{Value: true},
		"ss":     &streamtypes.AttributeValueMemberSS{Value: []string{"b", "a"}},
		"ns":     &streamtypes.AttributeValueMemberNS{Value: []string{"1E+3", "0.1", "9007199254740993"}},
		"bs":     &streamtypes.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}},
		"l":      &streamtypes.AttributeValueMemberL{Value: []streamtypes.AttributeValue{&streamtypes.AttributeValueMemberN{Value: "1.10"}, &streamtypes.AttributeValueMemberM{Value: map[string]streamtypes.AttributeValue{}}}},
		"m":      &streamtypes.AttributeValueMemberM{Value: map[string]streamtypes.AttributeValue{"nested": &streamtypes.AttributeValueMemberL{Value: []streamtypes.AttributeValue{&streamtypes.AttributeValueMemberS{Value: ""}}}}},
		"emptyL": &streamtypes.AttributeValueMemberL{Value: []streamtypes.AttributeValue{}},
	}
	created := time.Unix(1795000000, 0)
	return streamtypes.Record{
		AwsRegion:    aws.String("ddblocal"),
		EventID:      aws.String("7f1b1d3e-1"),
		EventName:    streamtypes.OperationTypeModify,
		EventSource:  aws.String("aws:dynamodb"),
		EventVersion: aws.String("1.1"),
		UserIdentity: &streamtypes.Identity{Type: aws.String("Service"), PrincipalId: aws.String("dynamodb.amazonaws.com")},
		Dynamodb: &streamtypes.StreamRecord{
			ApproximateCreationDateTime: &created,
			Keys:                        key,
			NewImage:                    image,
			OldImage:                    key,
			SequenceNumber:              aws.String("000000000000000000042"),
			SizeBytes:                   aws.Int64(321),
			StreamViewType:              streamtypes.StreamViewTypeNewAndOldImages,
		},
	}
}

func TestConvertRecord_Golden(t *testing.T) {
	rec, err := convertRecord(allTypesRecord(), testStreamARN, time.Now())
	require.NoError(t, err)
	got := payload([]*record{rec})
	golden := filepath.Join("testdata", "all-types.golden.json")
	if testkit.Updating() {
		var pretty bytes.Buffer
		require.NoError(t, json.Indent(&pretty, got, "", "  "))
		require.NoError(t, os.WriteFile(golden, append(pretty.Bytes(), '\n'), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(got))

	// Numbers keep their exact decimal text: nothing went through a float64.
	for _, n := range []string{`"12345678901234567890123456789012345678"`, `"-0.000000000000000000000000000000000001"`, `"9007199254740993"`, `"1.10"`} {
		assert.Contains(t, string(got), n)
	}
	assert.Equal(t, "000000000000000000042", rec.seq)
}

// TestConvertRecord_LambdaShape checks the event against the sample events
// in events/, which have the exact shape Lambda delivers: the same field
// names at every level.
func TestConvertRecord_LambdaShape(t *testing.T) {
	rec, err := convertRecord(allTypesRecord(), testStreamARN, time.Now())
	require.NoError(t, err)
	got := recordShape(t, payload([]*record{rec}))

	for _, name := range []string{"modify", "ttl-remove"} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", "..", "events", name+".json"))
			require.NoError(t, err)
			want := recordShape(t, b)
			for _, field := range want {
				assert.Contains(t, got, field, "field Lambda delivers")
			}
		})
	}
}

// recordShape lists the field paths of an event's first record, down to
// the dynamodb section's fields.
func recordShape(tb testing.TB, event []byte) []string {
	tb.Helper()
	var ev struct {
		Records []map[string]json.RawMessage
	}
	require.NoError(tb, json.Unmarshal(event, &ev))
	require.NotEmpty(tb, ev.Records)
	var out []string
	for k, v := range ev.Records[0] {
		out = append(out, k)
		if k == "dynamodb" || k == "userIdentity" {
			var inner map[string]json.RawMessage
			require.NoError(tb, json.Unmarshal(v, &inner))
			for ik := range inner {
				out = append(out, k+"."+ik)
			}
		}
	}
	sort.Strings(out)
	return out
}

func TestConvertRecord_Errors(t *testing.T) {
	tests := map[string]struct {
		edit    func(*streamtypes.Record)
		wantErr string
	}{
		"no dynamodb section": {func(r *streamtypes.Record) { r.Dynamodb = nil }, "no dynamodb section"},
		"bad sequence number": {func(r *streamtypes.Record) { r.Dynamodb.SequenceNumber = aws.String("12a") }, "invalid sequence number"},
		"unknown attribute type": {func(r *streamtypes.Record) {
			r.Dynamodb.NewImage = map[string]streamtypes.AttributeValue{"x": &streamtypes.UnknownUnionMember{Tag: "X"}}
		}, "NewImage"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			r := allTypesRecord()
			tt.edit(&r)
			_, err := convertRecord(r, testStreamARN, time.Now())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestConvertRecord_Defaults(t *testing.T) {
	r := streamRecordFor(7)
	r.EventSource, r.EventVersion, r.Dynamodb.ApproximateCreationDateTime = nil, nil, nil
	r.Dynamodb.NewImage = nil
	rec, err := convertRecord(r, testStreamARN, time.Now())
	require.NoError(t, err)
	s := string(rec.json)
	assert.Contains(t, s, `"eventSource":"aws:dynamodb"`)
	assert.Contains(t, s, `"eventVersion":"1.1"`)
	assert.NotContains(t, s, "NewImage")
	assert.NotContains(t, s, "ApproximateCreationDateTime")
	assert.NotContains(t, s, "userIdentity")
}

func TestEpochSeconds(t *testing.T) {
	assert.Equal(t, "1795000000", string(epochSeconds(time.Unix(1795000000, 0))))
	assert.Equal(t, "1795000000.5", string(epochSeconds(time.Unix(1795000000, 5e8))))
}

func TestCheckpoint(t *testing.T) {
	recs := []*record{{seq: "100"}, {seq: "200"}, {seq: "1000"}}
	tests := map[string]struct {
		resp    string
		want    int
		wantErr bool
	}{
		"empty list":             {`{"batchItemFailures":[]}`, -1, false},
		"null list":              {`{"batchItemFailures":null}`, -1, false},
		"empty response":         {`{}`, -1, false},
		"null response":          {`null`, -1, false},
		"no body":                {``, -1, false},
		"one failure":            {`{"batchItemFailures":[{"itemIdentifier":"200"}]}`, 1, false},
		"lowest as a number":     {`{"batchItemFailures":[{"itemIdentifier":"1000"},{"itemIdentifier":"200"}]}`, 1, false},
		"first record":           {`{"batchItemFailures":[{"itemIdentifier":"100"}]}`, 0, false},
		"empty itemIdentifier":   {`{"batchItemFailures":[{"itemIdentifier":""}]}`, 0, true},
		"null itemIdentifier":    {`{"batchItemFailures":[{"itemIdentifier":null}]}`, 0, true},
		"bad key name":           {`{"batchItemFailures":[{"itemId":"200"}]}`, 0, true},
		"eventID instead of seq": {`{"batchItemFailures":[{"itemIdentifier":"c4ca4238a0b9"}]}`, 0, true},
		"not in batch":           {`{"batchItemFailures":[{"itemIdentifier":"300"}]}`, 0, true},
		"not JSON":               {`Task timed out`, 0, true},
		"wrong shape":            {`{"batchItemFailures":"200"}`, 0, true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := checkpoint([]byte(tt.resp), recs)
			assert.Equal(t, tt.want, got)
			if tt.wantErr {
				assert.ErrorIs(t, err, ErrBadResponse)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}

func TestBatchLen(t *testing.T) {
	small := &record{json: []byte(`{}`)}
	big := &record{json: []byte(strings.Repeat("x", maxPayloadBytes/2))}
	tests := map[string]struct {
		recs      []*record
		batchSize int
		want      int
	}{
		"batch size":            {[]*record{small, small, small}, 2, 2},
		"all":                   {[]*record{small, small, small}, 100, 3},
		"payload limit":         {[]*record{big, big, small}, 100, 1},
		"one oversized record":  {[]*record{{json: make([]byte, maxPayloadBytes+1)}, small}, 100, 1},
		"payload limit exactly": {[]*record{big, {json: make([]byte, maxPayloadBytes/2-16)}, small}, 100, 2},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, batchLen(tt.recs, tt.batchSize))
		})
	}
}
func TestEventPayload(t *testing.T) {
	created := time.Unix(1795000000, 0)
	recs := []streamtypes.Record{{
		AwsRegion: aws.String("us-east-1"), EventID: aws.String("e1"), EventName: streamtypes.OperationTypeModify,
		EventSource: aws.String("aws:dynamodb"), EventVersion: aws.String("1.1"),
		Dynamodb: &streamtypes.StreamRecord{
			ApproximateCreationDateTime: &created,
			Keys:                        map[string]streamtypes.AttributeValue{"pk": &streamtypes.AttributeValueMemberS{Value: "a"}},
			NewImage: map[string]streamtypes.AttributeValue{
				"pk":  &streamtypes.AttributeValueMemberS{Value: "a"},
				"n":   &streamtypes.AttributeValueMemberN{Value: "1E+2"},
				"ns":  &streamtypes.AttributeValueMemberNS{Value: []string{"0.10000000000000000001"}},
				"m":   &streamtypes.AttributeValueMemberM{Value: map[string]streamtypes.AttributeValue{"b": &streamtypes.AttributeValueMemberB{Value: []byte{1}}}},
				"nul": &streamtypes.AttributeValueMemberNULL{Value: true},
			},
			SequenceNumber: aws.String("000000000000000000042"), SizeBytes: aws.Int64(30), StreamViewType: streamtypes.StreamViewTypeNewImage,
		},
	}, {
		EventName: streamtypes.OperationTypeRemove,
		Dynamodb: &streamtypes.StreamRecord{
			Keys:           map[string]streamtypes.AttributeValue{"pk": &streamtypes.AttributeValueMemberS{Value: "b"}},
			SequenceNumber: aws.String("43"), StreamViewType: streamtypes.StreamViewTypeKeysOnly,
		},
		UserIdentity: &streamtypes.Identity{Type: aws.String("Service"), PrincipalId: aws.String("dynamodb.amazonaws.com")},
	}}
	got, err := eventPayload(recs, "arn:aws:dynamodb:us-east-1:1:table/t/stream/s")
	require.NoError(t, err)
	assert.JSONEq(t, `{"Records":[
	 {"awsRegion":"us-east-1","eventID":"e1","eventName":"MODIFY","eventSource":"aws:dynamodb","eventVersion":"1.1",
	  "eventSourceARN":"arn:aws:dynamodb:us-east-1:1:table/t/stream/s",
	  "dynamodb":{"ApproximateCreationDateTime":1795000000,"Keys":{"pk":{"S":"a"}},
	   "NewImage":{"pk":{"S":"a"},"n":{"N":"1E+2"},"ns":{"NS":["0.10000000000000000001"]},"m":{"M":{"b":{"B":"AQ=="}}},"nul":{"NULL":true}},
	   "SequenceNumber":"000000000000000000042","SizeBytes":30,"StreamViewType":"NEW_IMAGE"}},
	 {"awsRegion":"","eventID":"","eventName":"REMOVE","eventSource":"aws:dynamodb","eventVersion":"1.1",
	  "eventSourceARN":"arn:aws:dynamodb:us-east-1:1:table/t/stream/s",
	  "dynamodb":{"Keys":{"pk":{"S":"b"}},"SequenceNumber":"43","SizeBytes":0,"StreamViewType":"KEYS_ONLY"},
	  "userIdentity":{"type":"Service","principalId":"dynamodb.amazonaws.com"}}]}`, string(got))

	_, err = eventPayload([]streamtypes.Record{{EventID: aws.String("x")}}, "arn")
	assert.ErrorContains(t, err, "no dynamodb section")
}

// eventPayload returns the events.DynamoDBEvent JSON that Lambda would
// deliver for recs, read from streamARN. Images are converted with the SDK
// (attributevalue.FromDynamoDBStreamsMap, then MarshalMapJSON), so numbers
// keep their decimal strings.
func eventPayload(recs []streamtypes.Record, streamARN string) ([]byte, error) {
	converted := make([]*record, len(recs))
	for i, r := range recs {
		c, err := convertRecord(r, streamARN, time.Time{})
		if err != nil {
			return nil, err
		}
		converted[i] = c
	}
	return payload(converted), nil
}
