package rules

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var ttlIdentity = &Identity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"}

func TestRuleSet_Writes(t *testing.T) {
	const tenantRules = `rules:
  - filter: has(item.tenant) && item.tenant == "acme"
  - key: {pk: 'tenant + "#" + id'}
  - exclude: [sk]`
	keys := item{"pk": s("order#1"), "sk": s("d")}
	img := func(tenant, id string) item {
		return item{"pk": s("order#1"), "sk": s("d"), "tenant": s(tenant), "id": s(id)}
	}
	out := func(tenant, id string) item {
		return item{"pk": s(tenant + "#" + id), "tenant": s(tenant), "id": s(id)}
	}
	key := func(pk string) item { return item{"pk": s(pk)} }
	tests := map[string]struct {
		rules   string
		change  Change
		want    []Write
		wantErr error
	}{
		"identity insert": {rules: "", change: Change{Event: EventInsert, Keys: keys, NewImage: img("acme", "1")},
			want: []Write{{Op: OpPut, Key: keys, Item: img("acme", "1")}}},
		"identity remove": {rules: "", change: Change{Event: EventRemove, Keys: keys},
			want: []Write{{Op: OpDelete, Key: keys}}},
		"insert into the filter": {rules: tenantRules, change: Change{Event: EventInsert, Keys: keys, NewImage: img("acme", "1")},
			want: []Write{{Op: OpPut, Key: key("acme#1"), Item: out("acme", "1")}}},
		"insert out of the filter": {rules: tenantRules, change: Change{Event: EventInsert, Keys: keys, NewImage: img("globex", "1")}},
		"modify stays in": {rules: tenantRules,
			change: Change{Event: EventModify, Keys: keys, OldImage: img("acme", "1"), NewImage: img("acme", "1")},
			want:   []Write{{Op: OpPut, Key: key("acme#1"), Item: out("acme", "1")}}},
		"modify leaves the filter: delete": {rules: tenantRules,
			change: Change{Event: EventModify, Keys: keys, OldImage: img("acme", "1"), NewImage: img("globex", "1")},
			want:   []Write{{Op: OpDelete, Key: key("acme#1")}}},
		"modify enters the filter: put": {rules: tenantRules,
			change: Change{Event: EventModify, Keys: keys, OldImage: img("globex", "1"), NewImage: img("acme", "1")},
			want:   []Write{{Op: OpPut, Key: key("acme#1"), Item: out("acme", "1")}}},
		"modify stays out": {rules: tenantRules,
			change: Change{Event: EventModify, Keys: keys, OldImage: img("globex", "1"), NewImage: img("globex", "2")}},
		"re-key: delete old, put new": {rules: tenantRules,
			change: Change{Event: EventModify, Keys: keys, OldImage: img("acme", "1"), NewImage: img("acme", "2")},
			want:   []Write{{Op: OpDelete, Key: key("acme#1")}, {Op: OpPut, Key: key("acme#2"), Item: out("acme", "2")}}},
		"re-keyed modify without old image": {rules: tenantRules,
			change: Change{Event: EventModify, Keys: keys, NewImage: img("acme", "2")}, wantErr: ErrNeedOldImage},
		"filter-only modify out without old image deletes by the new key": {rules: `rules: [{filter: 'item.tenant == "acme"'}]`,
			change: Change{Event: EventModify, Keys: keys, NewImage: img("globex", "1")},
			want:   []Write{{Op: OpDelete, Key: keys}}},
		"insert without new image": {rules: tenantRules, change: Change{Event: EventInsert, Keys: keys}, wantErr: ErrNeedOldImage},
		"remove in the filter": {rules: tenantRules, change: Change{Event: EventRemove, Keys: keys, OldImage: img("acme", "1")},
			want: []Write{{Op: OpDelete, Key: key("acme#1")}}},
		"remove out of the filter": {rules: tenantRules, change: Change{Event: EventRemove, Keys: keys, OldImage: img("globex", "1")}},
		"remove without old image, key from keys": {rules: `rules: [{key: {pk: '"t#" + pk'}}]`,
			change: Change{Event: EventRemove, Keys: keys}, want: []Write{{Op: OpDelete, Key: key("t#order#1")}}},
		"remove without old image, key needs more": {rules: tenantRules,
			change: Change{Event: EventRemove, Keys: keys}, wantErr: ErrNeedOldImage},
		"remove without old image, filter and set: delete by the source key": {
			rules:  `rules: [{filter: 'item.tenant == "acme"'}, {set: {x: 'tenant + "y"'}}]`,
			change: Change{Event: EventRemove, Keys: keys}, want: []Write{{Op: OpDelete, Key: keys}}},
		"remove renamed key without old image": {rules: `rules: [{rename: {pk: id}}]`,
			change: Change{Event: EventRemove, Keys: keys}, want: []Write{{Op: OpDelete, Key: item{"id": s("order#1"), "sk": s("d")}}}},
		"ttl delete replicated": {rules: "ttl_deletes: replicate",
			change: Change{Event: EventRemove, Keys: keys, OldImage: img("acme", "1"), UserIdentity: ttlIdentity},
			want:   []Write{{Op: OpDelete, Key: keys}}},
		"ttl delete skipped": {rules: "ttl_deletes: skip",
			change: Change{Event: EventRemove, Keys: keys, OldImage: img("acme", "1"), UserIdentity: ttlIdentity}},
		"user delete with skip": {rules: "ttl_deletes: skip",
			change: Change{Event: EventRemove, Keys: keys, UserIdentity: &Identity{Type: "Service", PrincipalID: "other.amazonaws.com"}},
			want:   []Write{{Op: OpDelete, Key: keys}}},
		"key excluded without key rule": {rules: `rules: [{exclude: [sk]}]`,
			change: Change{Event: EventInsert, Keys: keys, NewImage: img("acme", "1")}},
		"unknown event": {rules: "", change: Change{Event: "TRUNCATE", Keys: keys}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rs := mustParse(t, tt.rules)
			got, err := rs.Writes(tt.change)
			switch {
			case tt.wantErr != nil:
				assert.ErrorIs(t, err, tt.wantErr)
			case name == "key excluded without key rule":
				assert.ErrorContains(t, err, `no target key attribute "sk"`)
			case name == "unknown event":
				assert.ErrorContains(t, err, `unknown eventName "TRUNCATE"`)
			default:
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
			}
		})
	}
}

