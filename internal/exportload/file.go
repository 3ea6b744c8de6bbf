package exportload

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/rules"
)

// Defaults for [FileLoader].
const (
	// DefaultConcurrency is how many BatchWriteItem calls of one file are
	// in flight at once.
	DefaultConcurrency = 4
	// maxLine bounds one line of a data file: an item is at most 400 KB,
	// and its DynamoDB JSON (base64 binaries, escaped strings) is larger.
	maxLine = 8 << 20
)

// Log keys.
const (
	keyFile    = "file"
	keyItems   = "items"
	keyLines   = "linesDone"
	keyError   = "error"
	keyClass   = "errorClass"
	keyWorkers = "workers"
	keyFiles   = "files"
)

// FileLoader verifies and loads single data files.
type FileLoader struct {
	// S3 reads the data files. Required.
	S3 ObjectAPI
	// Writer writes to the target: a *dynamo.Table, so that the load has
	// the replicator's retry rules. Required.
	Writer replicate.Writer
	// Keys names the exported table's key attributes, partition key
	// first (the target's too, without Rules). Required.
	Keys []string
	// Rules is the rule set the copy is made with: each item goes through
	// [rules.RuleSet.Target]; filtered items are counted and not written,
	// items the rules fail on are counted and listed, and of two items of
	// one batch mapped to one target key only the first is written (the
	// other is a collision, counted and listed). nil, or the identity rule
	// set, loads items as they are.
	Rules *rules.RuleSet
	// Concurrency bounds the batches of one file in flight (default
	// DefaultConcurrency).
	Concurrency int
	// TempDir holds each data file while it is verified and loaded
	// (default os.TempDir(); /tmp in Lambda).
	TempDir string
	// StopMargin, if positive, stops starting batches when ctx's deadline
	// is nearer than this: LoadFile then returns the watermark with Done
	// false and no error, so that a Lambda worker can hand the rest to its
	// next invocation.
	StopMargin time.Duration
	// Logger receives progress and errors (default: discard).
	Logger *slog.Logger
}

// FileResult is what LoadFile did with one data file.
type FileResult struct {
	// Key is the data file's S3 key.
	Key string
	// Items is the file's item count, verified against the manifest.
	Items int64
	// Written counts the items written by this call.
	Written int64
	// LinesDone is the watermark: the file's first LinesDone lines are
	// written.
	LinesDone int64
	// Done is true when every line is written.
	Done bool
	// Retries counts the write retries (throttling, UnprocessedItems).
	Retries int
	// With rules: Filtered counts the lines a filter dropped, Failed those
	// not written because the rules failed on them or they collided
	// (Collisions) with an earlier item of their batch; FailedItems are the
	// first MaxFailedItems of them. They count in the watermark.
	Filtered, Failed, Collisions int64
	FailedItems                  []ItemFailure
}

// Progress is called with a file's watermark each time it moves.
type Progress func(linesDone int64)

