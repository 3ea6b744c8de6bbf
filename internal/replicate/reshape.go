package replicate

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/rules"
)

// Reshaping a batch with a rule set.
//
// With Options.Rules, Replicator.Plan turns the source records into target
// changes before planning: each record's Keys, NewImage and OldImage are
// decoded, the rule set gives its target writes (rules.RuleSet.Writes: a
// put of the transformed item, the delete of a target key the item left),
// and one rules.Batch checks that no two source items write one target key
// in the batch. Each write becomes a Change in the stream's own form (key
// and item in DynamoDB JSON, encoded by the SDK), carrying the record's
// sequence number, so the plan, the collapse, the raw forwarding and the
// failure checkpoint are the ones of a copy without rules. An item
// superseded by a later write of its target key is dropped at once, so the
// batch holds about its own size in encoded items.
//
// A record whose rules fail (a CEL error, rules.ErrNeedOldImage, a
// collision: the later of two records fails, naming both source keys)
// fails at its own sequence number, as do the later records of its item in
// the batch; the earlier ones stand. A record the rules give no write
// (filtered out, a TTL delete skipped) is applied: Result.Filtered and
// Result.TTLSkipped count them.
//
// With a key rule, two source items can hold one target key one after the
// other (two users swap emails, the key rule's attribute), so a delete the
// rules make (the old target key of a re-key, an item leaving the filter,
// a REMOVE) may find another item at its key: a collision retried alone,
// a record applied after the other item's, or the queue path. Such a
// delete carries an owner (Write.Owner): the source key attributes, where
// the rules put them in the target item (rules.RuleSet.SourceKeyPaths),
// with the record's source key values; the writer deletes the target item
// only if it holds them. Attributes that are part of the target key are
// left out (the key already pins them); if every source key attribute is,
// or there is no key rule, target keys are one per source item and the
// delete stays unconditional. So does it when the rules drop or overwrite
// a source key attribute or move it into a map (rules.RuleSet.Reversible,
// top-level attributes only): the remaining limit of docs/rules.md.

// minShapePerWorker is the smallest share of a batch worth a goroutine
// when reshaping (a typical rule set takes some microseconds per record).
const minShapePerWorker = 128

// errEarlierFailed fails the records that follow a failed record of the
// same item in a batch, so that an item's changes stay in order.
var errEarlierFailed = errors.New("an earlier record of the same item failed in this batch")

// ttlIdentity is the userIdentity of a TTL expiry, for rules.Change.
var ttlIdentity = &rules.Identity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"}

// shapedRecord is one record's target writes, computed independently of
// the other records.
type shapedRecord struct {
	srcKey  map[string]types.AttributeValue
	keys    []rules.Write // the target keys (Item nil), for rules.Batch
	changes []Change      // the target changes
	ttlSkip bool          // no writes because a TTL delete is skipped
	err     error
}

// reshapeWindow is how many records are shaped at once before their
// writes are checked and kept: the decoded images and target keys of a
// window are garbage before the next one is decoded, so the batch's peak
// heap is its encoded target items and a window's decoding.
const reshapeWindow = 1024

