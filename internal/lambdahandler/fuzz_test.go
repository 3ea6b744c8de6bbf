package lambdahandler

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	gojson "github.com/goccy/go-json"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/replicate"
)

// FuzzDecodeEvent feeds arbitrary payloads to the event decoder, seeded
// with every fixture of testdata/ and the sample events of events/ (and the
// crashers kept in testdata/fuzz/FuzzDecodeEvent). Properties: it never
// panics; and an event it reads, written back out with encoding/json and
// read again, gives the same changes.
//
//	go test -run '^$' -fuzz '^FuzzDecodeEvent$' -fuzztime 20s ./internal/lambdahandler/
func FuzzDecodeEvent(f *testing.F) {
	for _, pattern := range []string{filepath.Join("testdata", "*.json"), filepath.Join("..", "..", "events", "*.json")} {
		files, err := filepath.Glob(pattern)
		require.NoError(f, err)
		for _, name := range files {
			b, err := os.ReadFile(name)
			require.NoError(f, err)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		changes, ttl, err := decodeEvent(payload)
		if err != nil {
			assert.ErrorIs(t, err, ErrBadEvent)
			return
		}
		var ev streamEvent
		require.NoError(t, gojson.Unmarshal(payload, &ev))
		again, err := json.Marshal(ev)
		require.NoError(t, err, "an event the decoder read must marshal")
		changes2, ttl2, err := decodeEvent(again)
		require.NoError(t, err, "re-marshalled event %s", again)
		assert.Equal(t, ttl, ttl2)
		require.Len(t, changes2, len(changes))
		for i := range changes {
			assertSameChange(t, changes[i], changes2[i])
		}
	})
}

// assertSameChange compares two decodings of one record: the same fields,
// the same error text, and NewImages that decode to the same item.
func assertSameChange(t *testing.T, a, b replicate.Change) {
	t.Helper()
	assert.Equal(t, a.Seq, b.Seq)
	assert.Equal(t, a.Op, b.Op)
	assert.Equal(t, a.KeyID, b.KeyID)
	assert.Equal(t, a.Key, b.Key)
	assert.True(t, a.Created.Equal(b.Created), "created %v and %v", a.Created, b.Created)
	if a.Err != nil || b.Err != nil {
		require.Error(t, a.Err)
		require.Error(t, b.Err)
		assertSameKind(t, a.Err, b.Err)
	}
	if a.NewImage == nil || b.NewImage == nil {
		assert.Equal(t, a.NewImage == nil, b.NewImage == nil)
		return
	}
	itemA, errA := replicate.DecodeImage(a.NewImage)
	itemB, errB := replicate.DecodeImage(b.NewImage)
	if errA != nil || errB != nil {
		require.Error(t, errA)
		require.Error(t, errB)
		assertSameKind(t, errA, errB)
		return
	}
	assert.Equal(t, itemA, itemB)
}

// assertSameKind checks that two errors of one record are of the same
// kind. Their texts may differ when an image has several values the SDK's
// decoder rejects: it reports the first in Go map order, that is at random.
func assertSameKind(t *testing.T, a, b error) {
	t.Helper()
	for _, kind := range []error{ErrBadKeys, ErrNoNewImage, ErrUnknownEvent, replicate.ErrBadAttribute} {
		assert.Equal(t, errors.Is(a, kind), errors.Is(b, kind), "%v and %v differ in kind %v", a, b, kind)
	}
}
