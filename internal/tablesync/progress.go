package tablesync

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultProgressInterval is how often the progress line is refreshed.
const DefaultProgressInterval = time.Second

// Progress configures the progress line of a long operation; a nil W shows
// nothing.
type Progress struct {
	// W receives the progress line, usually os.Stderr.
	W io.Writer
	// Redraw rewrites one line in place ("\r"), for a terminal; otherwise
	// each refresh is a new line.
	Redraw bool
	// Interval is the time between refreshes (default DefaultProgressInterval).
	Interval time.Duration
	// JSON writes each refresh as one JSON object on its own line (an
	// [Event]) instead of the text line, for programs reading W.
	JSON bool
	// Command names the command in JSON events ("backfill").
	Command string
}

// Event is one JSON progress event ([Progress.JSON]), the schema in
// docs/progress.md. Total, Percent and ETASeconds are absent while the
// total is unknown; Final is true on the last event of a phase.
type Event struct {
	Event          string   `json:"event"` // always "progress"
	Command        string   `json:"command,omitempty"`
	Phase          string   `json:"phase"`
	Items          int64    `json:"items"`
	Total          int64    `json:"total,omitempty"`
	Percent        *int64   `json:"percent,omitempty"`
	Rate           float64  `json:"itemsPerSecond"`
	ETASeconds     *float64 `json:"etaSeconds,omitempty"`
	ElapsedSeconds float64  `json:"elapsedSeconds"`
	Final          bool     `json:"final"`
	// Filtered counts the items a rule set's filters left out (a backfill
	// with rules only).
	Filtered *int64 `json:"filtered,omitempty"`
}

// meter counts items and shows a progress line: count, estimated total,
// items a second and the time left.
type meter struct {
	cfg   Progress
	label string
	total atomic.Int64 // estimated; 0 when unknown
	done  atomic.Int64
	base  int64     // items done before this run (resumed); guarded by mu
	start time.Time // guarded by mu

	// filtered, if set, is shown as the count of filtered items.
	filtered atomic.Pointer[atomic.Int64]

	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex // serialises writes to cfg.W
}

// startMeter starts showing progress under label; call finish when done.
func startMeter(cfg Progress, label string, total, base int64) *meter {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultProgressInterval
	}
	m := &meter{cfg: cfg, label: label, base: base, start: time.Now(), stop: make(chan struct{})}
	m.total.Store(total)
	if cfg.W == nil {
		return m
	}
	m.wg.Go(func() {
		t := time.NewTicker(cfg.Interval)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				m.show(false)
			}
		}
	})
	return m
}

func (m *meter) add(n int) { m.done.Add(int64(n)) }

// setPhase starts a new phase: a new label and total, counting from zero.
func (m *meter) setPhase(label string, total int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.label, m.base, m.start = label, 0, time.Now()
	m.total.Store(total)
	m.done.Store(0)
}

// finish stops the refreshes and ends the line.
func (m *meter) finish() {
	close(m.stop)
	m.wg.Wait()
	if m.cfg.W != nil {
		m.show(true)
	}
}

func (m *meter) show(final bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	filtered := m.filtered.Load()
	if m.cfg.JSON {
		ev := progressEvent(m.cfg.Command, m.label, m.base, m.done.Load(), m.total.Load(), time.Since(m.start), final)
		if filtered != nil {
			n := filtered.Load()
			ev.Filtered = &n
		}
		b, _ := json.Marshal(ev)
		fmt.Fprintf(m.cfg.W, "%s\n", b)
		return
	}
	line := progressLine(m.label, m.base, m.done.Load(), m.total.Load(), time.Since(m.start))
	if filtered != nil {
		line += ", " + commas(filtered.Load()) + " filtered"
	}
	switch {
	case m.cfg.Redraw && final:
		fmt.Fprintf(m.cfg.W, "\r%s\x1b[K\n", line)
	case m.cfg.Redraw:
		fmt.Fprintf(m.cfg.W, "\r%s\x1b[K", line)
	default:
		fmt.Fprintln(m.cfg.W, line)
	}
}

// NewEvent returns the progress event of a phase of command: done items in
// elapsed by this run, base items done before it, of about total (0:
// unknown).
func NewEvent(command, phase string, base, done, total int64, elapsed time.Duration, final bool) Event {
	return progressEvent(command, phase, base, done, total, elapsed, final)
}

// progressEvent is the JSON form of [progressLine]'s figures.
func progressEvent(command, label string, base, done, total int64, elapsed time.Duration, final bool) Event {
	all := base + done
	ev := Event{Event: "progress", Command: command, Phase: label, Items: all, ElapsedSeconds: round3(elapsed.Seconds()), Final: final}
	if s := elapsed.Seconds(); s > 0 {
		ev.Rate = round3(float64(done) / s)
	}
	if total > 0 {
		ev.Total = max(total, all)
		pct := min(100, all*100/max(total, 1))
		ev.Percent = &pct
		switch {
		case all >= total:
			eta := 0.0
			ev.ETASeconds = &eta
		case ev.Rate > 0:
			eta := round3(float64(total-all) / ev.Rate)
			ev.ETASeconds = &eta
		}
	}
	return ev
}

// round3 rounds x to three decimals, for short JSON numbers.
func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// progressLine formats "label: 1,234 / ~20,000 items (6%), 617 items/s, ETA 30s".
// base items were done before this run and do not count toward the rate.
func progressLine(label string, base, done int64, total int64, elapsed time.Duration) string {
	var b strings.Builder
	all := base + done
	fmt.Fprintf(&b, "%s: %s", label, commas(all))
	if total > 0 {
		fmt.Fprintf(&b, " / ~%s items (%d%%)", commas(max(total, all)), min(100, all*100/max(total, 1)))
	} else {
		b.WriteString(" items")
	}
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(done) / s
	}
	fmt.Fprintf(&b, ", %s items/s", commas(int64(rate+0.5)))
	switch {
	case total <= 0:
	case all >= total:
		b.WriteString(", ETA 0s")
	case rate > 0:
		eta := time.Duration(float64(total-all) / rate * float64(time.Second))
		fmt.Fprintf(&b, ", ETA %s", eta.Round(time.Second))
	default:
		b.WriteString(", ETA ?")
	}
	return b.String()
}

// commas formats n with thousands separators.
func commas(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
