package rules

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Event is a stream record's eventName.
type Event string

// The stream events.
const (
	EventInsert Event = "INSERT"
	EventModify Event = "MODIFY"
	EventRemove Event = "REMOVE"
)

// Op is what a target write does.
type Op string

// The target writes.
const (
	OpPut    Op = "put"
	OpDelete Op = "delete"
)

// Identity is a stream record's userIdentity.
type Identity struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
}

// IsTTL reports whether the identity is DynamoDB's TTL service, which is
// how a stream marks the REMOVE of an expired item:
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/time-to-live-ttl-streams.html
func (id *Identity) IsTTL() bool {
	return id != nil && id.Type == "Service" && id.PrincipalID == "dynamodb.amazonaws.com"
}

// Change is one stream record, decoded.
type Change struct {
	// Event is INSERT, MODIFY or REMOVE.
	Event Event
	// Keys is the source item's key.
	Keys map[string]types.AttributeValue
	// OldImage and NewImage are the item before and after, when the
	// stream's view type carries them (nil otherwise).
	OldImage, NewImage map[string]types.AttributeValue
	// UserIdentity is the record's userIdentity (nil for a user's write).
	UserIdentity *Identity
}

// Write is one write to the target.
type Write struct {
	// Op is OpPut or OpDelete.
	Op Op
	// Key is the target key.
	Key map[string]types.AttributeValue
	// Item is the item to put (OpPut only).
	Item map[string]types.AttributeValue
}

// Writes returns the target writes of a change, in order, with the filter
// semantics that keep the copy correct:
//
//   - INSERT or MODIFY into the filter: a put of the transformed item.
//   - MODIFY out of the filter (the old image matched, the new one does
//     not): a delete of the old target key. Without an old image it is a
//     delete of the key the new image would have, which is harmless if the
//     item was never copied.
//   - A re-key whose target key changes (old and new images map to
//     different target keys): a delete of the old target key, then the put.
//   - REMOVE: a delete of the old image's target key, none if the old image
//     did not match the filter; with TTLSkip, none for a TTL expiry.
//
// A rule set with a key rule needs the old image of a MODIFY (else
// ErrNeedOldImage): the stream's view type must be NEW_AND_OLD_IMAGES. A
// REMOVE without an old image is a delete of the key the key rule
// computes from Keys alone, or ErrNeedOldImage if it reads other
// attributes. The identity rule set gives the change's own write.
func (rs *RuleSet) Writes(c Change) ([]Write, error) {
	if rs == nil {
		rs = &RuleSet{TTL: TTLReplicate}
	}
	switch c.Event {
	case EventInsert, EventModify:
		if c.NewImage == nil {
			return nil, fmt.Errorf("%s record without NewImage: %w", c.Event, ErrNeedOldImage)
		}
		out, keep, err := rs.Item(c.NewImage)
		if err != nil {
			return nil, err
		}
		var old map[string]types.AttributeValue
		oldKeep := false
		if c.Event == EventModify && c.OldImage != nil {
			if old, oldKeep, err = rs.Item(c.OldImage); err != nil {
				return nil, err
			}
		} else if c.Event == EventModify && rs.key != nil {
			return nil, fmt.Errorf("MODIFY of a re-keyed item without OldImage: %w "+
				"(set the stream's view type to NEW_AND_OLD_IMAGES)", ErrNeedOldImage)
		}
		var writes []Write
		if !keep {
			switch {
			case oldKeep:
				k, err := rs.targetKey(old, c.Keys)
				if err != nil {
					return nil, err
				}
				writes = append(writes, Write{Op: OpDelete, Key: k})
			case c.Event == EventModify && c.OldImage == nil:
				// No key rule here (that needs the old image): the
				// target key is the source key as the renames move it.
				writes = append(writes, Write{Op: OpDelete, Key: rs.renamedKey(c.Keys)})
			}
			return writes, nil
		}
		k, err := rs.targetKey(out, c.Keys)
		if err != nil {
			return nil, err
		}
		if oldKeep {
			ok, err := rs.targetKey(old, c.Keys)
			if err != nil {
				return nil, err
			}
			if keyID(ok) != keyID(k) {
				writes = append(writes, Write{Op: OpDelete, Key: ok})
			}
		}
		return append(writes, Write{Op: OpPut, Key: k, Item: out}), nil
	case EventRemove:
		if rs != nil && rs.TTL == TTLSkip && c.UserIdentity.IsTTL() {
			return nil, nil
		}
		if c.OldImage == nil {
			if rs.key == nil {
				return []Write{{Op: OpDelete, Key: rs.renamedKey(c.Keys)}}, nil
			}
			k, err := rs.keyFromKeys(c.Keys)
			if err != nil {
				return nil, err
			}
			return []Write{{Op: OpDelete, Key: k}}, nil
		}
		old, keep, err := rs.Item(c.OldImage)
		if err != nil || !keep {
			return nil, err
		}
		k, err := rs.targetKey(old, c.Keys)
		if err != nil {
			return nil, err
		}
		return []Write{{Op: OpDelete, Key: k}}, nil
	}
	return nil, fmt.Errorf("unknown eventName %q", c.Event)
}

