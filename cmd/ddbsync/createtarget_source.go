package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/ddbsync/ddbsync/internal/tablespec"
)

// describeSource reads what create-target copies from the source. Calls
// the endpoint does not know (DynamoDB Local: point-in-time recovery,
// tags) become notes for the plan.
func describeSource(ctx context.Context, api createTargetAPI, table string, loc location) (tablespec.Source, []string, error) {
	var src tablespec.Source
	var notes []string
	out, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	var notFound *types.ResourceNotFoundException
	if errors.As(err, &notFound) {
		return src, nil, &awsError{err: fmt.Errorf("source %s does not exist (account %s): %w", loc.where(table, false), loc.account(), err)}
	} else if err != nil {
		return src, nil, fmt.Errorf("describe %s: %w", loc.where(table, false), err)
	}
	src.Table = out.Table
	ttl, err := api.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		return src, nil, fmt.Errorf("describe the TTL of %s: %w", loc.where(table, false), err)
	}
	src.TTL = ttl.TimeToLiveDescription
	backups, err := api.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(table)})
	switch {
	case unknownOperation(err):
		notes = append(notes, "point-in-time recovery of the source unknown (the endpoint has no DescribeContinuousBackups): not enabled on the target")
	case err != nil:
		return src, nil, fmt.Errorf("describe the backups of %s: %w", loc.where(table, false), err)
	case backups.ContinuousBackupsDescription != nil:
		src.PITR = backups.ContinuousBackupsDescription.PointInTimeRecoveryDescription
	}
	in := &dynamodb.ListTagsOfResourceInput{ResourceArn: src.Table.TableArn}
	for {
		tags, err := api.ListTagsOfResource(ctx, in)
		if unknownOperation(err) {
			notes = append(notes, "tags of the source unknown (the endpoint cannot list tags): none copied")
			break
		} else if err != nil {
			return src, nil, fmt.Errorf("list the tags of %s: %w", loc.where(table, false), err)
		}
		src.Tags = append(src.Tags, tags.Tags...)
		if tags.NextToken == nil {
			break
		}
		in.NextToken = tags.NextToken
	}
	return src, notes, nil
}

// unknownOperation reports whether err is an operation the endpoint does
// not have (DynamoDB Local's UnknownOperationException).
func unknownOperation(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "UnknownOperationException"
}

// writeRequests prints the requests of spec as JSON, in the API's field
// names, without empty fields.
func writeRequests(w io.Writer, spec tablespec.Spec) error {
	reqs := map[string]any{"CreateTable": spec.Create}
	if spec.TTL != nil {
		reqs["UpdateTimeToLive"] = spec.TTL
	}
	if spec.PITR != nil {
		reqs["UpdateContinuousBackups"] = spec.PITR
	}
	raw, err := json.Marshal(reqs)
	if err != nil {
		return fmt.Errorf("encode requests: %w", err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("encode requests: %w", err)
	}
	out, err := json.MarshalIndent(compact(v), "", "  ")
	if err != nil {
		return fmt.Errorf("encode requests: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", out)
	return err
}

// compact drops nulls, empty strings, lists and objects from v.
func compact(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if e = compact(e); e == nil {
				delete(v, k)
			} else {
				v[k] = e
			}
		}
		if len(v) == 0 {
			return nil
		}
	case []any:
		out := v[:0]
		for _, e := range v {
			if e = compact(e); e != nil {
				out = append(out, e)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case string:
		if v == "" {
			return nil
		}
	}
	return v
}
