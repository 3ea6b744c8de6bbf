package exportload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults for [Config].
const (
	// DefaultWorkers is how many data files are loaded at once.
	DefaultWorkers = 1
	// DefaultCheckpointEvery is the longest time between two saves of a
	// file's watermark while it is written.
	DefaultCheckpointEvery = time.Second
	// MaxWorkers bounds Config.Workers on one machine.
	MaxWorkers = 256
)

// Split is the share of an export's files one loader owns (--files i/N):
// the files whose 0-based index in manifest-files.json is i-1 modulo N.
type Split struct {
	// I is 1-based, at most N.
	I, N int
}

// ParseSplit parses "i/N" (1 <= i <= N); "" is the whole export.
func ParseSplit(s string) (Split, error) {
	if s == "" {
		return Split{}, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return Split{}, fmt.Errorf("parse files %q: want i/N with 1 <= i <= N, such as 2/4", s)
	}
	return Split{I: i, N: n}, nil
}

// String returns "i/N", or "" for the whole export.
func (s Split) String() string {
	if s.N == 0 {
		return ""
	}
	return strconv.Itoa(s.I) + "/" + strconv.Itoa(s.N)
}

// owns reports whether the file at index is in s.
func (s Split) owns(index int) bool { return s.N <= 1 || index%s.N == s.I-1 }

// Config configures [Load].
type Config struct {
	// Export is the export to load, as read by ReadExport. Required.
	Export *Export
	// Loader verifies and writes each file. Required.
	Loader *FileLoader
	// TargetTable names the target in the checkpoint and the report.
	// Required.
	TargetTable string
	// Workers is how many files are loaded at once (default
	// DefaultWorkers, at most MaxWorkers).
	Workers int
	// Split selects this loader's share of the files (--files i/N).
	Split Split
	// CheckpointPath is the checkpoint file; empty means none (a rerun
	// loads everything again).
	CheckpointPath string
	// CheckpointEvery is the longest time between two saves of a started
	// file's watermark (default DefaultCheckpointEvery).
	CheckpointEvery time.Duration
	// Overlap is the hand-over's overlap (default DefaultOverlap).
	Overlap time.Duration
	// MaxExportAge refuses an older export (default DefaultMaxExportAge).
	MaxExportAge time.Duration
	// AllowOldExport loads an export older than MaxExportAge anyway (the
	// deadline is still reported; a passed deadline is still refused).
	AllowOldExport bool
	// Progress, if set, is called after each file and every
	// CheckpointEvery with the report so far. It must not block.
	Progress func(Report)
	// Logger receives progress and errors (default: discard).
	Logger *slog.Logger
	// Now returns the current time (default time.Now).
	Now func() time.Time
}

// Report is what a load did.
type Report struct {
	// ExportARN is the export loaded.
	ExportARN string
	// HandOver is where replication must take over.
	HandOver HandOver
	// Files counts this loader's files; FilesDone those done, FilesSkipped
	// those already done by an earlier run (counted in FilesDone too).
	Files, FilesDone, FilesSkipped int
	// Items counts the items of this loader's files; ItemsDone those
	// written, by this run or an earlier one.
	Items, ItemsDone int64
	// ItemsWritten counts the items written by this run.
	ItemsWritten int64
	// Retries counts write retries (throttling, UnprocessedItems).
	Retries int
	// Failed lists the files that failed, with their errors.
	Failed []*FileError
	// With rules: Filtered counts the items a filter dropped, ItemsFailed
	// those the rules failed on or that collided (Collisions) in a batch;
	// FailedItems are the first MaxFailedItems of them.
	Filtered, ItemsFailed, Collisions int64
	FailedItems                       []ItemFailure
}

// Load loads cfg.Export's files (this loader's share of them) into the
// target, cfg.Workers files at a time, and returns what it did. It checks
// the hand-over first: an export older than MaxExportAge is refused
// ([ErrExportTooOld]) unless AllowOldExport, and one whose deadline has
// passed always is. With a checkpoint, files done by an earlier run are
// skipped and started ones resume at their watermark. A failed file does
// not stop the others; Load then returns an error joining the files'
// *FileError values. When ctx is cancelled the batches in flight are
// finished and the checkpoint saved before Load returns.
func Load(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Export == nil || cfg.Loader == nil || cfg.TargetTable == "" {
		return Report{}, errors.New("load export: Export, Loader and TargetTable are required")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	sum := cfg.Export.Summary
	rep := Report{ExportARN: sum.ExportARN, HandOver: NewHandOver(sum.ExportTime, cfg.Overlap)}
	if err := rep.HandOver.Check(now(), cfg.MaxExportAge); err != nil {
		if !cfg.AllowOldExport || !now().Before(rep.HandOver.Deadline) {
			return rep, err
		}
		logger.Warn("loading an old export", slog.String("deadline", rep.HandOver.Deadline.Format(time.RFC3339)))
	}
	cp, err := openCheckpoint(cfg, sum)
	if err != nil {
		return rep, err
	}
	var todo []File
	for i, f := range cfg.Export.Files {
		if !cfg.Split.owns(i) {
			continue
		}
		rep.Files++
		rep.Items += f.ItemCount
		if st := cp.Files[f.DataFileS3Key]; st.Done {
			rep.FilesDone++
			rep.FilesSkipped++
			rep.ItemsDone += f.ItemCount
			continue
		} else {
			rep.ItemsDone += st.LinesDone
		}
		todo = append(todo, f)
	}
	workers := min(max(cfg.Workers, DefaultWorkers), MaxWorkers)
	every := cfg.CheckpointEvery
	if every <= 0 {
		every = DefaultCheckpointEvery
	}
	r := &run{cfg: cfg, cp: cp, rep: rep, every: every, now: now, logger: logger}
	logger.Info("load starting", slog.Int(keyFiles, len(todo)), slog.Int(keyWorkers, workers))
	jobs := make(chan File)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range jobs {
				r.loadFile(ctx, f)
			}
		}()
	}
