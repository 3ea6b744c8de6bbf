package queue_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/queue"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/replicate/replicatetest"
	"github.com/ddbsync/ddbsync/internal/rules"
)

// TestEnvelope_OldImage checks that the old image and the TTL flag travel
// in the envelope, and that an envelope too large for one SNS message
// drops the old image first, then the new image.
func TestEnvelope_OldImage(t *testing.T) {
	keys := json.RawMessage(`{"pk":{"S":"a"}}`)
	small := json.RawMessage(`{"pk":{"S":"a"},"n":{"N":"1"}}`)
	half := json.RawMessage(`{"pk":{"S":"a"},"blob":{"S":"` + strings.Repeat("x", queue.MaxMessageBytes/2+10) + `"}}`)
	whole := json.RawMessage(`{"pk":{"S":"a"},"blob":{"S":"` + strings.Repeat("y", queue.MaxMessageBytes) + `"}}`)
	tests := map[string]struct {
		env      queue.Envelope
		wantJSON string
	}{
		"modify with both images": {
			env: queue.Envelope{Event: "MODIFY", Keys: keys, NewImage: small, OldImage: small, Seq: "5"},
			wantJSON: `{"v":1,"event":"MODIFY","keys":{"pk":{"S":"a"}},"newImage":{"pk":{"S":"a"},"n":{"N":"1"}},
				"oldImage":{"pk":{"S":"a"},"n":{"N":"1"}},"seq":"5"}`,
		},
		"ttl remove": {
			env:      queue.Envelope{Event: "REMOVE", Keys: keys, OldImage: small, TTL: true, Seq: "6"},
			wantJSON: `{"v":1,"event":"REMOVE","keys":{"pk":{"S":"a"}},"oldImage":{"pk":{"S":"a"},"n":{"N":"1"}},"ttl":true,"seq":"6"}`,
		},
		"too large: the old image goes first": {
			env: queue.Envelope{Event: "MODIFY", Keys: keys, NewImage: half, OldImage: half, Seq: "7"},
			wantJSON: `{"v":1,"event":"MODIFY","keys":{"pk":{"S":"a"}},"newImage":` + string(half) +
				`,"oldImageDropped":true,"seq":"7"}`,
		},
		"still too large: the new image goes too": {
			env:      queue.Envelope{Event: "MODIFY", Keys: keys, NewImage: whole, OldImage: small, Seq: "8"},
			wantJSON: `{"v":1,"event":"MODIFY","keys":{"pk":{"S":"a"}},"keysOnly":true,"oldImageDropped":true,"seq":"8"}`,
		},
		"remove with a large old image": {
			env:      queue.Envelope{Event: "REMOVE", Keys: keys, OldImage: whole, Seq: "9"},
			wantJSON: `{"v":1,"event":"REMOVE","keys":{"pk":{"S":"a"}},"oldImageDropped":true,"seq":"9"}`,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			env := tt.env
			body, err := env.Encode()
			require.NoError(t, err)
			assert.LessOrEqual(t, len(body), queue.MaxMessageBytes)
			assert.JSONEq(t, tt.wantJSON, string(body))
			got, err := queue.DecodeEnvelope(body)
			require.NoError(t, err)
			assert.Equal(t, env, got, "what was sent is what is read")
		})
	}
}

// TestDecodeEnvelope_WithoutNewFields reads a message written before the
// old image and TTL fields existed.
func TestDecodeEnvelope_WithoutNewFields(t *testing.T) {
	got, err := queue.DecodeEnvelope([]byte(`{"v":1,"event":"REMOVE","keys":{"pk":{"S":"a"}},"seq":"5"}`))
	require.NoError(t, err)
	assert.Empty(t, got.OldImage)
	assert.False(t, got.OldImageDropped)
	assert.False(t, got.TTL)
}

