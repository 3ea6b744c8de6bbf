package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ddbsync/ddbsync/internal/atomicfile"
	"github.com/ddbsync/ddbsync/internal/streampoll"
)

// logKeyError is the log key of an error, in the handler's and the
// poller's lines.
const logKeyError = "error"

// progress prints a line about the poller every interval until stopped.
type progress struct {
	w        io.Writer
	stats    func() streampoll.Stats
	began    time.Time
	round    time.Duration // precision of the elapsed time shown
	done     chan struct{}
	wg       sync.WaitGroup
	lastN    int64
	lastTime time.Time
	json     bool // JSON progress events instead of text lines
}

// runEvent is the JSON progress event of ddbsync run (docs/progress.md).
type runEvent struct {
	Event          string  `json:"event"` // always "progress"
	Command        string  `json:"command"`
	Records        int64   `json:"records"`
	Rate           float64 `json:"recordsPerSecond"`
	LagSeconds     float64 `json:"lagSeconds,omitempty"`
	AgeSeconds     float64 `json:"ageSeconds,omitempty"`
	Failed         int64   `json:"failedRecords"`
	Retries        int64   `json:"retries"`
	Shards         int     `json:"shards"`
	ElapsedSeconds float64 `json:"elapsedSeconds"`
}

// startProgress starts printing progress lines to w, unless quiet.
func startProgress(w io.Writer, p *streampoll.Poller, interval time.Duration, quiet, jsonEvents bool) *progress {
	pr := &progress{w: w, stats: p.Stats, began: time.Now(), round: time.Second, done: make(chan struct{}), json: jsonEvents}
	if interval < time.Second {
		pr.round = 100 * time.Millisecond
	}
	pr.lastTime = pr.began
	if quiet {
		return pr
	}
	pr.wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-pr.done:
				return
			case now := <-t.C:
				fmt.Fprintln(pr.w, pr.line(now))
			}
		}
	})
	return pr
}

// line formats the progress line at now, e.g.
// "ddbsync run: 12s  4812 records  1203 rec/s  lag 38ms  age 12s  0 failed  0 retries  1 shard".
func (pr *progress) line(now time.Time) string {
	s := pr.stats()
	rate := float64(s.Records-pr.lastN) / now.Sub(pr.lastTime).Seconds()
	pr.lastN, pr.lastTime = s.Records, now
	if pr.json {
		ev := runEvent{Event: "progress", Command: "run", Records: s.Records, Rate: round3(max(rate, 0)),
			Failed: s.FailedRecords, Retries: s.Retries, Shards: s.Shards, ElapsedSeconds: round3(now.Sub(pr.began).Seconds())}
		if !s.LastProcessed.IsZero() {
			ev.LagSeconds = round3(s.LastDelay.Seconds())
		}
		if !s.LastCreated.IsZero() {
			ev.AgeSeconds = round3(max(now.Sub(s.LastCreated), 0).Seconds())
		}
		b, _ := json.Marshal(ev)
		return string(b)
	}
	lag, age := "-", "-"
	if !s.LastProcessed.IsZero() {
		lag = s.LastDelay.Round(time.Millisecond).String()
	}
	if !s.LastCreated.IsZero() {
		age = max(now.Sub(s.LastCreated), 0).Round(time.Second).String()
	}
	shards := "shards"
	if s.Shards == 1 {
		shards = "shard"
	}
	return fmt.Sprintf("ddbsync run: %s  %d records  %.0f rec/s  lag %s  age %s  %d failed  %d retries  %d %s",
		now.Sub(pr.began).Round(max(pr.round, time.Millisecond)), s.Records, max(rate, 0), lag, age, s.FailedRecords, s.Retries, s.Shards, shards)
}

// stop stops the progress lines.
func (pr *progress) stop() {
	close(pr.done)
	pr.wg.Wait()
}

// round3 rounds x to three decimals, for short JSON numbers.
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// elapsed returns the time since the start.
func (pr *progress) elapsed() time.Duration { return time.Since(pr.began) }

// lazyFile appends to a file that it creates on the first write, so that a
// run without failures leaves no empty failure file behind.
type lazyFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// Write appends p, opening the file first if needed.
func (l *lazyFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		// Shared-locked while open, so that a redrive does not rewrite it
		// under this run.
		f, err := atomicfile.OpenAppend(l.path)
		if err != nil {
			return 0, fmt.Errorf("open failure file: %w", err)
		}
		l.f = f
	}
	return l.f.Write(p)
}

func (l *lazyFile) opened() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f != nil
}

// Close closes the file if it was opened.
func (l *lazyFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("close failure file: %w", err)
	}
	return nil
}

// lockedWriter serialises writes from several goroutines (progress lines,
// log lines, messages) to one writer.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// syncWriter returns w made safe for concurrent writes.
func syncWriter(w io.Writer) io.Writer {
	if lw, ok := w.(*lockedWriter); ok {
		return lw
	}
	return &lockedWriter{w: w}
}

// Write writes p under the lock.
func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// causeRecorder is a slog.Handler that passes records on to next and
// remembers the error of the last warning or error: the in-process
// handler's "batch applied" warning names the write that failed, which the
// poller only sees as a failed record, and --quiet hides.
type causeRecorder struct {
	next slog.Handler
	last *atomic.Pointer[string]
}

// Enabled reports whether next handles level, or level is a warning.
func (c *causeRecorder) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelWarn || c.next.Enabled(ctx, level)
}

// Handle remembers r's error attribute if r is a warning or an error, and
// passes r on to next if next handles its level.
func (c *causeRecorder) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == logKeyError {
				v := a.Value.String()
				c.last.Store(&v)
				return false
			}
			return true
		})
	}
	if !c.next.Enabled(ctx, r.Level) {
		return nil
	}
	return c.next.Handle(ctx, r)
}

// WithAttrs returns a recorder sharing c's memory over next.WithAttrs.
func (c *causeRecorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &causeRecorder{next: c.next.WithAttrs(attrs), last: c.last}
}

// WithGroup returns a recorder sharing c's memory over next.WithGroup.
func (c *causeRecorder) WithGroup(name string) slog.Handler {
	return &causeRecorder{next: c.next.WithGroup(name), last: c.last}
}

// lastError returns the last error recorded, or "".
func (c *causeRecorder) lastError() string {
	if v := c.last.Load(); v != nil {
		return *v
	}
	return ""
}
