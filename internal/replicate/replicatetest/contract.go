package replicatetest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/tablecmp"
)

// Item is an item, or an item's key, as the contract suites write them.
type Item = map[string]types.AttributeValue

// Target is one implementation of replicate.Writer under a contract
// suite, writing to a table keyed by the partition key "pk" (S) and the
// sort key "sk" (N), which the suite reads back through Get.
type Target struct {
	// Writer is the implementation under test.
	Writer replicate.Writer
	// Get returns the item stored under key as a reader of the table sees
	// it (for a guarded writer: tombstones as nil, without the sequence
	// attribute), nil if there is none. Reads must be strongly consistent.
	Get func(t *testing.T, key Item) Item
}

// Key returns the key pk=pk (S), sk=sk (N, spelled as given).
func Key(pk, sk string) Item {
	return Item{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberN{Value: sk}}
}

// with returns key plus the attributes attrs.
func with(key Item, attrs Item) Item {
	out := make(Item, len(key)+len(attrs))
	for k, v := range key {
		out[k] = v
	}
	for k, v := range attrs {
		out[k] = v
	}
	return out
}

// Put returns a put of item (which holds its key) from the change at seq.
// A RawWriter that takes raw writes also gets the item's DynamoDB JSON.
func Put(tb testing.TB, item Item, seq string) replicate.Write {
	tb.Helper()
	key := Item{"pk": item["pk"], "sk": item["sk"]}
	w := Delete(tb, key, seq)
	w.Op, w.Item = replicate.OpPut, item
	raw, err := attributevalue.MarshalMapJSON(item)
	require.NoError(tb, err)
	w.RawItem = raw
	return w
}

// Delete returns a delete of key from the change at seq.
func Delete(tb testing.TB, key Item, seq string) replicate.Write {
	tb.Helper()
	id, ok := replicate.KeyID(key)
	require.True(tb, ok, "key attributes of a key type")
	raw, err := attributevalue.MarshalMapJSON(key)
	require.NoError(tb, err)
	return replicate.Write{Op: replicate.OpDelete, Key: key, KeyID: id, RawKey: raw, Seq: seq}
}

// OwnedDelete returns a delete of key from the change at seq that removes
// the item only if it holds owner (replicate.Write.Owner).
func OwnedDelete(tb testing.TB, key, owner Item, seq string) replicate.Write {
	tb.Helper()
	w := Delete(tb, key, seq)
	w.Owner = owner
	return w
}

// owned returns the attributes of an item of the source item id, as a
// rule set that carries the source key "id" writes them.
func owned(id string) Item { return Item{"id": &types.AttributeValueMemberS{Value: id}} }

// forWriter returns writes as the replicator sends them to w: raw only
// (DynamoDB JSON, Item and Key nil) if w takes raw writes, else typed only.
func forWriter(w replicate.Writer, writes []replicate.Write) []replicate.Write {
	rw, ok := w.(replicate.RawWriter)
	raw := ok && rw.Raw()
	out := make([]replicate.Write, len(writes))
	for i, wr := range writes {
		if raw {
			wr.Item, wr.Key = nil, nil
		} else {
			wr.RawItem, wr.RawKey = nil, nil
		}
		out[i] = wr
	}
	return out
}

// write applies writes in one WriteBatch call and requires every one to
// succeed.
func (tg Target) write(t *testing.T, writes ...replicate.Write) {
	t.Helper()
	errs, _ := tg.Writer.WriteBatch(t.Context(), forWriter(tg.Writer, writes))
	require.Nil(t, errs, "every write applied")
}

// assertItem checks that key holds want (nil: no item), compared as
// DynamoDB compares values ([tablecmp.EqualItems]).
func (tg Target) assertItem(t *testing.T, key, want Item) {
	t.Helper()
	got := tg.Get(t, key)
	if want == nil {
		assert.Nil(t, got, "no item at %s", Show(key))
		return
	}
	require.NotNil(t, got, "an item at %s", Show(key))
	assert.True(t, tablecmp.EqualItems(want, got), "item at %s:\nwant %s\n got %s (differ in %v)", Show(key), Show(want), Show(got), tablecmp.DiffItems(want, got))
}

// Show returns item as DynamoDB JSON, for failure messages.
func Show(item Item) string {
	if item == nil {
		return "nil"
	}
	b, err := attributevalue.MarshalMapJSON(item)
	if err != nil {
		return fmt.Sprint(item)
	}
	return string(b)
}