func TestBatch_Check(t *testing.T) {
	a := item{"pk": s("order#1"), "sk": s("a")}
	b := item{"pk": s("order#1"), "sk": s("b")}
	put := func(pk string) Write { return Write{Op: OpPut, Key: item{"pk": s(pk)}} }
	del := func(pk string) Write { return Write{Op: OpDelete, Key: item{"pk": s(pk)}} }

	t.Run("one source, many writes", func(t *testing.T) {
		var batch Batch
		require.NoError(t, batch.Check(a, []Write{put("t1")}))
		require.NoError(t, batch.Check(a, []Write{del("t1"), put("t2")}))
	})
	t.Run("collision fails the later record, naming both keys", func(t *testing.T) {
		var batch Batch
		require.NoError(t, batch.Check(a, []Write{put("t1")}))
		err := batch.Check(b, []Write{put("t1")})
		require.ErrorIs(t, err, ErrCollision)
		assert.EqualError(t, err, `target key collision: source keys {"pk": S "order#1", "sk": S "a"} and `+
			`{"pk": S "order#1", "sk": S "b"} both map to target key {"pk": S "t1"} in one batch`)
		require.NoError(t, batch.Check(a, []Write{put("t1")}), "the failed record claimed nothing")
	})
	t.Run("a delete collides too", func(t *testing.T) {
		var batch Batch
		require.NoError(t, batch.Check(a, []Write{del("t1"), put("t2")}))
		require.ErrorIs(t, batch.Check(b, []Write{put("t1")}), ErrCollision)
		require.NoError(t, new(Batch).Check(b, []Write{put("t1")}), "alone in a batch (the retry) it passes")
	})
	t.Run("numbers and binaries", func(t *testing.T) {
		var batch Batch
		k1 := item{"n": n("1"), "b": &types.AttributeValueMemberB{Value: []byte{1}}}
		k2 := item{"n": n("1"), "b": &types.AttributeValueMemberB{Value: []byte{2}}}
		require.NoError(t, batch.Check(a, []Write{{Op: OpPut, Key: k1}}))
		require.NoError(t, batch.Check(b, []Write{{Op: OpPut, Key: k2}}))
		require.ErrorIs(t, batch.Check(b, []Write{{Op: OpPut, Key: k1}}), ErrCollision)
	})
}

// FuzzParse checks that no input makes Parse panic, and that a parsed
// rule set applies to an item without panicking.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*"))
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err == nil {
			f.Add(src)
		}
	}
	f.Add([]byte(`{"rules":[{"set":{"a.b.c":"[1, {'x': b'y'}]"}}]}`))
	f.Add([]byte("rules:\n  - rename: {a: a.b}\n  - include: [a.b.c]"))
	f.Fuzz(func(t *testing.T, src []byte) {
		rs, err := Parse("fuzz", src)
		if err != nil {
			return
		}
		_ = rs.Summary()
		_, _, _ = rs.Item(allTypes())
		_, _ = rs.Writes(Change{Event: EventModify, Keys: item{"pk": s("a")}, OldImage: allTypes(), NewImage: allTypes()})
	})
}

