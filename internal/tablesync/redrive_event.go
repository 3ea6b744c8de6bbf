package tablesync

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/ddbsync/ddbsync/internal/replicate"
)

// eventRecord is one record of a DynamoDB Streams Lambda event (the JSON of
// aws-lambda-go's events.DynamoDBEventRecord), images kept as raw DynamoDB
// JSON so that numbers keep their decimal strings.
type eventRecord struct {
	AWSRegion      string        `json:"awsRegion"`
	Change         eventChange   `json:"dynamodb"`
	EventID        string        `json:"eventID"`
	EventName      string        `json:"eventName"`
	EventSource    string        `json:"eventSource"`
	EventVersion   string        `json:"eventVersion"`
	EventSourceARN string        `json:"eventSourceARN"`
	UserIdentity   *userIdentity `json:"userIdentity,omitempty"`
}

type eventChange struct {
	ApproximateCreationDateTime json.Number     `json:"ApproximateCreationDateTime,omitempty"`
	Keys                        json.RawMessage `json:"Keys,omitempty"`
	NewImage                    json.RawMessage `json:"NewImage,omitempty"`
	OldImage                    json.RawMessage `json:"OldImage,omitempty"`
	SequenceNumber              string          `json:"SequenceNumber"`
	SizeBytes                   int64           `json:"SizeBytes"`
	StreamViewType              string          `json:"StreamViewType"`
}

type userIdentity struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
}

// eventJSON converts Streams API records to the Lambda event Lambda would
// deliver for them ({"Records":[…]}), with the SDK's converters
// (attributevalue.FromDynamoDBStreamsMap, then MarshalMapJSON).
func eventJSON(recs []streamtypes.Record, streamARN string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"Records":[`)
	for i, r := range recs {
		if r.Dynamodb == nil {
			return nil, fmt.Errorf("convert record %s: no dynamodb section", aws.ToString(r.EventID))
		}
		sr := r.Dynamodb
		ev := eventRecord{
			AWSRegion: aws.ToString(r.AwsRegion), EventID: aws.ToString(r.EventID), EventName: string(r.EventName),
			EventSource: aws.ToString(r.EventSource), EventVersion: aws.ToString(r.EventVersion), EventSourceARN: streamARN,
			Change: eventChange{
				SequenceNumber: aws.ToString(sr.SequenceNumber), SizeBytes: aws.ToInt64(sr.SizeBytes),
				StreamViewType: string(sr.StreamViewType),
			},
		}
		if ev.EventSource == "" {
			ev.EventSource = "aws:dynamodb"
		}
		if ev.EventVersion == "" {
			ev.EventVersion = "1.1"
		}
		if r.UserIdentity != nil {
			ev.UserIdentity = &userIdentity{Type: aws.ToString(r.UserIdentity.Type), PrincipalID: aws.ToString(r.UserIdentity.PrincipalId)}
		}
		if t := sr.ApproximateCreationDateTime; t != nil {
			ev.Change.ApproximateCreationDateTime = json.Number(strconv.FormatInt(t.Unix(), 10))
		}
		var err error
		for _, img := range []struct {
			from map[string]streamtypes.AttributeValue
			to   *json.RawMessage
		}{{sr.Keys, &ev.Change.Keys}, {sr.NewImage, &ev.Change.NewImage}, {sr.OldImage, &ev.Change.OldImage}} {
			if img.from == nil {
				continue
			}
			item, err := attributevalue.FromDynamoDBStreamsMap(img.from)
			if err != nil {
				return nil, fmt.Errorf("convert record %s: %w", ev.Change.SequenceNumber, err)
			}
			if *img.to, err = attributevalue.MarshalMapJSON(item); err != nil {
				return nil, fmt.Errorf("convert record %s: %w", ev.Change.SequenceNumber, err)
			}
		}
		line, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("marshal record %s: %w", ev.Change.SequenceNumber, err)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(line)
	}
	b.WriteString(`]}`)
	return b.Bytes(), nil
}

// failedSeq reads a function's events.DynamoDBEventResponse and returns
// the lowest sequence number it reports as failed, or "" when every record
// was applied.
func failedSeq(resp []byte) (string, error) {
	resp = bytes.TrimSpace(resp)
	if len(resp) == 0 || string(resp) == "null" {
		return "", nil
	}
	var r struct {
		BatchItemFailures []struct {
			ItemIdentifier string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if err := json.Unmarshal(resp, &r); err != nil {
		return "", fmt.Errorf("read function response: %w", err)
	}
	lowest := ""
	for _, f := range r.BatchItemFailures {
		if f.ItemIdentifier == "" {
			return "", fmt.Errorf("read function response: a failure without itemIdentifier")
		}
		if lowest == "" || replicate.CompareSeq(f.ItemIdentifier, lowest) < 0 {
			lowest = f.ItemIdentifier
		}
	}
	return lowest, nil
}