// AllTypes returns an item at key holding every attribute type, nested
// ones included, with numbers in unusual spellings.
func AllTypes(key Item) Item {
	return with(key, Item{
		"s":    &types.AttributeValueMemberS{Value: "héllo \"quoted\" \n"},
		"es":   &types.AttributeValueMemberS{Value: ""},
		"n":    &types.AttributeValueMemberN{Value: "-12.50"},
		"big":  &types.AttributeValueMemberN{Value: "12345678901234567890123456789012345678"},
		"tiny": &types.AttributeValueMemberN{Value: "1E-130"},
		"b":    &types.AttributeValueMemberB{Value: []byte{0, 1, 2, 0xff}},
		"t":    &types.AttributeValueMemberBOOL{Value: true},
		"f":    &types.AttributeValueMemberBOOL{Value: false},
		"null": &types.AttributeValueMemberNULL{Value: true},
		"ss":   &types.AttributeValueMemberSS{Value: []string{"b", "a", "c"}},
		"ns":   &types.AttributeValueMemberNS{Value: []string{"3", "1.0", "-2"}},
		"bs":   &types.AttributeValueMemberBS{Value: [][]byte{{2}, {1}}},
		"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{
			&types.AttributeValueMemberS{Value: "x"}, &types.AttributeValueMemberN{Value: "1"},
			&types.AttributeValueMemberL{Value: []types.AttributeValue{}},
		}},
		"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"inner": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"ns": &types.AttributeValueMemberNS{Value: []string{"5"}}}},
			"empty": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}},
		}},
	})
}

// InvalidItems returns items at key that DynamoDB refuses with a
// ValidationException, by what is wrong with them.
func InvalidItems(key Item) map[string]Item {
	return map[string]Item{
		"an empty set":                with(key, Item{"ss": &types.AttributeValueMemberSS{Value: []string{}}}),
		"a set with a member twice":   with(key, Item{"ns": &types.AttributeValueMemberNS{Value: []string{"1", "1.0"}}}),
		"a number of 39 digits":       with(key, Item{"n": n("123456789012345678901234567890123456789")}),
		"a number beyond 1E+126":      with(key, Item{"n": n("1E+126")}),
		"an item of more than 400 KB": with(key, Item{"s": &types.AttributeValueMemberS{Value: strings.Repeat("x", 401<<10)}}),
		"an empty string key":         with(key, Item{"pk": &types.AttributeValueMemberS{Value: ""}}),
	}
}

// n returns an N attribute value.
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

