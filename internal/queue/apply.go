package queue

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ddbsync/ddbsync/internal/replicate"
)

// SourceAPI is the part of *dynamodb.Client the Applier calls to re-read
// items sent keys only.
type SourceAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// Message is one SQS message of a batch.
type Message struct {
	// ID is the SQS messageId, reported when the message fails.
	ID string
	// GroupID is the MessageGroupId attribute.
	GroupID string
	// Body is the raw message body: an [Envelope].
	Body []byte
}

// ApplyResult says what Apply did.
type ApplyResult struct {
	replicate.Result
	// FailedIDs are the ids of the messages to report as failed, in batch order.
	FailedIDs []string
	// Reread counts keys-only messages re-read from the source.
	Reread int
	// StaleSkipped counts the writes the stale-write guard refused (0
	// without Applier.Stale). They count in Puts and Deletes too, as done.
	StaleSkipped int
}

// Applier applies batches of messages to the target through a replicator
// whose writer is a stale-write guard (dynamo.SeqGuard).
type Applier struct {
	// Stale, if set, counts the guard's refused writes, for
	// ApplyResult.StaleSkipped: the counter of the guard's table. Calls of
	// Apply sharing it must not overlap (Lambda runs one at a time).
	Stale *StaleCounter

	rep         *replicate.Replicator
	source      SourceAPI
	sourceTable string
}

// NewApplier returns an Applier writing through rep. source re-reads
// keys-only messages; with a nil source they fail. sourceTable names the
// table to re-read (a name or an ARN); empty means the envelope's TableARN,
// which DynamoDB accepts as a TableName (DynamoDB Local does not: give it
// the name).
func NewApplier(rep *replicate.Replicator, source SourceAPI, sourceTable string) *Applier {
	return &Applier{rep: rep, source: source, sourceTable: sourceTable}
}

// Apply decodes and applies msgs, given in queue order, and returns the
// messages that failed. Changes of one key are applied newest first by
// sequence number (only the newest is written), so a redelivered older
// message in the batch never hides a newer one. Once a message of a group
// fails, every later message of that group fails too.
func (a *Applier) Apply(ctx context.Context, msgs []Message) ApplyResult {
	changes := make([]replicate.Change, len(msgs))
	var reread int
	for i := range msgs {
		changes[i] = a.change(ctx, msgs[i].Body, &reread)
	}
	// Stable order by sequence number, so each key's last change is its newest.
	order := make([]int, len(msgs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int {
		sx, sy := changes[x].Seq, changes[y].Seq
		switch {
		case sx == "" || sy == "":
			return len(sy) - len(sx) // undecodable messages first
		}
		return replicate.CompareSeq(sx, sy)
	})
	sorted := make([]replicate.Change, len(order))
	for j, i := range order {
		sorted[j] = changes[i]
	}
	plan := a.rep.Plan(sorted)
	var staleBefore int64
	if a.Stale != nil {
		staleBefore = a.Stale.Count()
	}
	res := ApplyResult{Result: a.rep.Write(ctx, plan), Reread: reread}
	if a.Stale != nil {
		res.StaleSkipped = int(a.Stale.Count() - staleBefore)
	}

	failed := make([]bool, len(msgs))
	for j, i := range order {
		failed[i] = plan.Failed(j)
	}
	blocked := map[string]bool{}
	for i, m := range msgs {
		if failed[i] || blocked[m.GroupID] {
			if m.GroupID != "" {
				blocked[m.GroupID] = true
			}
			res.FailedIDs = append(res.FailedIDs, m.ID)
		}
	}
	return res
}

// change decodes one message body into a change with
// replicate.DecodeRecord, as the stream path decodes its records; problems
// become Change.Err.
func (a *Applier) change(ctx context.Context, body []byte, reread *int) replicate.Change {
	e, err := DecodeEnvelope(body)
	if err != nil {
		return replicate.Change{Err: fmt.Errorf("decode message: %w", err)}
	}
	c := replicate.DecodeRecord(&replicate.Record{
		Seq: e.Seq, Event: e.Event, Keys: e.Keys, NewImage: e.NewImage, Created: e.CreatedTime(), KeysOnly: e.KeysOnly,
		OldImage: e.OldImage, OldImageDropped: e.OldImageDropped, TTL: e.TTL,
	})
	if c.Err != nil || c.Op != replicate.OpPut || !e.KeysOnly {
		return c
	}
	*reread++
	if err := a.reread(ctx, &e, &c); err != nil {
		c.Err = fmt.Errorf("record %s: %w", e.Seq, err)
	}
	return c
}

// reread fills a keys-only change from the source table, read with
// ConsistentRead: the item as of this change or later. A missing item
// becomes a delete at this change's sequence number, which the guard
// writes as a tombstone like any other delete.
func (a *Applier) reread(ctx context.Context, e *Envelope, c *replicate.Change) error {
	table := a.sourceTable
	if table == "" {
		table = e.TableARN
	}
	if a.source == nil || table == "" {
		return fmt.Errorf("message is keys only and no source table to re-read")
	}
	key := c.Key
	if key == nil {
		var err error
		if key, err = replicate.DecodeImage(c.RawKey); err != nil {
			return fmt.Errorf("decode keys: %w", err)
		}
	}
	out, err := a.source.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("re-read source item: %w", err)
	}
	if out.Item == nil {
		c.Op = replicate.OpDelete
		return nil
	}
	img, err := attributevalue.MarshalMapJSON(out.Item)
	if err != nil {
		return fmt.Errorf("encode source item: %w", err)
	}
	c.NewImage = img
	return nil
}
