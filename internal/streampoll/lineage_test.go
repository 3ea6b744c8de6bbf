package streampoll

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestReadyShards(t *testing.T) {
	type sh struct {
		id, parent, start string
		status            shardStatus
	}
	tests := map[string]struct {
		shards []sh
		want   []string
	}{
		"parent first": {
			shards: []sh{{"child", "parent", "20", shardPending}, {"parent", "", "10", shardPending}},
			want:   []string{"parent"},
		},
		"child once the parent is drained": {
			shards: []sh{{"child", "parent", "20", shardPending}, {"parent", "", "10", shardDrained}},
			want:   []string{"child"},
		},
		"not while the parent is being read": {
			shards: []sh{{"child", "parent", "20", shardPending}, {"parent", "", "10", shardReading}},
			want:   nil,
		},
		"split: both children, oldest first": {
			shards: []sh{{"b", "root", "31", shardPending}, {"a", "root", "30", shardPending}, {"root", "", "1", shardDrained}},
			want:   []string{"a", "b"},
		},
		"grandchild waits for its own parent": {
			shards: []sh{{"root", "", "1", shardDrained}, {"a", "root", "30", shardPending}, {"a1", "a", "40", shardPending}},
			want:   []string{"a"},
		},
		"parent gone from the stream": {
			shards: []sh{{"orphan", "expired", "5", shardPending}},
			want:   []string{"orphan"},
		},
		"sequence numbers compared as numbers": {
			shards: []sh{{"x", "", "900", shardPending}, {"y", "", "1000", shardPending}},
			want:   []string{"x", "y"},
		},
		"ties by id": {
			shards: []sh{{"b", "", "", shardPending}, {"a", "", "", shardPending}},
			want:   []string{"a", "b"},
		},
		"nothing pending": {
			shards: []sh{{"a", "", "1", shardDrained}, {"b", "a", "2", shardReading}},
			want:   nil,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			shards := map[string]*shard{}
			for _, s := range tt.shards {
				shards[s.id] = &shard{id: s.id, parent: s.parent, startSeq: s.start, status: s.status}
			}
			var got []string
			for _, s := range readyShards(shards) {
				got = append(got, s.id)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestMarkAncestorsDrained(t *testing.T) {
	shards := map[string]*shard{
		"root":  {id: "root"},
		"a":     {id: "a", parent: "root"},
		"a1":    {id: "a1", parent: "a"},
		"b":     {id: "b", parent: "root"},
		"loopx": {id: "loopx", parent: "loopy"},
		"loopy": {id: "loopy", parent: "loopx"},
	}
	markAncestorsDrained(shards, "a1")
	markAncestorsDrained(shards, "loopx") // a malformed cycle must not hang
	got := map[string]shardStatus{}
	for id, s := range shards {
		got[id] = s.status
	}
	assert.Equal(t, map[string]shardStatus{
		"root": shardDrained, "a": shardDrained, "a1": shardPending, "b": shardPending,
		"loopx": shardPending, "loopy": shardDrained,
	}, got)
}