// keyFromKeys evaluates the key rule on the source key alone (a REMOVE
// without an old image).
func (rs *RuleSet) keyFromKeys(keys map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	k := make(map[string]types.AttributeValue, len(rs.key.Pairs))
	for _, p := range rs.key.Pairs {
		v, err := p.expr.eval(keys)
		if err != nil {
			return nil, fmt.Errorf("REMOVE without OldImage: %w: %w "+
				"(set the stream's view type to NEW_AND_OLD_IMAGES)",
				&EvalError{Where: fmt.Sprintf("key %s reads more than the source key", p.To), Err: err}, ErrNeedOldImage)
		}
		av, err := fromCEL(v)
		if err != nil {
			return nil, &EvalError{Where: fmt.Sprintf("key %s", p.To), Err: err}
		}
		if nv, ok := canonicalNumber(av); ok {
			av = nv
		}
		k[p.To[0]] = av
	}
	return k, nil
}

// renamedKey is the source key with the top-level renames applied: the
// target key of a rule set without a key rule.
func (rs *RuleSet) renamedKey(keys map[string]types.AttributeValue) map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(keys))
	for name, v := range keys {
		for _, r := range rs.Rules {
			if r.Kind != KindRename {
				continue
			}
			for _, p := range r.Pairs {
				if len(p.From) == 1 && p.From[0] == name && len(p.To) == 1 {
					name = p.To[0]
				}
			}
		}
		out[name] = v
	}
	return out
}

// targetKey projects a transformed item onto the target key.
func (rs *RuleSet) targetKey(item, srcKey map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	if rs == nil || len(rs.Rules) == 0 {
		return srcKey, nil
	}
	names := rs.targetKeyNames(srcKey)
	k := make(map[string]types.AttributeValue, len(names))
	for _, n := range names {
		v, ok := item[n]
		if !ok {
			return nil, fmt.Errorf("%s: the rules leave no target key attribute %q (exclude or rename it only with a key rule)", rs.Source, n)
		}
		if nv, ok := canonicalNumber(v); ok {
			// The item is written at the key it names, in the one
			// spelling DynamoDB stores.
			item[n], v = nv, nv
		}
		k[n] = v
	}
	return k, nil
}

// canonicalNumber returns a number attribute in one spelling ("5.0",
// "50E-1" and "5" are all "5"), as DynamoDB stores a number: a target key
// computed from an attribute the items spell freely then has one identity,
// for the collision check and for BatchWriteItem, which refuses two
// writes of one key. ok is false for any other attribute or a spelling
// that is no number (left to DynamoDB to refuse).
func canonicalNumber(v types.AttributeValue) (types.AttributeValue, bool) {
	nv, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		return v, false
	}
	d, err := parseDecimal(nv.Value)
	if err != nil {
		return v, false
	}
	d.text = ""
	if c := d.String(); c != nv.Value {
		return &types.AttributeValueMemberN{Value: c}, true
	}
	return v, false
}

// Batch checks the target writes of one batch of records for collisions:
// two different source keys whose writes (puts or deletes) touch the same
// target key. The later record is the one that fails, with ErrCollision
// naming both source keys; the earlier one's writes stand. A record that
// fails is retried from its sequence number in a later batch, without the
// earlier record, so a legitimate move (item A leaves target key T, item B
// takes it) succeeds on retry; so does a real collision (a key rule that
// maps two live items to one key), whose later item then overwrites the
// earlier: the check reports it once, it does not prevent it. Collisions
// across batches cannot be seen: there the last writer wins.
// The zero Batch is ready to use; it is not safe for concurrent use.
type Batch struct {
	claims map[string]claim
}