// RunWriterContract runs the cases every replicate.Writer keeps, on a new
// Target per case: puts and deletes by key, whole-item overwrite, delete of
// a missing item, every attribute type round-tripping, number keys in any
// spelling, full batches, deletes with an owner (replicate.Write.Owner:
// the item is deleted only if it holds the owner, else kept, and the
// write is applied either way). Writes carry increasing sequence numbers, so a
// guarded writer passes too.
//
// Calls that break the Writer's precondition (duplicate keys, more than
// replicate.MaxBatchWrites writes) are outside the contract: DynamoDB
// refuses such a BatchWriteItem with a ValidationException, after which
// dynamo.Table writes each item alone, while MemWriter fails every write,
// so that a test catches the caller.
func RunWriterContract(t *testing.T, newTarget func(t *testing.T) Target) {
	tests := map[string]func(t *testing.T, tg Target){
		"put then read": func(t *testing.T, tg Target) {
			it := with(Key("a", "1"), Item{"v": n("1")})
			tg.write(t, Put(t, it, "1"))
			tg.assertItem(t, Key("a", "1"), it)
		},
		"every attribute type round-trips": func(t *testing.T, tg Target) {
			it := AllTypes(Key("a", "1"))
			tg.write(t, Put(t, it, "1"))
			tg.assertItem(t, Key("a", "1"), it)
		},
		"numbers and sets read back equal as DynamoDB compares them": func(t *testing.T, tg Target) {
			tg.write(t, Put(t, with(Key("a", "1"), Item{
				"n": n("1.50"), "e": n("1E+2"), "ns": &types.AttributeValueMemberNS{Value: []string{"10", "2.0"}},
				"ss": &types.AttributeValueMemberSS{Value: []string{"z", "y"}},
			}), "1"))
			tg.assertItem(t, Key("a", "1"), with(Key("a", "1"), Item{
				"n": n("1.5"), "e": n("100"), "ns": &types.AttributeValueMemberNS{Value: []string{"2", "1E+1"}},
				"ss": &types.AttributeValueMemberSS{Value: []string{"y", "z"}},
			}))
		},
		"overwrite replaces the whole item": func(t *testing.T, tg Target) {
			tg.write(t, Put(t, with(Key("a", "1"), Item{"old": n("1"), "v": n("1")}), "1"))
			tg.write(t, Put(t, with(Key("a", "1"), Item{"v": n("2"), "new": n("2")}), "2"))
			tg.assertItem(t, Key("a", "1"), with(Key("a", "1"), Item{"v": n("2"), "new": n("2")}))
		},
		"delete removes the item": func(t *testing.T, tg Target) {
			tg.write(t, Put(t, with(Key("a", "1"), Item{"v": n("1")}), "1"))
			tg.write(t, Delete(t, Key("a", "1"), "2"))
			tg.assertItem(t, Key("a", "1"), nil)
		},
		"delete of a missing item succeeds": func(t *testing.T, tg Target) {
			tg.write(t, Delete(t, Key("never", "1"), "1"))
			tg.assertItem(t, Key("never", "1"), nil)
		},
		"puts and deletes apply by key, in one call": func(t *testing.T, tg Target) {
			tg.write(t, Put(t, with(Key("a", "1"), Item{"v": n("1")}), "1"), Put(t, with(Key("a", "2"), Item{"v": n("2")}), "2"),
				Put(t, with(Key("b", "1"), Item{"v": n("3")}), "3"))
			tg.write(t, Delete(t, Key("a", "1"), "4"), Put(t, with(Key("b", "1"), Item{"v": n("5")}), "5"), Delete(t, Key("c", "1"), "6"))
			tg.assertItem(t, Key("a", "1"), nil)
			tg.assertItem(t, Key("a", "2"), with(Key("a", "2"), Item{"v": n("2")}))
			tg.assertItem(t, Key("b", "1"), with(Key("b", "1"), Item{"v": n("5")}))
		},
		"a number key is one item whatever its spelling": func(t *testing.T, tg Target) {
			tg.write(t, Put(t, with(Key("a", "10"), Item{"v": n("1")}), "1"))
			tg.write(t, Put(t, with(Key("a", "1E+1"), Item{"v": n("2")}), "2"))
			tg.assertItem(t, Key("a", "10.0"), with(Key("a", "10"), Item{"v": n("2")}))
			tg.write(t, Delete(t, Key("a", "10.00"), "3"))
			tg.assertItem(t, Key("a", "10"), nil)
		},
		"a full batch applies every write": func(t *testing.T, tg Target) {
			var writes []replicate.Write
			for i := range replicate.MaxBatchWrites {
				writes = append(writes, Put(t, with(Key("k"+strconv.Itoa(i), "1"), Item{"v": n(strconv.Itoa(i))}), strconv.Itoa(i+1)))
			}
			tg.write(t, writes...)
			for i := range replicate.MaxBatchWrites {
				tg.assertItem(t, Key("k"+strconv.Itoa(i), "1"), with(Key("k"+strconv.Itoa(i), "1"), Item{"v": n(strconv.Itoa(i))}))
			}
		},
		"a write DynamoDB refuses fails alone": func(t *testing.T, tg Target) {
			for name, bad := range InvalidItems(Key("bad", "1")) {
				errs, _ := tg.Writer.WriteBatch(t.Context(), forWriter(tg.Writer, []replicate.Write{
					Put(t, bad, "1"), Put(t, with(Key("good", "1"), Item{"v": n("1")}), "2"),
				}))
				require.Len(t, errs, 2, name)
				assert.Error(t, errs[0], name)
				assert.NoError(t, errs[1], name)
				tg.assertItem(t, Key("bad", "1"), nil)
				tg.assertItem(t, Key("good", "1"), with(Key("good", "1"), Item{"v": n("1")}))
			}
		},
		"a delete with an owner removes an item that holds it": func(t *testing.T, tg Target) {
			tg.write(t, Put(t, with(Key("a", "1"), owned("A")), "1"))
			tg.write(t, OwnedDelete(t, Key("a", "1"), owned("A"), "2"))
			tg.assertItem(t, Key("a", "1"), nil)
		},
		"a delete with an owner keeps an item of another owner, and is applied": func(t *testing.T, tg Target) {
			tg.write(t, Put(t, with(Key("a", "1"), owned("B")), "1"))
			tg.write(t, OwnedDelete(t, Key("a", "1"), owned("A"), "2"))
			tg.assertItem(t, Key("a", "1"), with(Key("a", "1"), owned("B")))
		},
		"a delete with an owner compares every owner attribute": func(t *testing.T, tg Target) {
			both := Item{"id": &types.AttributeValueMemberS{Value: "A"}, "n": n("1.0")}
			tg.write(t, Put(t, with(Key("a", "1"), both), "1"))
			tg.write(t, OwnedDelete(t, Key("a", "1"), Item{"id": both["id"], "n": n("2")}, "2"))
			tg.assertItem(t, Key("a", "1"), with(Key("a", "1"), both))
			tg.write(t, OwnedDelete(t, Key("a", "1"), Item{"id": both["id"], "n": n("1")}, "3"))
			tg.assertItem(t, Key("a", "1"), nil)
		},
		"a delete with an owner of a missing item is applied": func(t *testing.T, tg Target) {
			tg.write(t, OwnedDelete(t, Key("never", "1"), owned("A"), "1"))
			tg.assertItem(t, Key("never", "1"), nil)
		},
		"deletes with an owner apply in one call with other writes": func(t *testing.T, tg Target) {
			tg.write(t, Put(t, with(Key("a", "1"), owned("A")), "1"), Put(t, with(Key("b", "1"), owned("B")), "2"),
				Put(t, with(Key("c", "1"), owned("C")), "3"))
			tg.write(t, OwnedDelete(t, Key("a", "1"), owned("A"), "4"), OwnedDelete(t, Key("b", "1"), owned("A"), "5"),
				Delete(t, Key("c", "1"), "6"), Put(t, with(Key("d", "1"), owned("D")), "7"))
			tg.assertItem(t, Key("a", "1"), nil)
			tg.assertItem(t, Key("b", "1"), with(Key("b", "1"), owned("B")))
			tg.assertItem(t, Key("c", "1"), nil)
			tg.assertItem(t, Key("d", "1"), with(Key("d", "1"), owned("D")))
		},
		"an empty call does nothing": func(t *testing.T, tg Target) {
			errs, _ := tg.Writer.WriteBatch(t.Context(), nil)
			assert.Nil(t, errs)
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) { tc(t, newTarget(t)) })
	}
}

