package redrive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ddbsync/ddbsync/internal/streampoll"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// Status is what became of one on-failure record.
type Status string

// Statuses.
const (
	// StatusRedriven: every key of the batch equals the source's current
	// value (in a dry run: every key was compared).
	StatusRedriven Status = "redriven"
	// StatusExpired: records had left the stream; the keys read were
	// repaired, the others are unknown.
	StatusExpired Status = "expired"
	// StatusKept: some keys failed, or the stream could not be read.
	StatusKept Status = "kept"
	// StatusUnreadable: not an on-failure record of the source's stream.
	StatusUnreadable Status = "unreadable"
)

// errNotFailureRecord is the Err of an unreadable message.
var errNotFailureRecord = errors.New("not an on-failure record for DynamoDB Streams")

// Redriver redrives the records of a [Source] one by one.
type Redriver struct {
	// Streams reads the source table's stream.
	Streams StreamReader
	// Repairer repairs each key; a dry-run Repairer makes a dry run.
	Repairer Repairer
	// Table is the source table: records of other streams are kept.
	Table string
	// DryRun removes nothing from the source (pair it with a dry-run
	// Repairer).
	DryRun bool
	// DropExpired removes the records of expired batches whose keys read
	// were all repaired, once reported.
	DropExpired bool
	// Options configures each [Batch].
	Options Options
}

// Outcome is what the Redriver did with one message.
type Outcome struct {
	// Message is the on-failure record.
	Message Message
	// Batch locates its records (zero for an unreadable message).
	Batch streampoll.BatchInfo
	// Status says what became of it; Removed whether it left the source.
	Status  Status
	Removed bool
	// Result is the outcome of each key.
	Result Result
	// Err is why it was kept or expired.
	Err error
}

// Totals counts the outcomes of a [Redriver.Run].
type Totals struct {
	// Batches counts the messages read; Redriven, Expired, Kept and
	// Unreadable those of each status.
	Batches, Redriven, Expired, Kept, Unreadable int
	// Left counts the messages left in the source for another redrive.
	Left int
	// Records counts the stream records read.
	Records int
	// Puts, Deletes and Unchanged count the keys by action; FailedKeys the
	// keys not repaired.
	Puts, Deletes, Unchanged, FailedKeys int
}

func (t *Totals) add(o Outcome) {
	t.Batches++
	switch o.Status {
	case StatusRedriven:
		t.Redriven++
	case StatusExpired:
		t.Expired++
	case StatusKept:
		t.Kept++
	case StatusUnreadable:
		t.Unreadable++
	}
	if !o.Removed {
		t.Left++
	}
	t.Records += o.Result.Records
	t.Puts += o.Result.Count(tablesync.ActionPut)
	t.Deletes += o.Result.Count(tablesync.ActionDelete)
	t.Unchanged += o.Result.Count(tablesync.ActionNone)
	t.FailedKeys += len(o.Result.Failed())
}

// Run redrives every message of src, removing each one redriven (never in
// a dry run), and calls report, if not nil, with each outcome. It goes on
// past batches that fail and stops only when ctx ends or src fails; it
// does not close src.
func (r *Redriver) Run(ctx context.Context, src Source, report func(Outcome)) (Totals, error) {
	var t Totals
	for {
		m, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		if err != nil {
			return t, err
		}
		o := r.redrive(ctx, m)
		if o.Removed {
			err = src.Done(ctx, m)
		} else {
			err = src.Keep(ctx, m)
		}
		if err != nil {
			o.Removed = false
			t.add(o)
			return t, err
		}
		t.add(o)
		if report != nil {
			report(o)
		}
		if ctx.Err() != nil {
			return t, context.Cause(ctx)
		}
	}
}

// redrive handles one message.
func (r *Redriver) redrive(ctx context.Context, m Message) Outcome {
	o := Outcome{Message: m}
	var rec streampoll.FailureRecord
	if err := json.Unmarshal(m.Body, &rec); err != nil || rec.DDBStreamBatchInfo.ShardID == "" {
		o.Status, o.Err = StatusUnreadable, errNotFailureRecord
		return o
	}
	o.Batch = rec.DDBStreamBatchInfo
	if !strings.Contains(o.Batch.StreamARN, ":table/"+r.Table+"/stream/") {
		o.Status, o.Err = StatusUnreadable, fmt.Errorf("its stream %s is not table %s's", o.Batch.StreamARN, r.Table)
		return o
	}
	o.Result, o.Err = Batch(ctx, r.Streams, r.Repairer, o.Batch, r.Options)
	switch {
	case o.Err == nil:
		o.Status, o.Removed = StatusRedriven, !r.DryRun
	case errors.Is(o.Err, ErrExpired) && !errors.Is(o.Err, ErrKeysFailed):
		o.Status, o.Removed = StatusExpired, r.DropExpired && !r.DryRun
	default:
		o.Status = StatusKept
	}
	return o
}