// reshape returns the plan of the target writes of changes.
func (r *Replicator) reshape(src []Change) *Plan {
	var (
		batch      rules.Batch
		failedSrc  = map[string]bool{} // source KeyIDs with a failed record
		last       = map[string]int{}  // target KeyID -> its latest change
		targets    = make([]int, len(src)+1)
		changes    = make([]Change, 0, len(src))
		newest     time.Time
		filtered   int
		ttlSkipped int
	)
	shaped := make([]shapedRecord, min(len(src), reshapeWindow))
	for lo := 0; lo < len(src); lo += reshapeWindow {
		window := src[lo:min(lo+reshapeWindow, len(src))]
		r.shapeWindow(window, shaped[:len(window)])
		for w := range window {
			i, c, s := lo+w, &window[w], &shaped[w]
			targets[i] = len(changes)
			if c.Created.After(newest) {
				newest = c.Created
			}
			err := s.err
			if err == nil && failedSrc[c.KeyID] {
				err = fmt.Errorf("record %s: %w", c.Seq, errEarlierFailed)
			}
			if err == nil {
				if cerr := batch.CheckRecord(c.Seq, s.srcKey, s.keys); cerr != nil {
					err = collisionError(c.Seq, cerr)
				}
			}
			if err != nil {
				if c.KeyID != "" {
					failedSrc[c.KeyID] = true
				}
				// No KeyID: NewPlan fails the record at its own sequence number.
				changes = append(changes, Change{Seq: c.Seq, Created: c.Created, Err: err})
				*s = shapedRecord{}
				continue
			}
			switch {
			case s.ttlSkip:
				ttlSkipped++
			case len(s.changes) == 0:
				filtered++
			}
			for _, t := range s.changes {
				if j, ok := last[t.KeyID]; ok {
					changes[j].NewImage = nil // superseded: only the last write of a key is made
				}
				last[t.KeyID] = len(changes)
				changes = append(changes, t)
			}
			*s = shapedRecord{}
		}
	}
	targets[len(src)] = len(changes)

	p := NewPlan(changes)
	p.targets = targets
	p.res.Received = len(src)
	p.res.Reshaped = true
	p.res.Filtered, p.res.TTLSkipped = filtered, ttlSkipped
	if newest.After(p.res.NewestCreated) {
		p.res.NewestCreated = newest
	}
	return p
}

// shapeWindow shapes the records of window into out, split across the
// available CPUs: records are independent until their writes are checked.
func (r *Replicator) shapeWindow(window []Change, out []shapedRecord) {
	parts := min(runtime.GOMAXPROCS(0), max(len(window)/minShapePerWorker, 1))
	var wg sync.WaitGroup
	for part := range parts {
		lo, hi := part*len(window)/parts, (part+1)*len(window)/parts
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				out[i] = r.shapeRecord(&window[i])
			}
		})
	}
	wg.Wait()
}

// shapeRecord decodes record c and computes its target writes.
func (r *Replicator) shapeRecord(c *Change) shapedRecord {
	if c.Err != nil {
		return shapedRecord{err: c.Err}
	}
	if c.KeyID == "" {
		return shapedRecord{err: fmt.Errorf("record %s: record has no key", c.Seq)}
	}
	var s shapedRecord
	rc := rules.Change{Event: rules.EventRemove, Keys: c.Key}
	if rc.Keys == nil {
		key, err := DecodeImage(c.RawKey)
		if err != nil {
			return shapedRecord{err: fmt.Errorf("record %s: decode Keys: %w", c.Seq, err)}
		}
		rc.Keys = key
	}
	s.srcKey = rc.Keys
	if c.Op == OpPut {
		rc.Event = rules.EventModify
		if c.Event == string(rules.EventInsert) {
			rc.Event = rules.EventInsert
		}
		item, err := DecodeImage(c.NewImage)
		if err != nil {
			return shapedRecord{err: fmt.Errorf("decode NewImage of record %s: %w", c.Seq, err)}
		}
		rc.NewImage = item
	}
	if len(c.OldImage) > 0 {
		item, err := DecodeImage(c.OldImage)
		if err != nil {
			return shapedRecord{err: fmt.Errorf("decode OldImage of record %s: %w", c.Seq, err)}
		}
		rc.OldImage = item
	}
	if c.TTL && rc.Event == rules.EventRemove {
		rc.UserIdentity = ttlIdentity
	}
	writes, err := r.rules.Writes(rc)
	if err != nil {
		if errors.Is(err, rules.ErrNeedOldImage) && c.OldImageDropped {
			err = fmt.Errorf("%w; the old image was left out of the queue message to fit it in 256 KiB, "+
				"so this record cannot be applied with these rules", err)
		}
		return shapedRecord{err: withholdValues(fmt.Errorf("record %s: rules: %w", c.Seq, err))}
	}
	s.ttlSkip = len(writes) == 0 && rc.UserIdentity != nil && r.rules.TTL == rules.TTLSkip
	s.keys = make([]rules.Write, len(writes))
	s.changes = make([]Change, len(writes))
	for j, w := range writes {
		t, err := targetChange(c, w)
		if err != nil {
			return shapedRecord{err: fmt.Errorf("record %s: rules: %w", c.Seq, err)}
		}
		if w.Op == rules.OpDelete {
			t.owner = r.deleteOwner(s.srcKey, w.Key)
		}
		s.keys[j] = rules.Write{Op: w.Op, Key: w.Key}
		s.changes[j] = t
	}
	return s
}