// LoadFile verifies the data file f of bucket against its manifest entry
// and writes its lines from line from (0-based) on. Nothing is written
// unless the file's MD5 and item count match ([ErrChecksum],
// [ErrItemCount], [ErrCorrupt]). progress, if not nil, is called as the
// watermark moves. On a write failure or a cancelled ctx, every batch in
// flight is finished first; the error is a *[FileError] carrying the
// watermark, and the result has it too.
func (l *FileLoader) LoadFile(ctx context.Context, bucket string, f File, from int64, progress Progress) (FileResult, error) {
	res := FileResult{Key: f.DataFileS3Key, Items: f.ItemCount, LinesDone: from}
	fail := func(err error) (FileResult, error) {
		return res, &FileError{Key: f.DataFileS3Key, LinesDone: res.LinesDone, Err: err}
	}
	if len(l.Keys) == 0 || l.Writer == nil || l.S3 == nil {
		return fail(errors.New("file loader: S3, Writer and Keys are required"))
	}
	tmp, err := l.download(ctx, bucket, f)
	if err != nil {
		return fail(err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	if err := checkLines(tmp, f); err != nil {
		return fail(err)
	}
	if from >= f.ItemCount {
		res.Done = true
		return res, nil
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("rewind data file: %w", err))
	}
	err = l.write(ctx, tmp, f, from, &res, progress)
	res.Done = res.LinesDone >= f.ItemCount
	if err != nil {
		return fail(err)
	}
	return res, nil
}

// download copies the object to a temporary file while hashing it, and
// checks the hash.
func (l *FileLoader) download(ctx context.Context, bucket string, f File) (*os.File, error) {
	out, err := l.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(f.DataFileS3Key)})
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, f.DataFileS3Key, err)
	}
	defer out.Body.Close()
	tmp, err := os.CreateTemp(l.TempDir, "ddbsync-export-*.json.gz")
	if err != nil {
		return nil, fmt.Errorf("create temporary file: %w", err)
	}
	h := md5.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), out.Body); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("read s3://%s/%s: %w", bucket, f.DataFileS3Key, err)
	}
	if got := base64.StdEncoding.EncodeToString(h.Sum(nil)); got != f.MD5Checksum {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("verify s3://%s/%s: md5 %s, manifest says %s: %w", bucket, f.DataFileS3Key, got, f.MD5Checksum, ErrChecksum)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("rewind data file: %w", err)
	}
	return tmp, nil
}

