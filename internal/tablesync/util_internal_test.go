package tablesync

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/ddbsync/ddbsync/internal/itemsize"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestItemSize(t *testing.T) {
	tests := map[string]struct {
		item      Item
		wantSize  int
		wantUnits float64
	}{
		"string":         {item: Item{"pk": sv("abc")}, wantSize: 5, wantUnits: 1},
		"number":         {item: Item{"n": nv("12345")}, wantSize: 1 + 4, wantUnits: 1},
		"number exp":     {item: Item{"n": nv("1E+2")}, wantSize: 1 + 2, wantUnits: 1},
		"bool and null":  {item: Item{"b": &types.AttributeValueMemberBOOL{}, "z": &types.AttributeValueMemberNULL{Value: true}}, wantSize: 4, wantUnits: 1},
		"binary":         {item: Item{"b": &types.AttributeValueMemberB{Value: make([]byte, 10)}}, wantSize: 11, wantUnits: 1},
		"list":           {item: Item{"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{sv("ab"), sv("c")}}}, wantSize: 1 + 3 + 3 + 2, wantUnits: 1},
		"map":            {item: Item{"m": &types.AttributeValueMemberM{Value: Item{"k": sv("v")}}}, wantSize: 1 + 3 + 3, wantUnits: 1},
		"string set":     {item: Item{"s": &types.AttributeValueMemberSS{Value: []string{"ab", "c"}}}, wantSize: 4, wantUnits: 1},
		"exactly 1 KB":   {item: Item{"s": sv(strings.Repeat("x", 1023))}, wantSize: 1024, wantUnits: 1},
		"just over 1 KB": {item: Item{"s": sv(strings.Repeat("x", 1024))}, wantSize: 1025, wantUnits: 2},
		"10 KB":          {item: Item{"s": sv(strings.Repeat("x", 10<<10))}, wantSize: 10<<10 + 1, wantUnits: 11},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.wantSize, itemsize.Of(tt.item))
			assert.Equal(t, tt.wantUnits, writeUnits(tt.item))
		})
	}
	assert.Equal(t, 1.5, readUnits([]int{100, 5000}, false)) // 1 + 2 units, halved
	assert.Equal(t, 3.0, readUnits([]int{100, 5000}, true))
}

// fakeClock drives a rateLimiter without sleeping.
type fakeClock struct {
	now   time.Time
	slept []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.slept = append(c.slept, d)
	c.now = c.now.Add(d)
	return nil
}

func TestRateLimiter(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	l := newRateLimiter(100)
	l.now, l.sleep, l.last = clock.Now, clock.Sleep, clock.now

	ctx := t.Context()
	require.NoError(t, l.wait(ctx, 100)) // the first second's burst
	assert.Empty(t, clock.slept)
	require.NoError(t, l.wait(ctx, 50))
	assert.Equal(t, []time.Duration{500 * time.Millisecond}, clock.slept)
	require.NoError(t, l.wait(ctx, 300)) // larger than the bucket: passes after paying
	assert.Equal(t, 3*time.Second, clock.slept[1])

	clock.now = clock.now.Add(time.Hour) // the bucket refills only up to its size
	clock.slept = nil
	require.NoError(t, l.wait(ctx, 100))
	require.NoError(t, l.wait(ctx, 1))
	assert.Equal(t, []time.Duration{10 * time.Millisecond}, clock.slept)

	// Over a long run the rate holds: 10,000 units in about 100 s.
	clock.slept = nil
	start := clock.now
	for range 1000 {
		require.NoError(t, l.wait(ctx, 10))
	}
	assert.InDelta(t, 100, clock.now.Sub(start).Seconds(), 1.1)

	var none *rateLimiter
	assert.NoError(t, none.wait(ctx, 1e9), "no limit")
	assert.Nil(t, newRateLimiter(0))
}

func TestProgressLine(t *testing.T) {
	tests := map[string]struct {
		base, done, total int64
		elapsed           time.Duration
		want              string
	}{
		"known total":   {done: 5000, total: 20000, elapsed: 2 * time.Second, want: "backfill: 5,000 / ~20,000 items (25%), 2,500 items/s, ETA 6s"},
		"resumed":       {base: 10000, done: 5000, total: 20000, elapsed: 5 * time.Second, want: "backfill: 15,000 / ~20,000 items (75%), 1,000 items/s, ETA 5s"},
		"unknown total": {done: 1234567, elapsed: time.Second, want: "backfill: 1,234,567 items, 1,234,567 items/s"},
		"past estimate": {done: 25000, total: 20000, elapsed: time.Second, want: "backfill: 25,000 / ~25,000 items (100%), 25,000 items/s, ETA 0s"},
		"not started":   {total: 10, want: "backfill: 0 / ~10 items (0%), 0 items/s, ETA ?"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, progressLine("backfill", tt.base, tt.done, tt.total, tt.elapsed))
		})
	}
}

