package exportload

import (
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/rules"
)

// MaxFailedItems bounds the failed items a FileResult and a Report keep.
const MaxFailedItems = 1000

// ErrItemsFailed is returned (wrapped) by a load that left items out
// because the rules failed on them or mapped two of them to one target key
// in one batch.
var ErrItemsFailed = errors.New("items not loaded")

// ItemFailure is an exported item that the rule set could not load.
type ItemFailure struct {
	// File and Line (1-based) say where the item is in the export.
	File string
	Line int64
	// SourceKey is the item's key in the exported table.
	SourceKey map[string]types.AttributeValue
	// TargetKey is the target key it maps to (nil if the rules failed).
	TargetKey map[string]types.AttributeValue
	// OtherSourceKey is, for a collision, the source key of the item of
	// the same batch that took TargetKey first.
	OtherSourceKey map[string]types.AttributeValue
	// Err is the rules' error, or one wrapping rules.ErrCollision.
	Err error
}

// String names the failure by its place and keys, never the item's values.
func (f ItemFailure) String() string {
	s := fmt.Sprintf("%s line %d: source key %s", f.File, f.Line, rules.FormatKey(f.SourceKey))
	if f.TargetKey != nil {
		s += ", target key " + rules.FormatKey(f.TargetKey)
	}
	return s + ": " + f.Err.Error()
}

// outcome is what the rules made of one line.
type outcome int

const (
	outWrite    outcome = iota // write it
	outFiltered                // a filter dropped it
	outFailed                  // the rules failed on it
)

// applyRules turns the put of a source item into the put of its target
// item. srcID is the source key's id (the write's KeyID before).
func (l *FileLoader) applyRules(w replicate.Write) (out replicate.Write, srcID string, o outcome, err error) {
	srcID = w.KeyID
	if l.Rules.IsIdentity() {
		return w, srcID, outWrite, nil
	}
	tk, item, keep, err := l.Rules.Target(w.Item, w.Key)
	if err != nil {
		return w, srcID, outFailed, err
	}
	if !keep {
		return w, srcID, outFiltered, nil
	}
	id, ok := replicate.KeyID(tk)
	if !ok {
		return w, srcID, outFailed, fmt.Errorf("the rules give target key %s, not S, N or B", rules.FormatKey(tk))
	}
	return replicate.Write{Op: replicate.OpPut, Key: tk, KeyID: id, Item: item}, srcID, outWrite, nil
}

// addFailure counts a failed item and keeps the first MaxFailedItems.
func (r *FileResult) addFailure(f ItemFailure) {
	r.Failed++
	if errors.Is(f.Err, rules.ErrCollision) {
		r.Collisions++
	}
	if len(r.FailedItems) < MaxFailedItems {
		r.FailedItems = append(r.FailedItems, f)
	}
}
