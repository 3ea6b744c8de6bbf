package replicate

import (
	"encoding/base64"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Op is what a change does to the target item.
type Op int

const (
	// OpPut replaces the target item with the change's new image (INSERT and MODIFY).
	OpPut Op = iota + 1
	// OpDelete deletes the target item by key (REMOVE, including TTL expiry).
	OpDelete
)

// String returns "put" or "delete".
func (o Op) String() string {
	switch o {
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	}
	return "invalid"
}

// Change is one stream record, decoded at the edge.
type Change struct {
	// Seq is the record's stream sequence number (decimal digits).
	Seq string
	// Op is the write the record asks for.
	Op Op
	// Key holds the item's key attributes. It may be nil when RawKey is set.
	Key map[string]types.AttributeValue
	// RawKey is the item's key in DynamoDB JSON, set by an edge that checked
	// it with [RawKeyID] instead of decoding it into Key.
	RawKey []byte
	// KeyID identifies the item: equal keys give equal KeyIDs. See [KeyID].
	KeyID string
	// NewImage is the item after the change, in DynamoDB JSON
	// ({"attr":{"S":"v"},…}), for OpPut. It is decoded only when written, so
	// a large batch never holds every item decoded at once.
	NewImage []byte
	// Created is the record's approximate creation time (zero if unknown).
	Created time.Time
	// Err, when set, says why the record cannot be applied. If Key is known
	// the whole key fails from its first record in the batch; otherwise the
	// record fails at its own sequence number.
	Err error

	// The fields a rule set reads ([Options.Rules]); a Replicator without
	// rules ignores them.

	// Event is the record's eventName (INSERT, MODIFY or REMOVE): a rule
	// set tells an insert from a modify.
	Event string
	// OldImage is the item before the change in DynamoDB JSON, when the
	// stream carries it (NEW_AND_OLD_IMAGES) and a rule set is applied; it
	// is decoded only by the rule set.
	OldImage []byte
	// OldImageDropped says the old image was left out of a queue message
	// to fit it in MaxMessageBytes (package queue), so a rule set that
	// needs it fails the record with that reason.
	OldImageDropped bool
	// TTL says the record is the REMOVE of an item expired by DynamoDB's
	// TTL (userIdentity is the DynamoDB service):
	// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/time-to-live-ttl-streams.html
	TTL bool

	// owner, for a delete a rule set makes, holds the attributes the
	// target item must hold for the delete to remove it (see Write.Owner).
	owner map[string]types.AttributeValue

	// shaped marks a target change made by a rule set: its NewImage was
	// encoded by the SDK from a checked item, and is nil once a later
	// write of the same target key supersedes it.
	shaped bool
}

// Write is one request for a [Writer]: a put of Item or a delete of Key.
type Write struct {
	// Op is OpPut or OpDelete.
	Op Op
	// Key is the item's key; for OpPut it is also contained in Item.
	Key map[string]types.AttributeValue
	// KeyID is the [KeyID] of Key.
	KeyID string
	// Item is the full item to put (OpPut only).
	Item map[string]types.AttributeValue
	// RawItem and RawKey are the item (OpPut) and the key in DynamoDB JSON,
	// checked by [CheckImage] and [RawKeyID]. A [RawWriter] receives them
	// instead of Item and Key, which are then nil.
	RawItem, RawKey []byte
	// Seq is the sequence number of the change the write comes from. Plain
	// table writers ignore it; a guarded writer (dynamo.SeqGuard) writes only
	// if it is newer than the one stored with the item.
	Seq string
	// Owner, on a delete, makes it conditional: the target item is deleted
	// only if it holds every attribute of Owner (top-level names) with an
	// equal value, that is if it still belongs to the source item the
	// delete comes from. A target item that does not (another source item
	// holds the key now, or there is none) is kept and the write counts as
	// applied. The Replicator sets it on the deletes a rule set with a key
	// rule makes (see reshape.go); nil, the delete is unconditional. Puts
	// ignore it.
	Owner map[string]types.AttributeValue
}

// KeyID returns a canonical string for an item key: attribute names in sorted
// order, each with its type and value, every name and value preceded by its
// length, so that the encoding is injective: two keys are the same item
// exactly when their KeyIDs are equal, whatever bytes their names and values
// hold. DynamoDB normalises key numbers, so the stream carries one spelling
// of each number key. ok is false when a key attribute is not of a key type
// (S, N or B).
func KeyID(key map[string]types.AttributeValue) (id string, ok bool) {
	var buf [2]string // most keys have one or two attributes
	names := buf[:0]
	size := 0
	for name, v := range key {
		names = append(names, name)
		size += len(name) + 24
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			size += len(v.Value)
		case *types.AttributeValueMemberN:
			size += len(v.Value)
		case *types.AttributeValueMemberB:
			size += base64.StdEncoding.EncodedLen(len(v.Value))
		default:
			return "", false
		}
	}
	if len(names) == 0 {
		return "", false
	}
	sort.Strings(names)
	b := make([]byte, 0, size)
	for _, name := range names {
		b = appendField(b, name)
		switch v := key[name].(type) {
		case *types.AttributeValueMemberS:
			b = append(b, 'S')
			b = appendField(b, v.Value)
		case *types.AttributeValueMemberN:
			b = append(b, 'N')
			b = appendField(b, v.Value)
		case *types.AttributeValueMemberB:
			b = append(b, 'B')
			b = strconv.AppendInt(b, int64(base64.StdEncoding.EncodedLen(len(v.Value))), 10)
			b = append(b, ':')
			b = base64.StdEncoding.AppendEncode(b, v.Value)
		}
	}
	return string(b), true
}

// appendField appends s preceded by its length and a colon.
func appendField(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

// Project returns the attributes of item named in like, for matching an item
// against keys of the same table.
func Project(item, like map[string]types.AttributeValue) map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(like))
	for name := range like {
		if v, ok := item[name]; ok {
			out[name] = v
		}
	}
	return out
}