// checkLines decompresses the whole file once: the gzip stream must be
// intact, every line JSON, and the lines as many as the manifest says.
func checkLines(r io.Reader, f File) error {
	var n int64
	err := eachLine(r, func(line []byte) error {
		n++
		if !json.Valid(line) {
			return fmt.Errorf("line %d is not JSON: %w", n, ErrCorrupt)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("verify %s: %w", f.DataFileS3Key, err)
	}
	if n != f.ItemCount {
		return fmt.Errorf("verify %s: %d lines, manifest says %d: %w", f.DataFileS3Key, n, f.ItemCount, ErrItemCount)
	}
	return nil
}

// eachLine calls fn with each non-empty line of the gzipped r. A broken
// gzip stream is ErrCorrupt.
func eachLine(r io.Reader, fn func([]byte) error) error {
	zr, err := gzip.NewReader(bufio.NewReaderSize(r, 256<<10))
	if err != nil {
		if errors.Is(err, io.EOF) { // an empty object: no gzip member, no items
			return nil
		}
		return fmt.Errorf("open gzip: %w: %w", ErrCorrupt, err)
	}
	defer zr.Close()
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := fn(line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read gzip: %w: %w", ErrCorrupt, err)
	}
	return nil
}

// batch is a run of consecutive lines [start, end) to write together.
type batch struct {
	index  int
	end    int64
	writes []replicate.Write
}

// write writes the lines of the verified file r from line from on.
func (l *FileLoader) write(ctx context.Context, r io.Reader, f File, from int64, res *FileResult, progress Progress) error {
	conc := l.Concurrency
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	logger := l.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	produceCtx, stopProducing := context.WithCancel(ctx)
	defer stopProducing()
	batches := make(chan batch, conc)
	var (
		mu       sync.Mutex
		firstErr error
		stopped  bool              // the deadline margin was reached
		ended    = map[int]int64{} // done batches beyond the watermark
		next     int               // index of the first batch not done
		wg       sync.WaitGroup
	)
	done := func(b batch, errs []error, retries int) {
		mu.Lock()
		defer mu.Unlock()
		res.Retries += retries
		for _, err := range errs {
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("write batch %d: %w", b.index, err)
					logger.Warn("write failed", slog.String(keyFile, f.DataFileS3Key), slog.String(keyClass, dynamo.ErrorClass(err)))
				}
				stopProducing()
				return
			}
		}
		res.Written += int64(len(b.writes))
		ended[b.index] = b.end
		moved := false
		for end, ok := ended[next]; ok; end, ok = ended[next] {
			delete(ended, next)
			next++
			res.LinesDone = end
			moved = true
		}
		if moved && progress != nil {
			progress(res.LinesDone)
		}
	}
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				mu.Lock()
				skip := firstErr != nil
				mu.Unlock()
				if skip {
					continue
				}
				// Batches already taken are written with ctx, not
				// produceCtx: they are finished even when the load stops.
				errs, retries := l.Writer.WriteBatch(context.WithoutCancel(ctx), b.writes)
				done(b, errs, retries)
			}
		}()
	}
	var line int64
	cur := batch{}
	inBatch := map[string]string{} // target key id -> source key id
	send := func() bool {
		if len(cur.writes) == 0 {
			return true
		}
		cur.end = line
		if l.StopMargin > 0 {
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < l.StopMargin {
				mu.Lock()
				stopped = true
				mu.Unlock()
				return false
			}
		}
		select {
		case batches <- cur:
		case <-produceCtx.Done():
			return false
		}
		cur = batch{index: cur.index + 1}
		clear(inBatch)
		return true
	}
	errStop := errors.New("stop producing")
	readErr := eachLine(r, func(raw []byte) error {
		if line < from {
			line++
			return nil
		}
		w, err := l.decode(raw)
		if err != nil {
			return fmt.Errorf("line %d: %w", line+1, err)
		}
		src := w
		w, srcID, o, err := l.applyRules(w)
		switch o {
		case outFiltered:
			mu.Lock()
			res.Filtered++
			mu.Unlock()
			line++
			return nil
		case outFailed:
			mu.Lock()
			res.addFailure(ItemFailure{File: f.DataFileS3Key, Line: line + 1, SourceKey: src.Key, Err: err})
			mu.Unlock()
			line++
			return nil
		}
		if owner, dup := inBatch[w.KeyID]; dup && owner != srcID {
			// Two source items, one target key: the first one stands.
			mu.Lock()
			res.addFailure(ItemFailure{File: f.DataFileS3Key, Line: line + 1, SourceKey: src.Key, TargetKey: w.Key,
				Err: fmt.Errorf("%w: line %d maps to target key %s too", rules.ErrCollision, line+1, rules.FormatKey(w.Key))})
			mu.Unlock()
			line++
			return nil
		} else if dup && !send() { // distinct keys per batch
			return errStop
		}
		cur.writes = append(cur.writes, w)
		inBatch[w.KeyID] = srcID
		line++
		if len(cur.writes) == replicate.MaxBatchWrites && !send() {
			return errStop
		}
		return nil
	})
	if readErr == nil {
		send()
	}
	close(batches)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	switch {
	case firstErr != nil:
		return firstErr
	case readErr != nil && !errors.Is(readErr, errStop):
		return readErr
	case stopped:
		logger.Info("stopping before the deadline", slog.String(keyFile, f.DataFileS3Key), slog.Int64(keyLines, res.LinesDone))
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("load stopped: %w", context.Cause(ctx))
	}
	if readErr == nil && len(ended) == 0 && next == cur.index {
		// Every batch is written: lines after the last one were all
		// filtered out or failed, and count as done.
		res.LinesDone = line
	}
	return nil
}

// decode turns one {"Item":{...}} line into a put.
func (l *FileLoader) decode(raw []byte) (replicate.Write, error) {
	var line struct {
		Item json.RawMessage `json:"Item"`
	}
	if err := json.Unmarshal(raw, &line); err != nil || len(line.Item) == 0 {
		return replicate.Write{}, fmt.Errorf("not an {\"Item\":...} line: %w", ErrCorrupt)
	}
	item, err := attributevalue.UnmarshalMapJSON(line.Item)
	if err != nil {
		return replicate.Write{}, fmt.Errorf("decode item: %w: %w", ErrCorrupt, err)
	}
	key := make(map[string]types.AttributeValue, len(l.Keys))
	for _, k := range l.Keys {
		v, ok := item[k]
		if !ok {
			return replicate.Write{}, fmt.Errorf("item has no key attribute %q: %w", k, ErrCorrupt)
		}
		key[k] = v
	}
	id, ok := replicate.KeyID(key)
	if !ok {
		return replicate.Write{}, fmt.Errorf("item key is not S, N or B: %w", ErrCorrupt)
	}
	return replicate.Write{Op: replicate.OpPut, Key: key, KeyID: id, Item: item}, nil
}
