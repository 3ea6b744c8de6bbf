package replicate

import (
	"errors"
	"fmt"
	"time"
)

// Errors about a record's shape, wrapped in the Change.Err DecodeRecord sets.
var (
	// ErrUnknownEvent is a record whose eventName is not INSERT, MODIFY or REMOVE.
	ErrUnknownEvent = errors.New("unknown eventName")
	// ErrNoNewImage is an INSERT or MODIFY without NewImage.
	ErrNoNewImage = errors.New("record has no NewImage")
	// ErrBadKeys is a record whose Keys are missing or malformed.
	ErrBadKeys = errors.New("record has no usable Keys")
)

// Record is one stream record as an edge reads it, before it is a
// [Change]: the Lambda stream path reads it from the event
// (lambdahandler), the queue path from a message's envelope (queue).
// Keys and NewImage are DynamoDB JSON, as the stream delivers them.
type Record struct {
	// Seq is the record's sequence number, already checked with ValidateSeq.
	Seq string
	// Event is the record's eventName: INSERT, MODIFY or REMOVE.
	Event string
	// Keys is the item's key.
	Keys []byte
	// NewImage is the item after the change (INSERT and MODIFY).
	NewImage []byte
	// Created is the approximate creation time (zero if unknown).
	Created time.Time
	// ViewType is the stream's StreamViewType, named in the error of an
	// INSERT or MODIFY without NewImage ("" if unknown).
	ViewType string
	// KeysOnly says NewImage was left out on purpose (a message too large
	// for the queue): an INSERT or MODIFY without it is then no error, and
	// the caller fills Change.NewImage (or makes the change a delete).
	KeysOnly bool
	// OldImage is the item before the change (MODIFY and REMOVE of a
	// NEW_AND_OLD_IMAGES stream), for a rule set; an edge leaves it nil
	// when no rule set reads it.
	OldImage []byte
	// OldImageDropped says OldImage was left out of a queue message to fit it.
	OldImageDropped bool
	// TTL says the record is a TTL expiry (see Change.TTL).
	TTL bool
}

// DecodeRecord turns r into a Change; problems with the record become
// Change.Err, wrapping ErrBadKeys, ErrNoNewImage or ErrUnknownEvent. The
// key is checked and identified from its JSON ([RawKeyID]) and kept raw in
// Change.RawKey, falling back to [DecodeImage] (Change.Key) for any
// spelling outside the forwarded subset, so the verdict and the error are
// always the SDK path's; NewImage stays raw until written.
func DecodeRecord(r *Record) Change {
	c := Change{Seq: r.Seq, Created: r.Created, Event: r.Event, OldImage: r.OldImage, OldImageDropped: r.OldImageDropped, TTL: r.TTL}
	if string(c.OldImage) == "null" {
		c.OldImage = nil
	}
	if id, ok := RawKeyID(r.Keys); ok {
		// The usual case: the key is checked and identified from its
		// JSON, and decoded later only for a writer that needs it.
		c.RawKey, c.KeyID = r.Keys, id
	} else {
		key, err := DecodeImage(r.Keys)
		if err != nil {
			c.Err = fmt.Errorf("record %s: %w: %w", c.Seq, ErrBadKeys, err)
			return c
		}
		id, ok := KeyID(key)
		if !ok {
			c.Err = fmt.Errorf("record %s: %w: key attributes must be S, N or B", c.Seq, ErrBadKeys)
			return c
		}
		c.Key, c.KeyID = key, id
	}
	switch r.Event {
	case "INSERT", "MODIFY":
		c.Op = OpPut
		if r.KeysOnly {
			return c
		}
		if len(r.NewImage) == 0 || string(r.NewImage) == "null" {
			view := r.ViewType
			if view == "" {
				view = "unknown"
			}
			c.Err = fmt.Errorf("record %s: %w: %s needs the new image but the stream's view type is %s; "+
				"set the source table's StreamViewType to NEW_AND_OLD_IMAGES (or NEW_IMAGE)", c.Seq, ErrNoNewImage, r.Event, view)
			return c
		}
		c.NewImage = r.NewImage
	case "REMOVE":
		c.Op = OpDelete
	default:
		c.Err = fmt.Errorf("record %s: %w %q (want INSERT, MODIFY or REMOVE)", c.Seq, ErrUnknownEvent, r.Event)
	}
	return c
}
