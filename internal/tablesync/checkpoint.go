package tablesync

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/ddbsync/ddbsync/internal/atomicfile"
)

// checkpointVersion is the format version of checkpoint files.
const checkpointVersion = 1

// ErrCheckpointMismatch is returned when a checkpoint file belongs to
// another backfill (other tables or another segment count).
var ErrCheckpointMismatch = errors.New("checkpoint is for another backfill")

// Checkpoint is the progress of a backfill, saved as JSON so that an
// interrupted backfill resumes where it stopped.
type Checkpoint struct {
	// Version is the file format version.
	Version int `json:"version"`
	// SourceTable and TargetTable name the tables copied.
	SourceTable string `json:"sourceTable"`
	TargetTable string `json:"targetTable"`
	// TotalSegments is the Scan's TotalSegments: a segment's key is only
	// valid with the same total.
	TotalSegments int `json:"totalSegments"`
	// Segments holds the state of every segment started so far.
	Segments map[int]*SegmentState `json:"segments"`
	// Rules is the fingerprint of the rule set the backfill copies with
	// ([rules.RuleSet.Fingerprint]; empty: none): a backfill resumes only
	// with the same rules, or the rest would be copied otherwise.
	Rules string `json:"rules,omitempty"`
}

// SegmentState is how far one Scan segment has been copied.
type SegmentState struct {
	// Done is true once every item of the segment has been written.
	Done bool `json:"done"`
	// Items counts the items of the segment written so far.
	Items int64 `json:"items"`
	// LastKey is the key (DynamoDB JSON) of the last item written, in scan
	// order, such that it and every item before it in the segment are in
	// the target; the segment resumes after it. Empty: from the start.
	LastKey json.RawMessage `json:"lastKey,omitempty"`
}

// LoadCheckpoint reads a checkpoint file. It returns (nil, nil) if the file
// does not exist.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	var c Checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("decode checkpoint %s: %w", path, err)
	}
	if c.Version != checkpointVersion {
		return nil, fmt.Errorf("decode checkpoint %s: version %d, want %d", path, c.Version, checkpointVersion)
	}
	if c.Segments == nil {
		c.Segments = map[int]*SegmentState{}
	}
	return &c, nil
}

// check reports whether c belongs to a backfill of source into target
// with total segments.
func (c *Checkpoint) check(source, target string, total int) error {
	if c.SourceTable != source || c.TargetTable != target || c.TotalSegments != total {
		return fmt.Errorf("%w: it copies %s to %s in %d segments, not %s to %s in %d; use another file or remove it",
			ErrCheckpointMismatch, c.SourceTable, c.TargetTable, c.TotalSegments, source, target, total)
	}

	return nil
}

// Save writes c to path atomically: to a temporary file in the same
// directory, synced, then renamed over path.
func (c *Checkpoint) Save(path string) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	return atomicfile.WriteFile(path, append(b, '\n'))
}

// encodeKey returns key as DynamoDB JSON, or nil for a nil key.
func encodeKey(key Item) (json.RawMessage, error) {
	if len(key) == 0 {
		return nil, nil
	}
	b, err := attributevalue.MarshalMapJSON(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return b, nil
}

// decodeKey parses DynamoDB JSON written by encodeKey.
func decodeKey(raw json.RawMessage) (Item, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	key, err := attributevalue.UnmarshalMapJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("decode key: %w", err)
	}
	return key, nil
}

// load applies the checkpoint file, if any.
func (b *backfill) load() error {
	if b.opts.Checkpoint == "" {
		return nil
	}
	c, err := LoadCheckpoint(b.opts.Checkpoint)
	if err != nil || c == nil {
		return err
	}
	if err := c.check(b.ckpt.SourceTable, b.ckpt.TargetTable, b.ckpt.TotalSegments); err != nil {
		return err
	}
	if err := c.checkRules(b.ckpt.Rules); err != nil {
		return err
	}
	for seg, s := range c.Segments {
		key, err := decodeKey(s.LastKey)
		if err != nil {
			return fmt.Errorf("load checkpoint segment %d: %w", seg, err)
		}
		b.state[seg] = &segState{done: s.Done, items: s.Items, lastKey: key}
	}
	return nil
}

// save writes the checkpoint file if the state changed.
func (b *backfill) save() error {
	if b.opts.Checkpoint == "" {
		return nil
	}
	b.mu.Lock()
	if !b.dirty {
		b.mu.Unlock()
		return nil
	}
	for seg, st := range b.state {
		raw, err := encodeKey(st.lastKey)
		if err != nil {
			b.mu.Unlock()
			return fmt.Errorf("save checkpoint segment %d: %w", seg, err)
		}
		b.ckpt.Segments[seg] = &SegmentState{Done: st.done, Items: st.items, LastKey: raw}
	}
	b.dirty = false
	b.mu.Unlock()
	// Only the saver goroutine or, after it stopped, the caller gets here.
	return b.ckpt.Save(b.opts.Checkpoint)
}

// saveEvery saves the checkpoint every interval until the returned func is
// called. A failed save is logged; the final save reports its error.
func (b *backfill) saveEvery(interval time.Duration) (stop func()) {
	if b.opts.Checkpoint == "" {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := b.save(); err != nil {
					b.opts.Logger.Warn("checkpoint not saved", slog.String(keyError, err.Error()))
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// checkRules reports whether c was made with the rule set whose
// fingerprint is rules.
func (c *Checkpoint) checkRules(rules string) error {
	if c.Rules != rules {
		return fmt.Errorf("%w: it copies %s with %s, not %s; resume with the rule set it was started with (--rules), or use another file",
			ErrCheckpointMismatch, c.SourceTable, rulesName(c.Rules), rulesName(rules))
	}
	return nil
}

// rulesName names a rule set's fingerprint for an error.
func rulesName(fingerprint string) string {
	if fingerprint == "" {
		return "no rules"
	}
	return "the rule set " + fingerprint
}
