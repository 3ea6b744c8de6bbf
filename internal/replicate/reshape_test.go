package replicate_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/replicate/replicatetest"
	"github.com/ddbsync/ddbsync/internal/rules"
)

// ordersRules drops an attribute, renames one, filters by tenant and
// re-keys: the target's key is pk = tenant#id.
const ordersRules = `rules:
  - name: only-acme
    filter: has(item.tenant) && item.tenant == "acme"
  - exclude: [email]
  - rename: {status: state}
  - key: {pk: 'tenant + "#" + id'}
  - exclude: [sk]
`

// order is a source image of order n (key pk=order#n, sk=d).
func order(n int, tenant, id, status string) string {
	return fmt.Sprintf(`{"pk":{"S":"order#%d"},"sk":{"S":"d"},"tenant":{"S":%q},"id":{"S":%q},"status":{"S":%q},"email":{"S":"x@example.com"}}`,
		n, tenant, id, status)
}

// shaped is the target item ordersRules makes of order(n, "acme", id, status).
func shaped(id, status string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "acme#" + id}, "tenant": &types.AttributeValueMemberS{Value: "acme"},
		"id": &types.AttributeValueMemberS{Value: id}, "state": &types.AttributeValueMemberS{Value: status},
	}
}

// rec is a stream record of order n, decoded as the edges decode it.
type rec struct {
	seq, event string
	n          int
	newImg     string
	oldImg     string
	ttl        bool
}

func (r rec) change() replicate.Change {
	return replicate.DecodeRecord(&replicate.Record{
		Seq: r.seq, Event: r.event, Keys: []byte(fmt.Sprintf(`{"pk":{"S":"order#%d"},"sk":{"S":"d"}}`, r.n)),
		NewImage: []byte(r.newImg), OldImage: []byte(r.oldImg), TTL: r.ttl,
	})
}

func targetKey(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}}
}

func targetID(pk string) string {
	id, _ := replicate.KeyID(targetKey(pk))
	return id
}