// RunGuardContract runs the cases of a guarded replicate.Writer (the
// stale-write rule of dynamo.SeqGuard) on a new Target per case: a write
// applies only if its change is newer than the last one applied to its key,
// deletes included; a stale write is skipped and counts as success; a
// delete with an owner keeps another owner's item and still leaves a
// tombstone where there is no item; a write without a valid sequence
// number fails alone.
func RunGuardContract(t *testing.T, newTarget func(t *testing.T) Target) {
	k := Key("a", "1")
	put := func(t *testing.T, seq string) replicate.Write { return Put(t, with(k, Item{"v": n(seq)}), seq) }
	del := func(t *testing.T, seq string) replicate.Write { return Delete(t, k, seq) }
	val := func(seq string) Item { return with(k, Item{"v": n(seq)}) }
	nines, tenPow := strings.Repeat("9", 39), "1"+strings.Repeat("0", 39) // beyond a DynamoDB number's 38 digits
	tests := map[string]struct {
		calls func(t *testing.T) []replicate.Write // each applied in a call of its own, in order
		want  Item
	}{
		"newer put wins":     {calls: func(t *testing.T) []replicate.Write { return []replicate.Write{put(t, "10"), put(t, "20")} }, want: val("20")},
		"older put is stale": {calls: func(t *testing.T) []replicate.Write { return []replicate.Write{put(t, "20"), put(t, "10")} }, want: val("20")},
		"equal put is stale": {calls: func(t *testing.T) []replicate.Write {
			return []replicate.Write{put(t, "20"), Put(t, with(k, Item{"v": n("99")}), "20")}
		}, want: val("20")},
		"leading zeros do not count": {calls: func(t *testing.T) []replicate.Write {
			return []replicate.Write{put(t, "20"), Put(t, with(k, Item{"v": n("99")}), "0020")}
		}, want: val("20")},
		"sequence numbers compare as integers beyond 38 digits": {calls: func(t *testing.T) []replicate.Write {
			return []replicate.Write{put(t, tenPow), Put(t, with(k, Item{"v": n("1")}), nines), put(t, "9")}
		}, want: val(tenPow)},
		"delete older than the put is stale": {calls: func(t *testing.T) []replicate.Write { return []replicate.Write{put(t, "30"), del(t, "20")} }, want: val("30")},
		"newer delete removes the item":      {calls: func(t *testing.T) []replicate.Write { return []replicate.Write{put(t, "10"), del(t, "20")} }},
		"older put redelivered after a delete stays deleted": {calls: func(t *testing.T) []replicate.Write {
			return []replicate.Write{put(t, "10"), del(t, "20"), put(t, "10")}
		}},
		"older put after the delete of a never-seen item stays deleted": {calls: func(t *testing.T) []replicate.Write {
			return []replicate.Write{del(t, "20"), put(t, "10")}
		}},
		"older delete after a delete keeps it deleted": {calls: func(t *testing.T) []replicate.Write {
			return []replicate.Write{del(t, "20"), del(t, "15"), put(t, "18")}
		}},
		"owned delete older than the put is stale": {calls: func(t *testing.T) []replicate.Write {
			return []replicate.Write{Put(t, with(k, owned("A")), "30"), OwnedDelete(t, k, owned("A"), "20")}
		}, want: with(k, owned("A"))},
		"newer owned delete of its owner's item removes it, and an older put stays deleted": {calls: func(t *testing.T) []replicate.Write {
			return []replicate.Write{Put(t, with(k, owned("A")), "10"), OwnedDelete(t, k, owned("A"), "20"), Put(t, with(k, owned("A")), "15")}
		}},
		"newer owned delete keeps another owner's item": {calls: func(t *testing.T) []replicate.Write {
			return []replicate.Write{Put(t, with(k, owned("B")), "10"), OwnedDelete(t, k, owned("A"), "20")}
		}, want: with(k, owned("B"))},
		"owned delete of a never-seen item leaves a tombstone: an older put stays deleted": {calls: func(t *testing.T) []replicate.Write {
			return []replicate.Write{OwnedDelete(t, k, owned("A"), "20"), Put(t, with(k, owned("A")), "10")}
		}},
		"owned delete after a delete keeps it deleted": {calls: func(t *testing.T) []replicate.Write {
			return []replicate.Write{del(t, "20"), OwnedDelete(t, k, owned("A"), "25"), Put(t, with(k, owned("A")), "22")}
		}},
		"newer put after a delete recreates the whole item": {calls: func(t *testing.T) []replicate.Write {
			return []replicate.Write{Put(t, with(k, Item{"v": n("10"), "old": n("1")}), "10"), del(t, "20"), put(t, "30")}
		}, want: val("30")},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			tg := newTarget(t)
			for _, w := range tt.calls(t) {
				tg.write(t, w)
			}
			tg.assertItem(t, k, tt.want)
		})
	}
	t.Run("keys are guarded apart in one call", func(t *testing.T) {
		tg := newTarget(t)
		tg.write(t, Put(t, with(Key("a", "1"), Item{"v": n("5")}), "5"), Put(t, with(Key("b", "1"), Item{"v": n("6")}), "6"))
		tg.write(t, Put(t, with(Key("a", "1"), Item{"v": n("4")}), "4"), Put(t, with(Key("b", "1"), Item{"v": n("7")}), "7"))
		tg.assertItem(t, Key("a", "1"), with(Key("a", "1"), Item{"v": n("5")}))
		tg.assertItem(t, Key("b", "1"), with(Key("b", "1"), Item{"v": n("7")}))
	})
	t.Run("a number key is guarded whatever its spelling", func(t *testing.T) {
		tg := newTarget(t)
		tg.write(t, Put(t, with(Key("a", "10"), Item{"v": n("5")}), "5"))
		tg.write(t, Put(t, with(Key("a", "1E+1"), Item{"v": n("4")}), "4"))
		tg.assertItem(t, Key("a", "10"), with(Key("a", "10"), Item{"v": n("5")}))
	})
	for name, seq := range map[string]string{"empty": "", "not digits": "12a"} {
		t.Run(fmt.Sprintf("a write with an invalid sequence number fails alone (%s)", name), func(t *testing.T) {
			tg := newTarget(t)
			writes := forWriter(tg.Writer, []replicate.Write{Put(t, with(Key("a", "1"), Item{"v": n("1")}), seq), Put(t, with(Key("b", "1"), Item{"v": n("2")}), "2")})
			errs, _ := tg.Writer.WriteBatch(t.Context(), writes)
			require.Len(t, errs, 2)
			assert.ErrorIs(t, errs[0], replicate.ErrInvalidSeq)
			assert.NoError(t, errs[1])
			tg.assertItem(t, Key("a", "1"), nil)
			tg.assertItem(t, Key("b", "1"), with(Key("b", "1"), Item{"v": n("2")}))
		})
	}
}