type claim struct {
	srcID  string
	src    map[string]types.AttributeValue
	record string
}

// Check records the writes of the record with source key src, or returns
// a *CollisionError (recording nothing) if one of them touches a target
// key that another source key already touched in the batch.
func (b *Batch) Check(src map[string]types.AttributeValue, writes []Write) error {
	return b.CheckRecord("", src, writes)
}

// CheckRecord is Check for the record named record (its sequence number),
// which a later collision's CollisionError names.
func (b *Batch) CheckRecord(record string, src map[string]types.AttributeValue, writes []Write) error {
	if b.claims == nil {
		b.claims = map[string]claim{}
	}
	srcID := keyID(src)
	for _, w := range writes {
		if c, ok := b.claims[keyID(w.Key)]; ok && c.srcID != srcID {
			return &CollisionError{Target: w.Key, Earlier: c.src, Later: src, EarlierRecord: c.record}
		}
	}
	for _, w := range writes {
		b.claims[keyID(w.Key)] = claim{srcID: srcID, src: src, record: record}
	}
	return nil
}

// CollisionError is two source items mapped to one target key in a batch;
// it wraps ErrCollision. Its message names the keys' values: a log that
// must not carry them names EarlierRecord instead.
type CollisionError struct {
	// Target is the target key both map to.
	Target map[string]types.AttributeValue
	// Earlier and Later are the source keys, in batch order.
	Earlier, Later map[string]types.AttributeValue
	// EarlierRecord names the earlier record (CheckRecord), or "".
	EarlierRecord string
}

// Error names both source keys and the target key.
func (e *CollisionError) Error() string {
	return fmt.Sprintf("%v: source keys %s and %s both map to target key %s in one batch",
		ErrCollision, FormatKey(e.Earlier), FormatKey(e.Later), FormatKey(e.Target))
}

// Unwrap returns ErrCollision.
func (e *CollisionError) Unwrap() error { return ErrCollision }

// keyID is a canonical string for a key: equal keys, equal IDs.
func keyID(k map[string]types.AttributeValue) string {
	return FormatKey(k)
}

// FormatKey writes a key as {name: TYPE value, …}, names sorted, for
// errors.
func FormatKey(k map[string]types.AttributeValue) string {
	names := make([]string, 0, len(k))
	for n := range k {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q: ", n)
		switch v := k[n].(type) {
		case *types.AttributeValueMemberS:
			fmt.Fprintf(&b, "S %q", v.Value)
		case *types.AttributeValueMemberN:
			fmt.Fprintf(&b, "N %s", v.Value)
		case *types.AttributeValueMemberB:
			fmt.Fprintf(&b, "B %s", base64.StdEncoding.EncodeToString(v.Value))
		default:
			fmt.Fprintf(&b, "%T", v)
		}
	}
	b.WriteByte('}')
	return b.String()
}

// Target applies the rules to a source item whose key is srcKey and
// returns the target item and its key; keep is false when a filter drops
// the item (key and item are then nil). The backfill, the export load,
// verify and repair use it; the stream paths use Writes.
func (rs *RuleSet) Target(src, srcKey map[string]types.AttributeValue) (key, item map[string]types.AttributeValue, keep bool, err error) {
	item, keep, err = rs.Item(src)
	if err != nil || !keep {
		return nil, nil, false, err
	}
	if key, err = rs.targetKey(item, srcKey); err != nil {
		return nil, nil, false, err
	}
	return key, item, true, nil
}

// TargetKeyNames returns the target table's key attribute names for a
// source table keyed by srcKeyNames: the key rule's names, or the source
// key's names as the rename rules move them (sorted).
func (rs *RuleSet) TargetKeyNames(srcKeyNames []string) []string {
	if rs == nil || len(rs.Rules) == 0 {
		return append([]string(nil), srcKeyNames...)
	}
	key := make(map[string]types.AttributeValue, len(srcKeyNames))
	for _, n := range srcKeyNames {
		key[n] = &types.AttributeValueMemberNULL{Value: true}
	}
	return rs.targetKeyNames(key)
}