func TestMeter_Redraw(t *testing.T) {
	var buf bytes.Buffer
	m := startMeter(Progress{W: &buf, Redraw: true, Interval: time.Hour}, "verify", 10, 0)
	m.add(10)
	m.finish()
	assert.True(t, strings.HasPrefix(buf.String(), "\rverify: 10 / ~10 items (100%)"), buf.String())
	assert.True(t, strings.HasSuffix(buf.String(), "\x1b[K\n"))
}

func TestProgressEvent(t *testing.T) {
	tests := map[string]struct {
		base, done, total int64
		elapsed           time.Duration
		final             bool
		want              string
	}{
		"known total":   {done: 5000, total: 20000, elapsed: 2 * time.Second, want: `{"event":"progress","command":"backfill","phase":"backfill","items":5000,"total":20000,"percent":25,"itemsPerSecond":2500,"etaSeconds":6,"elapsedSeconds":2,"final":false}`},
		"resumed":       {base: 10000, done: 5000, total: 20000, elapsed: 5 * time.Second, want: `{"event":"progress","command":"backfill","phase":"backfill","items":15000,"total":20000,"percent":75,"itemsPerSecond":1000,"etaSeconds":5,"elapsedSeconds":5,"final":false}`},
		"unknown total": {done: 1234567, elapsed: time.Second, want: `{"event":"progress","command":"backfill","phase":"backfill","items":1234567,"itemsPerSecond":1234567,"elapsedSeconds":1,"final":false}`},
		"past estimate": {done: 25000, total: 20000, elapsed: time.Second, final: true, want: `{"event":"progress","command":"backfill","phase":"backfill","items":25000,"total":25000,"percent":100,"itemsPerSecond":25000,"etaSeconds":0,"elapsedSeconds":1,"final":true}`},
		"not started":   {total: 10, want: `{"event":"progress","command":"backfill","phase":"backfill","items":0,"total":10,"percent":0,"itemsPerSecond":0,"elapsedSeconds":0,"final":false}`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(progressEvent("backfill", "backfill", tt.base, tt.done, tt.total, tt.elapsed, tt.final))
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(b), "the key order is fixed (docs/progress.md)")
		})
	}
}

func TestMeter_JSON(t *testing.T) {
	var buf bytes.Buffer
	m := startMeter(Progress{W: &buf, JSON: true, Command: "verify", Interval: time.Hour}, "verify source", 10, 0)
	m.add(4)
	m.setPhase("verify target", 0)
	m.add(3)
	m.finish()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	require.Len(t, lines, 1, "one final event; no redraw characters")
	var ev Event
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &ev))
	assert.Equal(t, Event{Event: "progress", Command: "verify", Phase: "verify target", Items: 3, Rate: ev.Rate, ElapsedSeconds: ev.ElapsedSeconds, Final: true}, ev)
	assert.NotContains(t, buf.String(), "\r")
}

func TestMeter_Filtered(t *testing.T) {
	var buf bytes.Buffer
	m := startMeter(Progress{W: &buf, JSON: true, Command: "backfill", Interval: time.Hour}, "backfill", 0, 0)
	var filtered atomic.Int64
	m.filtered.Store(&filtered)
	m.add(5)
	filtered.Add(2)
	m.finish()
	var ev Event
	require.NoError(t, json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &ev))
	require.NotNil(t, ev.Filtered)
	assert.EqualValues(t, 2, *ev.Filtered)
	assert.Contains(t, buf.String(), `"final":true,"filtered":2}`)

	buf.Reset()
	m = startMeter(Progress{W: &buf, Interval: time.Hour}, "backfill", 0, 0)
	m.filtered.Store(&filtered)
	m.add(5)
	m.finish()
	assert.Contains(t, buf.String(), "backfill: 5 items, ")
	assert.Contains(t, buf.String(), ", 2 filtered\n")
}