func TestReplicator_Apply_Rules(t *testing.T) {
	big := "12345678901234567890123456789012345678" // 38 digits
	tests := map[string]struct {
		rules      string
		seed       map[string]map[string]types.AttributeValue // target pk -> item
		records    []rec
		want       map[string]map[string]types.AttributeValue // target pk -> item (all the target holds)
		wantFailed string
		wantErr    []string
		wantNotErr []string         // values the error (logged) must not carry
		wantRes    replicate.Result // counts compared
	}{
		"drop, rename and re-key": {
			rules:   ordersRules,
			records: []rec{{seq: "1", event: "INSERT", n: 1, newImg: order(1, "acme", "1", "new")}},
			want:    map[string]map[string]types.AttributeValue{"acme#1": shaped("1", "new")},
			wantRes: replicate.Result{Received: 1, Puts: 1},
		},
		"insert out of the filter: no write": {
			rules:   ordersRules,
			records: []rec{{seq: "1", event: "INSERT", n: 1, newImg: order(1, "globex", "1", "new")}},
			want:    map[string]map[string]types.AttributeValue{},
			wantRes: replicate.Result{Received: 1, Filtered: 1},
		},
		"modify leaving the filter deletes the target item": {
			rules: ordersRules,
			seed:  map[string]map[string]types.AttributeValue{"acme#1": shaped("1", "new")},
			records: []rec{{seq: "2", event: "MODIFY", n: 1,
				oldImg: order(1, "acme", "1", "new"), newImg: order(1, "globex", "1", "new")}},
			want:    map[string]map[string]types.AttributeValue{},
			wantRes: replicate.Result{Received: 1, Deletes: 1},
		},
		"modify entering the filter puts it": {
			rules: ordersRules,
			records: []rec{{seq: "2", event: "MODIFY", n: 1,
				oldImg: order(1, "globex", "1", "new"), newImg: order(1, "acme", "1", "paid")}},
			want:    map[string]map[string]types.AttributeValue{"acme#1": shaped("1", "paid")},
			wantRes: replicate.Result{Received: 1, Puts: 1},
		},
		"re-key deletes the old target item": {
			rules: ordersRules,
			seed:  map[string]map[string]types.AttributeValue{"acme#1": shaped("1", "new")},
			records: []rec{{seq: "2", event: "MODIFY", n: 1,
				oldImg: order(1, "acme", "1", "new"), newImg: order(1, "acme", "7", "new")}},
			want:    map[string]map[string]types.AttributeValue{"acme#7": shaped("7", "new")},
			wantRes: replicate.Result{Received: 1, Puts: 1, Deletes: 1},
		},
		"remove of a filtered item writes nothing": {
			rules:   ordersRules,
			seed:    map[string]map[string]types.AttributeValue{"acme#1": shaped("1", "new")},
			records: []rec{{seq: "3", event: "REMOVE", n: 1, oldImg: order(1, "globex", "1", "new")}},
			want:    map[string]map[string]types.AttributeValue{"acme#1": shaped("1", "new")},
			wantRes: replicate.Result{Received: 1, Filtered: 1},
		},
		"remove in the filter": {
			rules:   ordersRules,
			seed:    map[string]map[string]types.AttributeValue{"acme#1": shaped("1", "new")},
			records: []rec{{seq: "3", event: "REMOVE", n: 1, oldImg: order(1, "acme", "1", "new")}},
			want:    map[string]map[string]types.AttributeValue{},
			wantRes: replicate.Result{Received: 1, Deletes: 1},
		},
		"ttl delete skipped": {
			rules:   ordersRules + "ttl_deletes: skip\n",
			seed:    map[string]map[string]types.AttributeValue{"acme#1": shaped("1", "new")},
			records: []rec{{seq: "3", event: "REMOVE", n: 1, oldImg: order(1, "acme", "1", "new"), ttl: true}},
			want:    map[string]map[string]types.AttributeValue{"acme#1": shaped("1", "new")},
			wantRes: replicate.Result{Received: 1, TTLSkipped: 1},
		},
		"ttl delete replicated": {
			rules:   ordersRules + "ttl_deletes: replicate\n",
			seed:    map[string]map[string]types.AttributeValue{"acme#1": shaped("1", "new")},
			records: []rec{{seq: "3", event: "REMOVE", n: 1, oldImg: order(1, "acme", "1", "new"), ttl: true}},
			want:    map[string]map[string]types.AttributeValue{},
			wantRes: replicate.Result{Received: 1, Deletes: 1},
		},
		"user delete with ttl skip": {
			rules:   ordersRules + "ttl_deletes: skip\n",
			seed:    map[string]map[string]types.AttributeValue{"acme#1": shaped("1", "new")},
			records: []rec{{seq: "3", event: "REMOVE", n: 1, oldImg: order(1, "acme", "1", "new")}},
			want:    map[string]map[string]types.AttributeValue{},
			wantRes: replicate.Result{Received: 1, Deletes: 1},
		},
		"collision fails the later record, the earlier stands": {
			rules: ordersRules,
			records: []rec{
				{seq: "10", event: "INSERT", n: 1, newImg: order(1, "acme", "1", "first")},
				{seq: "11", event: "INSERT", n: 2, newImg: order(2, "acme", "1", "second")},
				{seq: "12", event: "INSERT", n: 3, newImg: order(3, "acme", "3", "third")},
			},
			want:       map[string]map[string]types.AttributeValue{"acme#1": shaped("1", "first"), "acme#3": shaped("3", "third")},
			wantFailed: "11",
			wantErr:    []string{"record 11: target key collision: record 10, of another source item, writes the same target key"},
			// The error reaches the "batch applied" log line: no key values.
			wantNotErr: []string{"order#1", "order#2", "acme#1"},
			wantRes:    replicate.Result{Received: 3, Puts: 2, FailedRecords: 1},
		},
		"an item moving onto a target key another item leaves fails until retried alone": {
			rules: ordersRules,
			seed:  map[string]map[string]types.AttributeValue{"acme#1": shaped("1", "a")},
			records: []rec{
				{seq: "10", event: "MODIFY", n: 1, oldImg: order(1, "acme", "1", "a"), newImg: order(1, "acme", "2", "a")},
				{seq: "11", event: "INSERT", n: 2, newImg: order(2, "acme", "1", "b")},
			},
			want:       map[string]map[string]types.AttributeValue{"acme#2": shaped("2", "a")},
			wantFailed: "11",
			wantErr:    []string{"record 11: target key collision"},
			wantRes:    replicate.Result{Received: 2, Puts: 1, Deletes: 1, FailedRecords: 1},
		},
		"a CEL error fails its record, and the later records of its item": {
			rules: `rules: [{filter: 'item.tenant == "acme"'}]`,
			records: []rec{
				{seq: "20", event: "INSERT", n: 1, newImg: `{"pk":{"S":"order#1"},"sk":{"S":"d"},"tenant":{"S":"acme"}}`},
				{seq: "21", event: "MODIFY", n: 1, newImg: `{"pk":{"S":"order#1"},"sk":{"S":"d"}}`},
				{seq: "22", event: "INSERT", n: 2, newImg: `{"pk":{"S":"order#2"},"sk":{"S":"d"},"tenant":{"S":"acme"}}`},
				{seq: "23", event: "MODIFY", n: 1, newImg: `{"pk":{"S":"order#1"},"sk":{"S":"d"},"tenant":{"S":"acme"},"v":{"N":"2"}}`},
			},
			want: map[string]map[string]types.AttributeValue{
				"order#1": {"pk": &types.AttributeValueMemberS{Value: "order#1"}, "sk": &types.AttributeValueMemberS{Value: "d"}, "tenant": &types.AttributeValueMemberS{Value: "acme"}},
				"order#2": {"pk": &types.AttributeValueMemberS{Value: "order#2"}, "sk": &types.AttributeValueMemberS{Value: "d"}, "tenant": &types.AttributeValueMemberS{Value: "acme"}},
			},
			wantFailed: "21",
			wantErr:    []string{"record 21: rules: "},
			wantRes:    replicate.Result{Received: 4, Puts: 2, FailedRecords: 2},
		},
		"a CEL error's message, which may carry the item's values, is not in the error": {
			rules: `rules: [{set: {n: 'decimal(code)', m: 'item.m[code]'}}]`,
			records: []rec{
				{seq: "40", event: "INSERT", n: 1, newImg: `{"pk":{"S":"order#1"},"sk":{"S":"d"},"code":{"S":"SECRETabc"},"m":{"M":{}}}`},
			},
			want:       map[string]map[string]types.AttributeValue{},
			wantFailed: "40",
			wantErr:    []string{"record 40: rules: ", `rule "rule 1" (line 1): set n: `},
			wantNotErr: []string{"SECRETabc"},
			wantRes:    replicate.Result{Received: 1, FailedRecords: 1},
		},
		"a key rule's error on a REMOVE without the old image carries no key value": {
			rules: `rules: [{key: {pk: 'decimal(pk)'}}]`,
			records: []rec{
				{seq: "41", event: "REMOVE", n: 1},
			},
			want:       map[string]map[string]types.AttributeValue{},
			wantFailed: "41",
			wantErr:    []string{"record 41: rules: ", "old image needed"},
			wantNotErr: []string{"order#1"},
			wantRes:    replicate.Result{Received: 1, FailedRecords: 1},
		},
		"re-keyed modify without the old image fails": {
			rules:      ordersRules,
			records:    []rec{{seq: "30", event: "MODIFY", n: 1, newImg: order(1, "acme", "1", "new")}},
			want:       map[string]map[string]types.AttributeValue{},
			wantFailed: "30",
			wantErr:    []string{"record 30: rules: ", "old image needed"},
			wantRes:    replicate.Result{Received: 1, FailedRecords: 1},
		},
		"later writes of a target key supersede earlier ones": {
			rules: ordersRules,
			records: []rec{
				{seq: "1", event: "INSERT", n: 1, newImg: order(1, "acme", "1", "a")},
				{seq: "2", event: "MODIFY", n: 1, oldImg: order(1, "acme", "1", "a"), newImg: order(1, "acme", "1", "b")},
				{seq: "3", event: "MODIFY", n: 1, oldImg: order(1, "acme", "1", "b"), newImg: order(1, "acme", "1", "c")},
			},
			want:    map[string]map[string]types.AttributeValue{"acme#1": shaped("1", "c")},
			wantRes: replicate.Result{Received: 3, Puts: 1, Collapsed: 2},
		},
		"38-digit numbers stay exact": {
			rules: `rules: [{set: {next: "total + 1", twice: "total * 2"}}]`,
			records: []rec{{seq: "1", event: "INSERT", n: 1,
				newImg: `{"pk":{"S":"order#1"},"sk":{"S":"d"},"total":{"N":"` + big + `"}}`}},
			want: map[string]map[string]types.AttributeValue{"order#1": {
				"pk": &types.AttributeValueMemberS{Value: "order#1"}, "sk": &types.AttributeValueMemberS{Value: "d"},
				"total": &types.AttributeValueMemberN{Value: big},
				"next":  &types.AttributeValueMemberN{Value: "12345678901234567890123456789012345679"},
				"twice": &types.AttributeValueMemberN{Value: "24691357802469135780246913578024691356"},
			}},
			wantRes: replicate.Result{Received: 1, Puts: 1},
		},
		"undecodable record fails at its own sequence number": {
			rules: ordersRules,
			records: []rec{
				{seq: "1", event: "INSERT", n: 1, newImg: order(1, "acme", "1", "a")},
				{seq: "2", event: "INSERT", n: 2, newImg: `{"pk":{"S":"order#2"},"sk":{"S":"d"},"bad":{"N":"x"}}`},
			},
			want:       map[string]map[string]types.AttributeValue{"acme#1": shaped("1", "a")},
			wantFailed: "2",
			wantErr:    []string{"decode NewImage of record 2"},
			wantRes:    replicate.Result{Received: 2, Puts: 1, FailedRecords: 1},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			rs, err := rules.Parse("test", []byte(tt.rules))
			require.NoError(t, err)
			w := replicatetest.NewMemWriter()
			for pk, item := range tt.seed {
				errs, _ := w.WriteBatch(t.Context(), []replicate.Write{{Op: replicate.OpPut, Key: targetKey(pk), KeyID: targetID(pk), Item: item}})
				require.Nil(t, errs)
			}
			changes := make([]replicate.Change, len(tt.records))
			for i, r := range tt.records {
				changes[i] = r.change()
			}
			rep := replicate.New(w, replicate.Options{Rules: rs})
			require.True(t, rep.Reshapes())
			res := rep.Apply(t.Context(), changes)

			assert.Equal(t, tt.wantFailed, res.FailedSeq)
			if tt.wantFailed != "" {
				require.Error(t, res.FirstError)
				for _, s := range tt.wantErr {
					assert.Contains(t, res.FirstError.Error(), s)
				}
				for _, s := range tt.wantNotErr {
					assert.NotContains(t, res.FirstError.Error(), s)
				}
			}
			got := res
			got.FailedSeq, got.FirstError, got.NewestCreated, got.FailedKeys = "", nil, tt.wantRes.NewestCreated, 0
			want := tt.wantRes
			want.Reshaped = true
			assert.Equal(t, want, got)

			items := map[string]map[string]types.AttributeValue{}
			for _, item := range w.Items() {
				items[item["pk"].(*types.AttributeValueMemberS).Value] = item
			}
			assert.Equal(t, tt.want, items)
		})
	}
}

