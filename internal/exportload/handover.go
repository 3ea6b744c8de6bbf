package exportload

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// Hand-over defaults (docs/export-backfill.md).
const (
	// StreamRetention is how long DynamoDB Streams keeps a record
	// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html).
	StreamRetention = 24 * time.Hour
	// DefaultOverlap is how far before the export time stream records are
	// applied again. DynamoDB's ApproximateCreationDateTime is rounded
	// down to the second on AWS and to the minute by DynamoDB Local; the
	// overlap covers both and the export's own time granularity.
	DefaultOverlap = 5 * time.Minute
	// DefaultMaxExportAge is how old an export may be when a load starts:
	// it leaves about four hours, minus the overlap, to load and enable
	// replication before the records at the hand-over leave the stream.
	DefaultMaxExportAge = 20 * time.Hour
)

// HandOver is where replication takes over from a snapshot load.
type HandOver struct {
	// ExportTime is T, the time the export's snapshot is consistent at.
	ExportTime time.Time `json:"exportTime"`
	// Overlap is how long before T stream records are applied again.
	Overlap time.Duration `json:"overlap"`
	// StreamStart is T minus Overlap: replication must apply every record
	// created since then, after the load.
	StreamStart time.Time `json:"streamStart"`
	// Deadline is StreamStart plus the stream's 24-hour retention: by then
	// replication must be reading the stream, or records after T are lost
	// to the copy.
	Deadline time.Time `json:"deadline"`
}

// NewHandOver returns the hand-over for an export at t with overlap (zero
// means DefaultOverlap).
func NewHandOver(t time.Time, overlap time.Duration) HandOver {
	if overlap <= 0 {
		overlap = DefaultOverlap
	}
	start := t.Add(-overlap)
	return HandOver{ExportTime: t.UTC(), Overlap: overlap, StreamStart: start.UTC(), Deadline: start.Add(StreamRetention).UTC()}
}

// Check returns ErrExportTooOld, with the exact deadline, when the export
// is older than maxAge at now (zero maxAge means DefaultMaxExportAge), or
// when the deadline has passed.
func (h HandOver) Check(now time.Time, maxAge time.Duration) error {
	if maxAge <= 0 {
		maxAge = DefaultMaxExportAge
	}
	age := now.Sub(h.ExportTime)
	switch {
	case !now.Before(h.Deadline):
		return fmt.Errorf("check hand-over: the stream records since %s may already have left the stream (deadline %s): %w; take a new export",
			h.StreamStart.Format(time.RFC3339), h.Deadline.Format(time.RFC3339), ErrExportTooOld)
	case age > maxAge:
		return fmt.Errorf("check hand-over: the export is %s old (more than %s); replication must be enabled before %s or changes after %s are lost: %w",
			age.Round(time.Minute), maxAge, h.Deadline.Format(time.RFC3339), h.ExportTime.Format(time.RFC3339), ErrExportTooOld)
	}
	return nil
}

// MappingAPI is the part of *lambda.Client the hand-over checks call.
type MappingAPI interface {
	GetEventSourceMapping(ctx context.Context, in *lambda.GetEventSourceMappingInput, optFns ...func(*lambda.Options)) (*lambda.GetEventSourceMappingOutput, error)
}

var _ MappingAPI = (*lambda.Client)(nil)

// ErrMappingNotReady is returned by CheckMapping when the replicator's
// event source mapping would apply stream records during the load, or
// would not start early enough in the stream.
var ErrMappingNotReady = fmt.Errorf("event source mapping not ready for the hand-over")

// noRecords is LastProcessingResult of a mapping that never delivered a
// batch.
const noRecords = "No records processed"

// CheckMapping enforces the ordering rule of the hand-over on AWS for the
// replicator's event source mapping (uuid): it must be Disabled, so that no
// stream record is applied while the snapshot is written, and start at
// TRIM_HORIZON, so that once enabled it applies every record still in the
// stream, those since h.StreamStart included. A mapping that has already
// delivered records must have been disabled (LastModified) before
// h.StreamStart: otherwise the target may hold changes newer than the
// snapshot, which the load would overwrite and the mapping, resuming after
// them, would not apply again.
func CheckMapping(ctx context.Context, api MappingAPI, uuid string, h HandOver) error {
	out, err := api.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: aws.String(uuid)})
	if err != nil {
		return fmt.Errorf("get event source mapping %s: %w", uuid, err)
	}
	state := aws.ToString(out.State)
	switch {
	case state != "Disabled":
		return fmt.Errorf("check event source mapping %s: state %s, want Disabled (aws lambda update-event-source-mapping --uuid %s --no-enabled, then take the export): %w",
			uuid, state, uuid, ErrMappingNotReady)
	case out.StartingPosition != lambdatypes.EventSourcePositionTrimHorizon:
		return fmt.Errorf("check event source mapping %s: starting position %s, want TRIM_HORIZON (create it disabled at TRIM_HORIZON): %w",
			uuid, out.StartingPosition, ErrMappingNotReady)
	case aws.ToString(out.LastProcessingResult) != noRecords && out.LastModified != nil && out.LastModified.After(h.StreamStart):
		return fmt.Errorf("check event source mapping %s: disabled at %s, after %s (export time minus overlap), so the target may be newer than the snapshot; take a new export now that it is disabled: %w",
			uuid, out.LastModified.UTC().Format(time.RFC3339), h.StreamStart.Format(time.RFC3339), ErrMappingNotReady)
	}
	return nil
}
