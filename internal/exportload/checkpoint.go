package exportload

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/ddbsync/ddbsync/internal/atomicfile"
)

// checkpointVersion is the checkpoint file's format version.
const checkpointVersion = 1

// Checkpoint is the state of a load, by data file, as saved between runs.
type Checkpoint struct {
	// Version is the format version.
	Version int `json:"version"`
	// ExportARN and ExportTime identify the export loaded.
	ExportARN  string    `json:"exportArn"`
	ExportTime time.Time `json:"exportTime"`
	// TargetTable is the table loaded into.
	TargetTable string `json:"targetTable"`
	// Split is the share of the files this load owns ("i/N"), "" for all.
	Split string `json:"split,omitempty"`
	// Files maps data file keys to their progress.
	Files map[string]FileState `json:"files"`
	// Rules is the fingerprint of the rule set the load copies with
	// (rules.RuleSet.Fingerprint; empty: none): a load resumes only with
	// the same rules, or the rest would be loaded otherwise.
	Rules string `json:"rules,omitempty"`
}

// FileState is one data file's progress.
type FileState struct {
	// LinesDone is the watermark: the first LinesDone lines are written.
	LinesDone int64 `json:"linesDone"`
	// Done is true once every line is written.
	Done bool `json:"done,omitempty"`
}

// ReadCheckpoint reads the checkpoint at path; a missing file is a nil
// checkpoint and no error.
func ReadCheckpoint(path string) (*Checkpoint, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	var c Checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	if c.Version != checkpointVersion {
		return nil, fmt.Errorf("read checkpoint %s: version %d, want %d", path, c.Version, checkpointVersion)
	}
	return &c, nil
}

// write saves c at path atomically.
func (c *Checkpoint) write(path string) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	if err := atomicfile.WriteFile(path, append(b, '\n')); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}

// matchesRules returns ErrCheckpointMismatch when c was made with
// another rule set than the one whose fingerprint is rules.
func (c *Checkpoint) matchesRules(rules string) error {
	if c.Rules == rules {
		return nil
	}
	name := func(fp string) string {
		if fp == "" {
			return "no rules"
		}
		return "the rule set " + fp
	}
	return fmt.Errorf("checkpoint is for a load with %s, not %s (resume with the rule set it was started with): %w",
		name(c.Rules), name(rules), ErrCheckpointMismatch)
}

// matches returns ErrCheckpointMismatch when c is about another load.
func (c *Checkpoint) matches(exportARN, target, split string) error {
	switch {
	case c.ExportARN != exportARN:
		return fmt.Errorf("checkpoint is for export %s, not %s: %w", c.ExportARN, exportARN, ErrCheckpointMismatch)
	case c.TargetTable != target:
		return fmt.Errorf("checkpoint is for table %s, not %s: %w", c.TargetTable, target, ErrCheckpointMismatch)
	case c.Split != split:
		return fmt.Errorf("checkpoint is for files %q, not %q: %w", c.Split, split, ErrCheckpointMismatch)
	}
	return nil
}