// BenchmarkRules_Item measures one item through a typical rule set
// (filter, exclude, rename, a computed attribute, a re-key) against the
// identity rule set.
func BenchmarkRules_Item(b *testing.B) {
	typical := `rules:
  - filter: has(item.tenant) && item.tenant == "acme"
  - exclude: [email, address.street]
  - rename: {status: state}
  - set: {total_cents: "total * 100"}
  - key: {pk: 'tenant + "#" + id'}`
	src := item{
		"pk": s("order#1001"), "sk": s("2026-11-27"), "tenant": s("acme"), "id": s("1001"),
		"status": s("NEW"), "email": s("a@example.com"), "total": n("123.45"),
		"address": m(item{"city": s("Lisbon"), "street": s("Rua 1")}),
		"tags":    &types.AttributeValueMemberSS{Value: []string{"gift", "rush"}},
	}
	for name, rules := range map[string]string{"identity": "", "typical": typical} {
		b.Run(name, func(b *testing.B) {
			rs := mustParse(b, rules)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := rs.Item(src); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestRuleSet_Target(t *testing.T) {
	srcKey := item{"pk": s("order#1"), "sk": s("d")}
	src := item{"pk": s("order#1"), "sk": s("d"), "tenant": s("acme"), "id": s("1"), "email": s("x@example.com")}
	tests := map[string]struct {
		rules     string
		src       item
		wantKey   item
		wantItem  item
		wantKeep  bool
		wantNames []string
		wantErr   string
	}{
		"identity": {src: src, wantKey: srcKey, wantItem: src, wantKeep: true, wantNames: []string{"pk", "sk"}},
		"re-key and exclude": {rules: "rules:\n  - key: {id2: 'tenant + \"#\" + id'}\n  - exclude: [email, pk, sk]",
			src: src, wantKey: item{"id2": s("acme#1")}, wantItem: item{"id2": s("acme#1"), "tenant": s("acme"), "id": s("1")},
			wantKeep: true, wantNames: []string{"id2"}},
		"rename a key attribute": {rules: "rules:\n  - rename: {sk: kind}", src: item{"pk": s("order#1"), "sk": s("d")},
			wantKey: item{"pk": s("order#1"), "kind": s("d")}, wantItem: item{"pk": s("order#1"), "kind": s("d")},
			wantKeep: true, wantNames: []string{"kind", "pk"}},
		"filtered out": {rules: "rules:\n  - filter: item.tenant == \"globex\"", src: src, wantNames: []string{"pk", "sk"}},
		"key attribute dropped": {rules: "rules:\n  - exclude: [sk]", src: src, wantNames: []string{"pk", "sk"},
			wantErr: `no target key attribute "sk"`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rs, err := Parse("rules.yaml", []byte(tt.rules))
			require.NoError(t, err)
			assert.Equal(t, tt.wantNames, rs.TargetKeyNames([]string{"pk", "sk"}))
			key, out, keep, err := rs.Target(tt.src, srcKey)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantKeep, keep)
			assert.Equal(t, tt.wantKey, key)
			assert.Equal(t, tt.wantItem, out)
		})
	}
}

// TestRuleSet_NumberKeysOneSpelling: a key rule may take a number key from
// a non-key attribute, which items spell freely ("5", "5.0", "50E-1");
// DynamoDB stores one number, so the target key must have one spelling, or
// two items for one target key would pass the collision check and land in
// one BatchWriteItem as "duplicate keys".
func TestRuleSet_NumberKeysOneSpelling(t *testing.T) {
	rs, err := Parse("rules.yaml", []byte("rules:\n  - key: {pk: amount}\n"))
	require.NoError(t, err)
	var keys []map[string]types.AttributeValue
	for i, spelling := range []string{"5", "5.0", "50E-1", "0.5e1", "+5.000"} {
		src := item{"id": s(string(rune('a' + i))), "amount": &types.AttributeValueMemberN{Value: spelling}}
		key, out, keep, err := rs.Target(src, item{"id": src["id"]})
		require.NoError(t, err, spelling)
		require.True(t, keep)
		assert.Equal(t, item{"pk": &types.AttributeValueMemberN{Value: "5"}}, key, spelling)
		assert.Equal(t, key["pk"], out["pk"], "the item carries the key it is written at")
		keys = append(keys, key)
	}
	var b Batch
	require.NoError(t, b.Check(item{"id": s("a")}, []Write{{Op: OpPut, Key: keys[0]}}))
	require.ErrorIs(t, b.Check(item{"id": s("b")}, []Write{{Op: OpPut, Key: keys[1]}}), ErrCollision)

	// A REMOVE without an old image computes the key from Keys alone.
	rs, err = Parse("rules.yaml", []byte("rules:\n  - key: {pk: 'id * 1'}\n"))
	require.NoError(t, err)
	w, err := rs.Writes(Change{Event: EventRemove, Keys: item{"id": &types.AttributeValueMemberN{Value: "7"}}})
	require.NoError(t, err)
	require.Len(t, w, 1)
	assert.Equal(t, item{"pk": &types.AttributeValueMemberN{Value: "7"}}, w[0].Key)
}