func TestCheckpoint_SaveLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.json")
	got, err := LoadCheckpoint(path)
	require.NoError(t, err)
	assert.Nil(t, got, "no file: nothing to resume")

	key, err := encodeKey(Item{"pk": sv("a"), "sk": nv("10")})
	require.NoError(t, err)
	c := &Checkpoint{Version: checkpointVersion, SourceTable: "s", TargetTable: "t", TotalSegments: 4,
		Segments: map[int]*SegmentState{0: {Done: true, Items: 7}, 3: {Items: 2, LastKey: key}}}
	require.NoError(t, c.Save(path))
	got, err = LoadCheckpoint(path)
	require.NoError(t, err)
	assert.Equal(t, c, got)
	back, err := decodeKey(got.Segments[3].LastKey)
	require.NoError(t, err)
	assert.Equal(t, Item{"pk": sv("a"), "sk": nv("10")}, back)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left behind")

	assert.NoError(t, got.check("s", "t", 4))
	assert.ErrorIs(t, got.check("s", "t", 8), ErrCheckpointMismatch)
	assert.ErrorIs(t, got.check("s", "other", 4), ErrCheckpointMismatch)

	require.NoError(t, os.WriteFile(path, []byte(`{"version":9}`), 0o600))
	_, err = LoadCheckpoint(path)
	assert.ErrorContains(t, err, "version 9")
	require.NoError(t, os.WriteFile(path, []byte(`{`), 0o600))
	_, err = LoadCheckpoint(path)
	assert.ErrorContains(t, err, "decode checkpoint")
}

func TestMarshalDifference(t *testing.T) {
	d := Difference{
		Kind: Different, Key: Item{"pk": sv("a")}, Attributes: []string{"n"},
		Source: Item{"pk": sv("a"), "n": nv("1")}, Target: Item{"pk": sv("a"), "n": nv("2")},
	}
	tests := map[string]struct {
		d          Difference
		showValues bool
		want       string
	}{
		"names only":  {d: d, want: `{"kind":"different","key":{"pk":{"S":"a"}},"attributes":["n"]}`},
		"with values": {d: d, showValues: true, want: `{"kind":"different","key":{"pk":{"S":"a"}},"attributes":["n"],"source":{"pk":{"S":"a"},"n":{"N":"1"}},"target":{"pk":{"S":"a"},"n":{"N":"2"}}}`},
		"missing":     {d: Difference{Kind: Missing, Key: Item{"pk": sv("b")}, Source: Item{"pk": sv("b")}}, showValues: true, want: `{"kind":"missing","key":{"pk":{"S":"b"}},"source":{"pk":{"S":"b"}}}`},
		"with rules: both keys": {d: Difference{Kind: Missing, Key: Item{"pk": sv("acme#1")}, SourceKey: Item{"id": sv("1")}, TargetKey: Item{"pk": sv("acme#1")}},
			want: `{"kind":"missing","key":{"pk":{"S":"acme#1"}},"source_key":{"id":{"S":"1"}},"target_key":{"pk":{"S":"acme#1"}}}`},
		"collision": {d: Difference{Kind: Collision, Key: Item{"pk": sv("acme")}, SourceKey: Item{"id": sv("2")}, TargetKey: Item{"pk": sv("acme")},
			OtherSourceKey: Item{"id": sv("1")}, Error: "target key collision"},
			want: `{"kind":"collision","key":{"pk":{"S":"acme"}},"source_key":{"id":{"S":"2"}},"target_key":{"pk":{"S":"acme"}},"other_source_key":{"id":{"S":"1"}},"error":"target key collision"}`},
		"rule error": {d: Difference{Kind: RuleFailed, Key: Item{"id": sv("3")}, SourceKey: Item{"id": sv("3")}, Error: "no such key: tenant"},
			want: `{"kind":"rule-error","key":{"id":{"S":"3"}},"source_key":{"id":{"S":"3"}},"error":"no such key: tenant"}`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			b, err := MarshalDifference(tt.d, tt.showValues)
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(b))
			back, err := UnmarshalDifference(b)
			require.NoError(t, err)
			assert.Equal(t, tt.d.Kind, back.Kind)
			assert.Equal(t, tt.d.Key, back.Key)
			assert.Equal(t, tt.d.SourceKey, back.SourceKey)
			assert.Equal(t, tt.d.TargetKey, back.TargetKey)
			assert.Equal(t, tt.d.OtherSourceKey, back.OtherSourceKey)
			assert.Equal(t, tt.d.Error, back.Error)
		})
	}

	var keys []Item
	err := ReadDifferences(strings.NewReader(`{"kind":"extra","key":{"pk":{"S":"x"}}}`+"\n\n"+`{"kind":"missing","key":{"pk":{"N":"1"}}}`+"\n"),
		func(d Difference) error { keys = append(keys, d.Key); return nil })
	require.NoError(t, err)
	assert.Equal(t, []Item{{"pk": sv("x")}, {"pk": nv("1")}}, keys)

	for name, line := range map[string]string{
		"not json":     `{"kind":`,
		"unknown kind": `{"kind":"odd","key":{"pk":{"S":"x"}}}`,
		"no key":       `{"kind":"extra"}`,
		"bad key":      `{"kind":"extra","key":{"pk":{"Q":"x"}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			err := ReadDifferences(strings.NewReader("\n"+line), func(Difference) error { return nil })
			assert.ErrorIs(t, err, ErrBadDifference)
			assert.ErrorContains(t, err, "line 2")
		})
	}
}