// TestApplier_Apply_Rules applies messages through a replicator with a
// rule set behind the guard: re-keying deletes the old target item, the
// filter and the TTL policy hold, a collision fails its message (and the
// later ones of its group), and a re-key whose old image was dropped for
// size fails with the reason.
func TestApplier_Apply_Rules(t *testing.T) {
	rs, err := rules.Parse("test", []byte(`rules:
  - filter: has(item.tenant) && item.tenant == "acme"
  - key: {pk: 'tenant + "#" + id'}
ttl_deletes: skip
`))
	require.NoError(t, err)
	img := func(src, tenant, id string, n int) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"pk":{"S":%q},"tenant":{"S":%q},"id":{"S":%q},"n":{"N":"%d"}}`, src, tenant, id, n))
	}
	msg := func(src string, seq int, env queue.Envelope) queue.Message {
		env.Keys = json.RawMessage(fmt.Sprintf(`{"pk":{"S":%q}}`, src))
		env.Seq = fmt.Sprintf("%021d", seq)
		body, err := env.Encode()
		require.NoError(t, err)
		k, _ := replicate.DecodeImage(env.Keys)
		id, _ := replicate.KeyID(k)
		return queue.Message{ID: src + "@" + env.Seq[18:], GroupID: queue.GroupID(id), Body: body}
	}
	w := newMemGuard()
	a := queue.NewApplier(replicate.New(w, replicate.Options{Rules: rs}), nil, "")

	first := a.Apply(t.Context(), []queue.Message{
		msg("s1", 1, queue.Envelope{Event: "INSERT", NewImage: img("s1", "acme", "1", 1)}),
		msg("s2", 2, queue.Envelope{Event: "INSERT", NewImage: img("s2", "globex", "2", 1)}),
		msg("s3", 3, queue.Envelope{Event: "INSERT", NewImage: img("s3", "acme", "3", 1)}),
	})
	require.Empty(t, first.FailedIDs)
	assert.Equal(t, 1, first.Filtered)

	res := a.Apply(t.Context(), []queue.Message{
		msg("s1", 11, queue.Envelope{Event: "MODIFY", OldImage: img("s1", "acme", "1", 1), NewImage: img("s1", "acme", "9", 2)}), // re-key
		msg("s3", 12, queue.Envelope{Event: "REMOVE", OldImage: img("s3", "acme", "3", 1), TTL: true}),                           // skipped
		msg("s4", 13, queue.Envelope{Event: "INSERT", NewImage: img("s4", "acme", "9", 1)}),                                      // collision with s1
		msg("s4", 14, queue.Envelope{Event: "MODIFY", OldImage: img("s4", "acme", "9", 1), NewImage: img("s4", "acme", "4", 2)}),
		msg("s5", 15, queue.Envelope{Event: "MODIFY", OldImageDropped: true, NewImage: img("s5", "acme", "5", 2)}),
	})
	assert.Equal(t, []string{"s4@013", "s4@014", "s5@015"}, res.FailedIDs)
	assert.Equal(t, 1, res.TTLSkipped)
	require.Error(t, res.FirstError)
	assert.Contains(t, res.FirstError.Error(), "target key collision")

	items := map[string]string{}
	for _, item := range w.Items() {
		items[item["pk"].(*types.AttributeValueMemberS).Value] = item["n"].(*types.AttributeValueMemberN).Value
	}
	assert.Equal(t, map[string]string{"acme#9": "2", "acme#3": "1"}, items)

	// The record whose old image was dropped says why it fails.
	alone := a.Apply(t.Context(), []queue.Message{
		msg("s5", 15, queue.Envelope{Event: "MODIFY", OldImageDropped: true, NewImage: img("s5", "acme", "5", 2)}),
	})
	assert.Equal(t, []string{"s5@015"}, alone.FailedIDs)
	require.Error(t, alone.FirstError)
	assert.Contains(t, alone.FirstError.Error(), "old image needed")
	assert.Contains(t, alone.FirstError.Error(), "left out of the queue message")
}

// TestApplier_Apply_RulesKeySwap applies, behind the guard, the messages
// of two users swapping emails under a key rule (pk = email): whether the
// second message fails as a collision and is redelivered alone, or every
// message comes in a batch of its own, both users end at their new keys,
// since the guarded delete of an old key keeps the item of another user
// there. A REMOVE whose key another user took meanwhile keeps it too.
func TestApplier_Apply_RulesKeySwap(t *testing.T) {
	rs, err := rules.Parse("users", []byte(replicatetest.UsersRules))
	require.NoError(t, err)
	img := func(id, email string) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"id":{"S":%q},"email":{"S":%q},"active":{"BOOL":true}}`, id, email))
	}
	msg := func(src string, seq int, env queue.Envelope) queue.Message {
		env.Keys = json.RawMessage(fmt.Sprintf(`{"id":{"S":%q}}`, src))
		env.Seq = fmt.Sprintf("%021d", seq)
		body, err := env.Encode()
		require.NoError(t, err)
		k, _ := replicate.DecodeImage(env.Keys)
		id, _ := replicate.KeyID(k)
		return queue.Message{ID: src + "@" + env.Seq[18:], GroupID: queue.GroupID(id), Body: body}
	}
	seeded := func(t *testing.T) (*replicatetest.MemWriter, *queue.Applier) {
		w := newMemGuard()
		a := queue.NewApplier(replicate.New(w, replicate.Options{Rules: rs}), nil, "")
		res := a.Apply(t.Context(), []queue.Message{
			msg("A", 1, queue.Envelope{Event: "INSERT", NewImage: img("A", "t1@x")}),
			msg("B", 2, queue.Envelope{Event: "INSERT", NewImage: img("B", "t2@x")}),
		})
		require.Empty(t, res.FailedIDs)
		return w, a
	}
	swapA := msg("A", 3, queue.Envelope{Event: "MODIFY", OldImage: img("A", "t1@x"), NewImage: img("A", "t2@x")})
	swapB := msg("B", 4, queue.Envelope{Event: "MODIFY", OldImage: img("B", "t2@x"), NewImage: img("B", "t1@x")})
	swapped := func(t *testing.T, w *replicatetest.MemWriter) {
		t.Helper()
		assert.Equal(t, replicatetest.UserItem("A", "t2@x"), visible(w, "t2@x"))
		assert.Equal(t, replicatetest.UserItem("B", "t1@x"), visible(w, "t1@x"))
	}

	t.Run("in one batch, the collision redelivered alone", func(t *testing.T) {
		w, a := seeded(t)
		res := a.Apply(t.Context(), []queue.Message{swapA, swapB})
		require.Equal(t, []string{"B@004"}, res.FailedIDs)
		res = a.Apply(t.Context(), []queue.Message{swapB})
		require.Empty(t, res.FailedIDs)
		swapped(t, w)
	})
	t.Run("message by message", func(t *testing.T) {
		w, a := seeded(t)
		for _, m := range []queue.Message{swapA, swapB} {
			require.Empty(t, a.Apply(t.Context(), []queue.Message{m}).FailedIDs)
		}
		swapped(t, w)
	})
	t.Run("a REMOVE whose key another user took keeps it", func(t *testing.T) {
		w, a := seeded(t)
		require.Empty(t, a.Apply(t.Context(), []queue.Message{swapB}).FailedIDs)
		require.Empty(t, a.Apply(t.Context(), []queue.Message{msg("A", 5, queue.Envelope{Event: "REMOVE", OldImage: img("A", "t1@x")})}).FailedIDs)
		assert.Equal(t, replicatetest.UserItem("B", "t1@x"), visible(w, "t1@x"))
	})
}

// visible returns the item at target key pk in w, nil if none.
func visible(w *replicatetest.MemWriter, pk string) map[string]types.AttributeValue {
	return w.Get(replicatetest.UserKey(pk))
}