// TestPlan_Failed_Rules checks that a plan made with a rule set reports
// failures by the index of the source record, whichever of its target
// writes failed.
func TestPlan_Failed_Rules(t *testing.T) {
	rs, err := rules.Parse("test", []byte(ordersRules))
	require.NoError(t, err)
	records := []rec{
		{seq: "1", event: "INSERT", n: 1, newImg: order(1, "acme", "1", "a")},                                     // put acme#1
		{seq: "2", event: "INSERT", n: 2, newImg: order(2, "globex", "2", "a")},                                   // filtered
		{seq: "3", event: "MODIFY", n: 3, oldImg: order(3, "acme", "3", "a"), newImg: order(3, "acme", "4", "a")}, // delete acme#3 (rejected), put acme#4
		{seq: "4", event: "INSERT", n: 5, newImg: order(5, "acme", "1", "a")},                                     // collision with record 1
		{seq: "5", event: "INSERT", n: 6, newImg: order(6, "acme", "6", "a")},                                     // put acme#6
	}
	changes := make([]replicate.Change, len(records))
	for i, r := range records {
		changes[i] = r.change()
	}
	w := replicatetest.NewMemWriter()
	w.Reject[targetID("acme#3")] = true
	rep := replicate.New(w, replicate.Options{Rules: rs})
	plan := rep.Plan(changes)
	res := rep.Write(t.Context(), plan)

	var failed []bool
	for i := range records {
		failed = append(failed, plan.Failed(i))
	}
	assert.Equal(t, []bool{false, false, true, true, false}, failed)
	assert.Equal(t, "3", res.FailedSeq)
	assert.Equal(t, 2, res.FailedRecords)
	assert.Equal(t, 1, res.Filtered)
	assert.Equal(t, 5, res.Received)
}

