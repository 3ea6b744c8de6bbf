package streampoll

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPoller_StartAt starts each shard at its first record created at or
// after Options.StartAt, as a hand-over from an export at T starts at T
// minus the overlap: older records are skipped (and counted) and move the
// position, everything from the first record kept on is delivered, even
// a later record with an earlier creation time, and a shard of old records
// only is skipped whole.
func TestPoller_StartAt(t *testing.T) {
	start := time.Unix(1795000000, 0)
	stream := newFakeStream(
		&fakeShard{id: "a", seqs: []int{1, 2, 3, 4, 5}, closed: true},
		&fakeShard{id: "b", parent: "a", seqs: []int{6, 7}},
		&fakeShard{id: "c", seqs: []int{8, 9}},
	)
	stream.created = map[int]time.Time{
		1: start.Add(-10 * time.Minute), 2: start.Add(-6 * time.Minute),
		3: start,                       // at StartAt: kept
		4: start.Add(-6 * time.Minute), // after a kept record: kept
		5: start.Add(time.Minute), 6: start.Add(2 * time.Minute), 7: start.Add(3 * time.Minute),
		8: start.Add(-time.Hour), 9: start.Add(-time.Second),
	}
	fn := &fakeFunction{}
	opts := testOptions()
	opts.StartAt = start
	p := New(stream.api(), fn, opts)
	runPoller(t, p)

	var got []int
	for _, b := range fn.got() {
		got = append(got, b...)
	}
	assert.Equal(t, []int{3, 4, 5, 6, 7}, got)
	st := p.Stats()
	assert.Equal(t, int64(4), st.Skipped)
	assert.Equal(t, int64(5), st.Records)
	pos := map[string]string{}
	for _, ps := range p.Positions() {
		pos[ps.ShardID] = ps.SequenceNumber
	}
	assert.Equal(t, map[string]string{"a": seqString(5), "b": seqString(7), "c": seqString(9)}, pos)
}

// TestPoller_StartAtNeedsTrimHorizon refuses StartAt with Start LATEST,
// which would skip the records between StartAt and now.
func TestPoller_StartAtNeedsTrimHorizon(t *testing.T) {
	stream := newFakeStream(&fakeShard{id: "a", seqs: []int{1}})
	opts := testOptions()
	opts.Start = Latest
	opts.StartAt = time.Unix(1795000000, 0)
	err := New(stream.api(), &fakeFunction{}, opts).Run(t.Context())
	require.ErrorContains(t, err, "TRIM_HORIZON")
}
