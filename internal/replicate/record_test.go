package replicate_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"

	"github.com/ddbsync/ddbsync/internal/replicate"
)

func TestDecodeRecord(t *testing.T) {
	key := []byte(`{"pk":{"S":"a"}}`)
	image := []byte(`{"pk":{"S":"a"},"v":{"N":"1"}}`)
	created := time.Unix(1795000000, 0)
	tests := map[string]struct {
		rec     replicate.Record
		wantOp  replicate.Op
		wantRaw bool   // key kept raw (RawKey), not decoded (Key)
		wantErr string // exact Change.Err text
		kind    error
	}{
		"insert":    {rec: replicate.Record{Seq: "1", Event: "INSERT", Keys: key, NewImage: image}, wantOp: replicate.OpPut, wantRaw: true},
		"modify":    {rec: replicate.Record{Seq: "1", Event: "MODIFY", Keys: key, NewImage: image}, wantOp: replicate.OpPut, wantRaw: true},
		"remove":    {rec: replicate.Record{Seq: "1", Event: "REMOVE", Keys: key}, wantOp: replicate.OpDelete, wantRaw: true},
		"keys only": {rec: replicate.Record{Seq: "1", Event: "INSERT", Keys: key, KeysOnly: true}, wantOp: replicate.OpPut, wantRaw: true},
		"key outside the forwarded subset": {
			rec:    replicate.Record{Seq: "1", Event: "REMOVE", Keys: []byte(`{"pk":{"S":"a"},"pk":{"S":"a"}}`)},
			wantOp: replicate.OpDelete,
		},
		"no new image": {
			rec:    replicate.Record{Seq: "7", Event: "INSERT", Keys: key, ViewType: "KEYS_ONLY"},
			wantOp: replicate.OpPut, wantRaw: true, kind: replicate.ErrNoNewImage,
			wantErr: "record 7: record has no NewImage: INSERT needs the new image but the stream's view type is KEYS_ONLY; set the source table's StreamViewType to NEW_AND_OLD_IMAGES (or NEW_IMAGE)",
		},
		"null new image, view unknown": {
			rec:    replicate.Record{Seq: "7", Event: "MODIFY", Keys: key, NewImage: []byte("null")},
			wantOp: replicate.OpPut, wantRaw: true, kind: replicate.ErrNoNewImage,
			wantErr: "record 7: record has no NewImage: MODIFY needs the new image but the stream's view type is unknown; set the source table's StreamViewType to NEW_AND_OLD_IMAGES (or NEW_IMAGE)",
		},
		"unknown event": {
			rec:     replicate.Record{Seq: "7", Event: "UPSERT", Keys: key, NewImage: image},
			wantRaw: true, kind: replicate.ErrUnknownEvent,
			wantErr: `record 7: unknown eventName "UPSERT" (want INSERT, MODIFY or REMOVE)`,
		},
		"no keys": {
			rec:  replicate.Record{Seq: "7", Event: "REMOVE"},
			kind: replicate.ErrBadKeys,
		},
		"key of a map": {
			rec:     replicate.Record{Seq: "7", Event: "REMOVE", Keys: []byte(`{"pk":{"M":{}}}`)},
			kind:    replicate.ErrBadKeys,
			wantErr: "record 7: record has no usable Keys: key attributes must be S, N or B",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			tt.rec.Created = created
			c := replicate.DecodeRecord(&tt.rec)
			assert.Equal(t, tt.rec.Seq, c.Seq)
			assert.True(t, created.Equal(c.Created))
			if tt.kind != nil {
				assert.ErrorIs(t, c.Err, tt.kind)
				if tt.wantErr != "" {
					assert.EqualError(t, c.Err, tt.wantErr)
				}
				if tt.kind == replicate.ErrBadKeys {
					return
				}
			} else {
				assert.NoError(t, c.Err)
			}
			assert.Equal(t, tt.wantOp, c.Op)
			want, _ := replicate.KeyID(map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "a"}})
			assert.Equal(t, want, c.KeyID)
			if tt.wantRaw {
				assert.Equal(t, tt.rec.Keys, c.RawKey)
				assert.Nil(t, c.Key)
			} else {
				assert.Nil(t, c.RawKey)
				assert.NotNil(t, c.Key)
			}
			if c.Err == nil && c.Op == replicate.OpPut && !tt.rec.KeysOnly {
				assert.Equal(t, tt.rec.NewImage, c.NewImage)
			} else {
				assert.Nil(t, c.NewImage)
			}
		})
	}
}
