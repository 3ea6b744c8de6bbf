// Package replattr names the attributes ddbsync itself keeps in target
// items, and says which target items are ddbsync's own bookkeeping.
//
// Only the message-queue path writes them (dynamo.SeqGuard): every item it
// puts carries the sequence number of the change it was written from, and
// a delete leaves a tombstone (the key, the sequence number, a deleted
// marker and an expiry time for DynamoDB TTL) instead of nothing, so that a
// redelivered older change cannot recreate the item. Every tool that reads
// a target (verify, repair, redrive, the demo, the tests) compares items
// through [Names.Visible]: the attributes are left out and a tombstone is
// no item at all.
//
// Readers of a queue-path target see tombstones: filter them out with the
// condition attribute_not_exists(_ddbsync_deleted) (or the configured
// name). DynamoDB TTL removes them after their expiry once TTL is enabled
// on the target with the Expires attribute.
package replattr

import (
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DefaultTombstoneRetention is how long a tombstone is kept: an older
// change can arrive up to a day after it was made (stream retention, then
// republished past SNS FIFO's five-minute deduplication) and then wait 14
// days (SQS's longest retention, counted from the first enqueue, DLQ
// included) before a redrive delivers it.
const DefaultTombstoneRetention = 15 * 24 * time.Hour

// Default attribute names.
const (
	// DefaultSeq holds the zero-padded sequence number of the change an
	// item (or tombstone) was last written from.
	DefaultSeq = "_ddbsync_seq"
	// DefaultDeleted is present (BOOL true) on a tombstone only.
	DefaultDeleted = "_ddbsync_deleted"
	// DefaultExpires holds a tombstone's expiry, in epoch seconds, for
	// DynamoDB TTL.
	DefaultExpires = "_ddbsync_expires"
)

// Names are the attribute names of one target; zero fields take the
// defaults (see [Names.WithDefaults]).
type Names struct {
	// Seq is the sequence attribute (default DefaultSeq).
	Seq string
	// Deleted marks a tombstone (default DefaultDeleted).
	Deleted string
	// Expires is a tombstone's TTL attribute (default DefaultExpires). A
	// table has one TTL attribute: when the target already has one, use
	// its name.
	Expires string
}

// WithDefaults returns n with empty names set to the defaults.
func (n Names) WithDefaults() Names {
	if n.Seq == "" {
		n.Seq = DefaultSeq
	}
	if n.Deleted == "" {
		n.Deleted = DefaultDeleted
	}
	if n.Expires == "" {
		n.Expires = DefaultExpires
	}
	return n
}

// List returns the names, defaults applied.
func (n Names) List() []string {
	n = n.WithDefaults()
	return []string{n.Seq, n.Deleted, n.Expires}
}

// IsTombstone reports whether item is a tombstone (it carries Deleted).
func (n Names) IsTombstone(item map[string]types.AttributeValue) bool {
	if item == nil {
		return false
	}
	_, ok := item[n.WithDefaults().Deleted]
	return ok
}

// Visible returns item as a reader of the copy should see it: nil for no
// item or a tombstone, else the item without the Seq attribute (Expires
// may be the table's own TTL attribute, so only tombstones lose it). It
// returns item itself when it has no Seq, else a copy.
func (n Names) Visible(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	if len(item) == 0 {
		return nil
	}
	n = n.WithDefaults()
	if _, ok := item[n.Deleted]; ok {
		return nil
	}
	if _, ok := item[n.Seq]; !ok {
		return item
	}
	out := make(map[string]types.AttributeValue, len(item)-1)
	for k, v := range item {
		if k != n.Seq {
			out[k] = v
		}
	}
	return out
}

// SeqOf returns the stored sequence attribute of item ("" if none or not a
// string).
func (n Names) SeqOf(item map[string]types.AttributeValue) string {
	if s, ok := item[n.WithDefaults().Seq].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// Tombstone returns the tombstone of the item with key: the key
// attributes, Seq (a zero-padded sequence number), Deleted (BOOL true) and
// Expires (expires, in epoch seconds).
func (n Names) Tombstone(key map[string]types.AttributeValue, seq string, expires time.Time) map[string]types.AttributeValue {
	n = n.WithDefaults()
	item := make(map[string]types.AttributeValue, len(key)+3)
	for k, v := range key {
		item[k] = v
	}
	item[n.Seq] = &types.AttributeValueMemberS{Value: seq}
	item[n.Deleted] = &types.AttributeValueMemberBOOL{Value: true}
	item[n.Expires] = &types.AttributeValueMemberN{Value: strconv.FormatInt(expires.Unix(), 10)}
	return item
}