// TestReplicator_Apply_IdentityRules checks that the identity rule set
// keeps the plain path: a plan of the changes themselves, no reshaping.
func TestReplicator_Apply_IdentityRules(t *testing.T) {
	rs, err := rules.Parse("test", nil)
	require.NoError(t, err)
	rep := replicate.New(replicatetest.NewMemWriter(), replicate.Options{Rules: rs})
	assert.False(t, rep.Reshapes())
	res := rep.Apply(t.Context(), []replicate.Change{change("1", replicate.OpPut, "a", 1)})
	assert.Equal(t, replicate.Result{Received: 1, Puts: 1}, res)

	// With a writer that takes raw writes, the identity rule set forwards
	// the stream's image untouched, as no rule set does.
	image := []byte(`{"v":{"N":"1.50"},"pk":{"S":"a"}}`) // re-encoded, it would read {"pk":…,"v":…}
	c := replicate.DecodeRecord(&replicate.Record{Seq: "1", Event: "INSERT", Keys: []byte(`{"pk":{"S":"a"}}`), NewImage: image})
	for name, rs := range map[string]*rules.RuleSet{"no rule set": nil, "identity rule set": rs} {
		w := &rawRecorder{}
		res := replicate.New(w, replicate.Options{Rules: rs}).Apply(t.Context(), []replicate.Change{c})
		assert.Equal(t, replicate.Result{Received: 1, Puts: 1}, res, name)
		require.Len(t, w.writes, 1, name)
		assert.Equal(t, image, w.writes[0].RawItem, name)
		assert.Nil(t, w.writes[0].Item, "%s: not decoded", name)
	}
}

