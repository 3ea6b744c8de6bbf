package queue_test

import (
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ddbsync/ddbsync/internal/queue"
	"github.com/ddbsync/ddbsync/internal/queue/queuetest"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/replicate/replicatetest"
)

// envelopes returns the envelopes of every entry sent to api, in call
// order.
func envelopes(api *queuetest.FakeSNS) []queue.Envelope {
	var out []queue.Envelope
	for _, m := range api.Messages() {
		env, err := queue.DecodeEnvelope([]byte(m))
		if err != nil {
			panic(err)
		}
		out = append(out, env)
	}
	return out
}

// record returns a stream record of item pk=key at seq: a put of n, or a
// delete when n < 0.
func record(key string, seq int, n int) queue.Record {
	keys := fmt.Sprintf(`{"pk":{"S":%q}}`, key)
	k, err := replicate.DecodeImage([]byte(keys))
	if err != nil {
		panic(err)
	}
	id, _ := replicate.KeyID(k)
	s := fmt.Sprintf("%021d", seq)
	c := replicate.Change{Seq: s, Key: k, KeyID: id, Op: replicate.OpDelete}
	env := queue.Envelope{Event: queue.EventRemove, Keys: json.RawMessage(keys), Seq: s, EventID: "ev" + s,
		StreamARN: "arn:aws:dynamodb:r:1:table/src/stream/x", TableARN: "arn:aws:dynamodb:r:1:table/src"}
	if n >= 0 {
		c.Op = replicate.OpPut
		c.NewImage = []byte(fmt.Sprintf(`{"pk":{"S":%q},"n":{"N":"%d"}}`, key, n))
		env.Event, env.NewImage = queue.EventModify, c.NewImage
	}
	return queue.Record{Change: c, Envelope: env}
}

// newMemGuard returns an in-memory replicate.Writer with the stale-write
// rule of dynamo.SeqGuard (replicatetest.NewGuardedMemWriter, held to
// dynamo.SeqGuard's behaviour by replicatetest.RunGuardContract).
func newMemGuard() *replicatetest.MemWriter { return replicatetest.NewGuardedMemWriter() }

// value returns the n attribute of key's item in w, "" if absent.
func value(w *replicatetest.MemWriter, key string) string {
	k, _ := replicate.DecodeImage([]byte(fmt.Sprintf(`{"pk":{"S":%q}}`, key)))
	item := w.Get(k)
	if item == nil {
		return ""
	}
	return item["n"].(*types.AttributeValueMemberN).Value
}
