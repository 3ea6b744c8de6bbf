package queuetest

import (
	"errors"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/queue"
)

// Topic is one implementation of queue.SNSAPI under [RunSNSContract],
// with the ARN of a FIFO topic without content-based deduplication.
type Topic struct {
	// API is the implementation under test.
	API queue.SNSAPI
	// ARN names the topic.
	ARN string
}

// entry returns entry i of a call: a small message of group g.
func entry(i int, g string) snstypes.PublishBatchRequestEntry {
	return snstypes.PublishBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), Message: aws.String(`{"n":` + strconv.Itoa(i) + `}`),
		MessageGroupId: aws.String(g), MessageDeduplicationId: aws.String("d" + strconv.Itoa(i) + g)}
}

// RunSNSContract runs the PublishBatch cases the Publisher relies on, on a
// new Topic per case: every entry of a valid call is answered once, by its
// Id; a call of more than queue.MaxPublishBatch entries or with an Id
// twice is refused whole with SNS's error.
func RunSNSContract(t *testing.T, newTopic func(t *testing.T) Topic) {
	publish := func(t *testing.T, tp Topic, entries ...snstypes.PublishBatchRequestEntry) (*sns.PublishBatchOutput, error) {
		t.Helper()
		return tp.API.PublishBatch(t.Context(), &sns.PublishBatchInput{TopicArn: aws.String(tp.ARN), PublishBatchRequestEntries: entries})
	}
	t.Run("every entry is answered once, by its Id", func(t *testing.T) {
		tp := newTopic(t)
		var entries []snstypes.PublishBatchRequestEntry
		for i := range queue.MaxPublishBatch {
			entries = append(entries, entry(i, "g"+strconv.Itoa(i%3)))
		}
		out, err := publish(t, tp, entries...)
		require.NoError(t, err)
		assert.Empty(t, out.Failed)
		var ids []string
		for _, s := range out.Successful {
			ids = append(ids, aws.ToString(s.Id))
			assert.NotEmpty(t, aws.ToString(s.MessageId))
		}
		want := make([]string, len(entries))
		for i, e := range entries {
			want[i] = aws.ToString(e.Id)
		}
		assert.ElementsMatch(t, want, ids)
	})
	tests := map[string]struct {
		entries func() []snstypes.PublishBatchRequestEntry
		want    any // a pointer to the error type
	}{
		"a call of more than MaxPublishBatch entries": {entries: func() []snstypes.PublishBatchRequestEntry {
			var out []snstypes.PublishBatchRequestEntry
			for i := range queue.MaxPublishBatch + 1 {
				out = append(out, entry(i, "g"))
			}
			return out
		}, want: new(*snstypes.TooManyEntriesInBatchRequestException)},
		"a call with an Id twice": {entries: func() []snstypes.PublishBatchRequestEntry {
			a, b := entry(1, "g"), entry(2, "g")
			b.Id = a.Id
			return []snstypes.PublishBatchRequestEntry{a, b}
		}, want: new(*snstypes.BatchEntryIdsNotDistinctException)},
	}
	for name, tt := range tests {
		t.Run(name+" is refused whole", func(t *testing.T) {
			_, err := publish(t, newTopic(t), tt.entries()...)
			require.Error(t, err)
			assert.True(t, errors.As(err, tt.want), "got %T: %v", err, err)
		})
	}
}