// rawRecorder is a replicate.RawWriter that keeps the writes it is given.
type rawRecorder struct{ writes []replicate.Write }

func (w *rawRecorder) Raw() bool { return true }

func (w *rawRecorder) WriteBatch(_ context.Context, writes []replicate.Write) ([]error, int) {
	w.writes = append(w.writes, writes...)
	return nil, 0
}

// TestReplicator_Apply_RulesLargeBatch checks a batch larger than the
// window reshaped at once: a collision between records far apart is still
// found, and every other record is applied.
func TestReplicator_Apply_RulesLargeBatch(t *testing.T) {
	rs, err := rules.Parse("test", []byte(ordersRules))
	require.NoError(t, err)
	const n = 2500
	changes := make([]replicate.Change, n)
	for i := range n {
		id := fmt.Sprint(i)
		if i == 2100 {
			id = "10" // record 10's target key
		}
		changes[i] = rec{seq: fmt.Sprint(1000 + i), event: "INSERT", n: i, newImg: order(i, "acme", id, "a")}.change()
	}
	w := replicatetest.NewMemWriter()
	res := replicate.New(w, replicate.Options{Rules: rs}).Apply(t.Context(), changes)
	assert.Equal(t, "3100", res.FailedSeq)
	assert.Equal(t, 1, res.FailedRecords)
	assert.Equal(t, n-1, res.Puts)
	assert.Len(t, w.Items(), n-1)
	assert.Equal(t, shaped("10", "a"), w.Get(targetKey("acme#10")))
}