// targetChange returns the change of target write w of record c, its key
// and item encoded by the SDK as DynamoDB JSON.
func targetChange(c *Change, w rules.Write) (Change, error) {
	id, ok := KeyID(w.Key)
	if !ok {
		return Change{}, fmt.Errorf("target key %s: key attributes must be S, N or B", keyNames(w.Key))
	}
	key, err := attributevalue.MarshalMapJSON(w.Key)
	if err != nil {
		return Change{}, fmt.Errorf("encode target key: %w", err)
	}
	t := Change{Seq: c.Seq, Op: OpDelete, RawKey: key, KeyID: id, Created: c.Created, shaped: true}
	if w.Op == rules.OpPut {
		t.Op = OpPut
		if t.NewImage, err = attributevalue.MarshalMapJSON(w.Item); err != nil {
			return Change{}, fmt.Errorf("encode target item: %w", err)
		}
	}
	return t, nil
}

// deleteOwner returns the owner of a delete of target key key made for
// the source item srcKey: the attributes the target item must hold for
// the delete to remove it (see reshape's doc above), nil for an
// unconditional delete.
func (r *Replicator) deleteOwner(srcKey, key map[string]types.AttributeValue) map[string]types.AttributeValue {
	if !r.rules.HasKeyRule() {
		return nil
	}
	names := sortedNames(srcKey)
	paths, ok := r.rules.SourceKeyPaths(names)
	if !ok {
		return nil // the rules drop a source key attribute: not conditioned
	}
	var owner map[string]types.AttributeValue
	for i, p := range paths {
		if len(p) != 1 {
			return nil // inside a map: not conditioned (top-level attributes only)
		}
		if _, inKey := key[p[0]]; inKey {
			continue
		}
		if owner == nil {
			owner = make(map[string]types.AttributeValue, len(names))
		}
		owner[p[0]] = srcKey[names[i]]
	}
	return owner
}

// valuesWithheld stands for the message of a rules.EvalError in a record's
// error, which reaches the log line.
const valuesWithheld = "evaluation failed (the cause is not logged: it may quote the item's values; " +
	"ddbsync rules apply on the record shows it)"

// withholdError is a record's error whose message leaves out the cause of
// a rules.EvalError, which may quote item values (docs/STYLE.md,
// principle 10); errors.Is and errors.As still see the whole chain.
type withholdError struct {
	msg string
	err error
}

func (e *withholdError) Error() string { return e.msg }
func (e *withholdError) Unwrap() error { return e.err }

// withholdValues returns err with the cause of its rules.EvalError, if
// any, replaced by valuesWithheld in its message.
func withholdValues(err error) error {
	var ev *rules.EvalError
	if !errors.As(err, &ev) {
		return err
	}
	return &withholdError{msg: strings.Replace(err.Error(), ev.Error(), ev.Where+": "+valuesWithheld, 1), err: err}
}

// keyNames returns the attribute names of a key, sorted, for errors that
// must not show values.
func keyNames(key map[string]types.AttributeValue) []string {
	return sortedNames(key)
}

// collisionError says which earlier record of the batch took the target
// key, without the keys' values (the error reaches the log; principle 10
// of docs/STYLE.md): `ddbsync rules apply` on the two records names them.
func collisionError(seq string, err error) error {
	var ce *rules.CollisionError
	if !errors.As(err, &ce) {
		return fmt.Errorf("record %s: %w", seq, err)
	}
	return fmt.Errorf("record %s: %w: record %s, of another source item, writes the same target key in this batch "+
		"(key values are not logged; ddbsync rules apply on the two records names them)", seq, rules.ErrCollision, ce.EarlierRecord)
}