feed:
	for _, f := range todo {
		select {
		case jobs <- f:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.saveLocked()
	saveErr := r.saveErr
	rep = r.rep
	var errs []error
	for _, fe := range rep.Failed {
		errs = append(errs, fe)
	}
	if saveErr != nil {
		errs = append(errs, saveErr)
	}
	if rep.ItemsFailed > 0 {
		errs = append(errs, fmt.Errorf("load export: %w: %d items (%d collisions), the first: %s",
			ErrItemsFailed, rep.ItemsFailed, rep.Collisions, rep.FailedItems[0]))
	}
	if ctx.Err() != nil {
		errs = append(errs, fmt.Errorf("load export: %w", context.Cause(ctx)))
	}
	if len(errs) == 0 {
		if err := rep.HandOver.Check(now(), StreamRetention); errors.Is(err, ErrExportTooOld) {
			errs = append(errs, err) // loaded, but too late for the stream
		}
	}
	return rep, errors.Join(errs...)
}

// openCheckpoint reads the checkpoint, or starts a new one.
func openCheckpoint(cfg Config, sum Summary) (*Checkpoint, error) {
	fresh := &Checkpoint{Version: checkpointVersion, ExportARN: sum.ExportARN, ExportTime: sum.ExportTime,
		TargetTable: cfg.TargetTable, Split: cfg.Split.String(), Files: map[string]FileState{}, Rules: cfg.Loader.Rules.Fingerprint()}
	if cfg.CheckpointPath == "" {
		return fresh, nil
	}
	cp, err := ReadCheckpoint(cfg.CheckpointPath)
	if err != nil {
		return nil, err
	}
	if cp == nil {
		return fresh, fresh.write(cfg.CheckpointPath)
	}
	if err := cp.matches(sum.ExportARN, cfg.TargetTable, cfg.Split.String()); err != nil {
		return nil, fmt.Errorf("open checkpoint %s: %w", cfg.CheckpointPath, err)
	}
	if err := cp.matchesRules(fresh.Rules); err != nil {
		return nil, fmt.Errorf("open checkpoint %s: %w", cfg.CheckpointPath, err)
	}
	if cp.Files == nil {
		cp.Files = map[string]FileState{}
	}
	return cp, nil
}

// run is the state shared by a Load's workers.
type run struct {
	cfg    Config
	every  time.Duration
	now    func() time.Time
	logger *slog.Logger

	mu      sync.Mutex // guards cp, rep and saved
	cp      *Checkpoint
	rep     Report
	saved   time.Time
	saveErr error
}

// loadFile loads one file and records its outcome.
func (r *run) loadFile(ctx context.Context, f File) {
	r.mu.Lock()
	from := r.cp.Files[f.DataFileS3Key].LinesDone
	r.mu.Unlock()
	last := from
	res, err := r.cfg.Loader.LoadFile(ctx, r.cfg.Export.Bucket, f, from, func(done int64) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.rep.ItemsDone += done - last
		last = done
		r.cp.Files[f.DataFileS3Key] = FileState{LinesDone: done}
		if r.now().Sub(r.saved) >= r.every {
			r.saveLocked()
			r.progressLocked()
		}
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.ItemsWritten += res.Written
	r.rep.Retries += res.Retries
	r.rep.Filtered += res.Filtered
	r.rep.ItemsFailed += res.Failed
	r.rep.Collisions += res.Collisions
	for _, fi := range res.FailedItems {
		if len(r.rep.FailedItems) < MaxFailedItems {
			r.rep.FailedItems = append(r.rep.FailedItems, fi)
		}
	}
	r.rep.ItemsDone += res.LinesDone - last
	r.cp.Files[f.DataFileS3Key] = FileState{LinesDone: res.LinesDone, Done: res.Done && err == nil}
	var fe *FileError
	switch {
	case err != nil && ctx.Err() != nil:
		// Interrupted: the watermark is saved, the file resumes next run.
	case errors.As(err, &fe):
		r.rep.Failed = append(r.rep.Failed, fe)
		r.logger.Error("file failed", slog.String(keyFile, f.DataFileS3Key), slog.Int64(keyLines, fe.LinesDone), slog.String(keyError, fe.Err.Error()))
	case err != nil:
		r.rep.Failed = append(r.rep.Failed, &FileError{Key: f.DataFileS3Key, LinesDone: res.LinesDone, Err: err})
	case res.Done:
		r.rep.FilesDone++
		r.logger.Info("file loaded", slog.String(keyFile, f.DataFileS3Key), slog.Int64(keyItems, res.Items))
	}
	r.saveLocked()
	r.progressLocked()
}

// saveLocked writes the checkpoint, keeping the first error for the
// end of the load; r.mu is held. A failed save does not stop the load: a
// rerun writes again what the checkpoint misses.
func (r *run) saveLocked() {
	r.saved = r.now()
	if r.cfg.CheckpointPath == "" || r.saveErr != nil {
		return
	}
	r.saveErr = r.cp.write(r.cfg.CheckpointPath)
}

// progressLocked reports progress; r.mu is held.
func (r *run) progressLocked() {
	if r.cfg.Progress != nil {
		rep := r.rep
		rep.Failed = append([]*FileError(nil), r.rep.Failed...)
		rep.FailedItems = append([]ItemFailure(nil), r.rep.FailedItems...)
		r.cfg.Progress(rep)
	}
}