// TestReplicator_Apply_RulesCollisionRetry checks what the retry of a
// collision does: the later record, retried from its sequence number
// without the earlier one, is applied, so its item overwrites the earlier
// item at the target key (the check reports a collision once; it does not
// prevent it), as docs/rules.md says.
func TestReplicator_Apply_RulesCollisionRetry(t *testing.T) {
	rs, err := rules.Parse("test", []byte(ordersRules))
	require.NoError(t, err)
	records := []rec{
		{seq: "10", event: "INSERT", n: 1, newImg: order(1, "acme", "1", "first")},
		{seq: "11", event: "INSERT", n: 2, newImg: order(2, "acme", "1", "second")}, // same target key acme#1
	}
	w := replicatetest.NewMemWriter()
	rep := replicate.New(w, replicate.Options{Rules: rs})
	batch := func(rs []rec) replicate.Result {
		changes := make([]replicate.Change, len(rs))
		for i, r := range rs {
			changes[i] = r.change()
		}
		return rep.Apply(t.Context(), changes)
	}
	res := batch(records)
	require.Equal(t, "11", res.FailedSeq)
	assert.Equal(t, shaped("1", "first"), w.Get(targetKey("acme#1")))

	// Lambda resumes from the failed record.
	res = batch(records[1:])
	assert.Empty(t, res.FailedSeq)
	assert.Equal(t, shaped("1", "second"), w.Get(targetKey("acme#1")))
}

// TestReplicator_Apply_RulesKeySwap checks that a delete the rules make
// removes the target item only if it still belongs to the record's source
// item: two users swapping emails (the key rule's attribute) both end at
// their new keys, in one batch with a collision retried or record by
// record, and a REMOVE or a filter leave whose old target key another item
// took keeps that item. dynamo and queue run the same cases on DynamoDB
// Local and behind the guard.
func TestReplicator_Apply_RulesKeySwap(t *testing.T) {
	newTarget := func(w *replicatetest.MemWriter) replicatetest.Target {
		return replicatetest.Target{Writer: w, Get: func(_ *testing.T, key replicatetest.Item) replicatetest.Item { return w.Get(key) }}
	}
	t.Run("plain", func(t *testing.T) {
		replicatetest.RunKeySwapContract(t, func(*testing.T) replicatetest.Target { return newTarget(replicatetest.NewMemWriter()) })
	})
	t.Run("guarded", func(t *testing.T) {
		replicatetest.RunKeySwapContract(t, func(*testing.T) replicatetest.Target { return newTarget(replicatetest.NewGuardedMemWriter()) })
	})
}
