package replicatetest

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/rules"
)

// UsersRules re-keys users by email (the target key is pk = email) and
// copies only active users; the source key id is carried into the target
// item as it is, so a delete the rules make can be conditioned on it.
const UsersRules = `rules:
  - filter: has(item.active) && item.active
  - key: {pk: email}
`

// user is the source image of user id (source key id) in DynamoDB JSON.
func user(id, email string, active bool) string {
	return fmt.Sprintf(`{"id":{"S":%q},"email":{"S":%q},"active":{"BOOL":%t}}`, id, email, active)
}

// UserItem is the target item UsersRules makes of an active user.
func UserItem(id, email string) Item {
	return Item{
		"pk": &types.AttributeValueMemberS{Value: email}, "id": &types.AttributeValueMemberS{Value: id},
		"email": &types.AttributeValueMemberS{Value: email}, "active": &types.AttributeValueMemberBOOL{Value: true},
	}
}

// UserKey is the target key of the user with email.
func UserKey(email string) Item { return Item{"pk": &types.AttributeValueMemberS{Value: email}} }

// userRecord is a stream record of user id, decoded as the edges decode it.
func userRecord(seq, event, id, oldImg, newImg string) replicate.Change {
	return replicate.DecodeRecord(&replicate.Record{
		Seq: seq, Event: event, Keys: []byte(fmt.Sprintf(`{"id":{"S":%q}}`, id)),
		NewImage: []byte(newImg), OldImage: []byte(oldImg),
	})
}

// RunKeySwapContract runs, on a new Target per case (a table keyed by pk,
// S), the cases where a delete the rules make (the old target key of a
// re-key, an item leaving the filter, a REMOVE) meets a target key that
// another source item holds now: that item is kept, and the record counts
// as applied. Two users that swap emails both end at their new keys,
// whether the second record is retried alone after a collision in one
// batch or every record is its own batch. Sequence numbers increase, so a
// guarded writer passes too.
func RunKeySwapContract(t *testing.T, newTarget func(t *testing.T) Target) {
	rs, err := rules.Parse("users", []byte(UsersRules))
	require.NoError(t, err)
	apply := func(t *testing.T, rep *replicate.Replicator, changes ...replicate.Change) replicate.Result {
		t.Helper()
		return rep.Apply(t.Context(), changes)
	}
	seed := func(t *testing.T, rep *replicate.Replicator) {
		t.Helper()
		res := apply(t, rep,
			userRecord("1", "INSERT", "A", "", user("A", "t1@x", true)),
			userRecord("2", "INSERT", "B", "", user("B", "t2@x", true)))
		require.Empty(t, res.FailedSeq, "%v", res.FirstError)
	}
	recA := userRecord("3", "MODIFY", "A", user("A", "t1@x", true), user("A", "t2@x", true)) // delete t1, put t2
	recB := userRecord("4", "MODIFY", "B", user("B", "t2@x", true), user("B", "t1@x", true)) // delete t2, put t1
	swapped := func(t *testing.T, tg Target) {
		t.Helper()
		tg.assertItem(t, UserKey("t2@x"), UserItem("A", "t2@x"))
		tg.assertItem(t, UserKey("t1@x"), UserItem("B", "t1@x"))
	}

	t.Run("a swap in one batch: the colliding record retried alone keeps the other item", func(t *testing.T) {
		tg := newTarget(t)
		rep := replicate.New(tg.Writer, replicate.Options{Rules: rs})
		seed(t, rep)
		res := apply(t, rep, recA, recB)
		require.Equal(t, "4", res.FailedSeq, "the second record collides with the first")
		require.ErrorIs(t, res.FirstError, rules.ErrCollision)
		res = apply(t, rep, recB) // Lambda resumes from the failed record
		require.Empty(t, res.FailedSeq, "%v", res.FirstError)
		assert.Equal(t, 1, res.Deletes, "the delete that finds another item counts as applied")
		swapped(t, tg)
	})
	t.Run("a swap record by record keeps both items", func(t *testing.T) {
		tg := newTarget(t)
		rep := replicate.New(tg.Writer, replicate.Options{Rules: rs})
		seed(t, rep)
		for _, c := range []replicate.Change{recA, recB} {
			res := apply(t, rep, c)
			require.Empty(t, res.FailedSeq, "%v", res.FirstError)
		}
		swapped(t, tg)
	})
	t.Run("a REMOVE whose target key another item took keeps that item", func(t *testing.T) {
		tg := newTarget(t)
		rep := replicate.New(tg.Writer, replicate.Options{Rules: rs})
		seed(t, rep)
		// A moved away from t1 and B took it (their records applied out
		// of order, as from two shards), then A's REMOVE of t1 arrives.
		require.Empty(t, apply(t, rep, userRecord("5", "MODIFY", "B", user("B", "t2@x", true), user("B", "t1@x", true))).FailedSeq)
		res := apply(t, rep, userRecord("6", "REMOVE", "A", user("A", "t1@x", true), ""))
		require.Empty(t, res.FailedSeq, "%v", res.FirstError)
		assert.Equal(t, 1, res.Deletes)
		tg.assertItem(t, UserKey("t1@x"), UserItem("B", "t1@x"))
		// The REMOVE of the item that holds its key still deletes it.
		require.Empty(t, apply(t, rep, userRecord("7", "REMOVE", "B", user("B", "t1@x", true), "")).FailedSeq)
		tg.assertItem(t, UserKey("t1@x"), nil)
	})
	t.Run("an item leaving the filter keeps the item that took its target key", func(t *testing.T) {
		tg := newTarget(t)
		rep := replicate.New(tg.Writer, replicate.Options{Rules: rs})
		seed(t, rep)
		require.Empty(t, apply(t, rep, userRecord("5", "MODIFY", "B", user("B", "t2@x", true), user("B", "t1@x", true))).FailedSeq)
		res := apply(t, rep, userRecord("6", "MODIFY", "A", user("A", "t1@x", true), user("A", "t1@x", false)))
		require.Empty(t, res.FailedSeq, "%v", res.FirstError)
		tg.assertItem(t, UserKey("t1@x"), UserItem("B", "t1@x"))
		// B leaving the filter deletes its own copy.
		require.Empty(t, apply(t, rep, userRecord("7", "MODIFY", "B", user("B", "t1@x", true), user("B", "t1@x", false))).FailedSeq)
		tg.assertItem(t, UserKey("t1@x"), nil)
	})
}
