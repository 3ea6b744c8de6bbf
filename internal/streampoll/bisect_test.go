package streampoll

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"github.com/ddbsync/ddbsync/internal/lambdainvoke"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// poison answers a function error for any batch holding seq, as a handler
// that cannot decode one record fails the whole invocation.
func poison(seq int) func(int, []int) ([]byte, error) {
	return func(_ int, seqs []int) ([]byte, error) {
		if slices.Contains(seqs, seq) {
			return nil, &lambdainvoke.FunctionError{Type: "errorString", Message: "cannot decode record"}
		}
		return []byte(`{"batchItemFailures":[]}`), nil
	}
}

func TestPoller_Run_BisectOnFunctionError(t *testing.T) {
	tests := map[string]struct {
		bisect      bool
		maxRetries  int
		respond     func(int, []int) ([]byte, error)
		wantBatches [][]int
		wantApplied []int
		wantFailed  [][2]int // first and last sequence number of each failure record
		wantInvokes []int    // approximateInvokeCount of each failure record
	}{
		"poison record alone goes to the failure file": {
			bisect:     true,
			maxRetries: 1,
			respond:    poison(6),
			wantBatches: [][]int{
				{1, 2, 3, 4, 5, 6, 7, 8}, // function error: split
				{1, 2, 3, 4},             // applied
				{5, 6, 7, 8},             // function error: split
				{5, 6},                   // function error: split
				{5},                      // applied
				{6}, {6},                 // one retry, then given up
				{7, 8}, // applied
			},
			wantApplied: []int{1, 2, 3, 4, 5, 7, 8},
			wantFailed:  [][2]int{{6, 6}},
			wantInvokes: []int{5},
		},
		"without bisection the whole batch fails": {
			maxRetries:  1,
			respond:     poison(6),
			wantBatches: [][]int{{1, 2, 3, 4, 5, 6, 7, 8}, {1, 2, 3, 4, 5, 6, 7, 8}},
			wantFailed:  [][2]int{{1, 8}},
			wantInvokes: []int{2},
		},
		"no retries: split down to the poison record": {
			bisect:      true,
			respond:     poison(1),
			wantBatches: [][]int{{1, 2, 3, 4, 5, 6, 7, 8}, {1, 2, 3, 4}, {1, 2}, {1}, {2}, {3, 4}, {5, 6, 7, 8}},
			wantApplied: []int{2, 3, 4, 5, 6, 7, 8},
			wantFailed:  [][2]int{{1, 1}},
			wantInvokes: []int{4},
		},
		"partial failures in a half keep working": {
			bisect:     true,
			maxRetries: 1,
			respond: func(_ int, seqs []int) ([]byte, error) {
				switch {
				case len(seqs) == 8:
					return nil, &lambdainvoke.FunctionError{Type: "Timeout", Message: "too slow"}
				case seqs[0] == 5:
					return failAt(7), nil // 5 and 6 applied
				case seqs[0] == 7:
					return failAt(8), nil // 7 applied, 8 fails
				}
				return nil, nil
			},
			wantBatches: [][]int{{1, 2, 3, 4, 5, 6, 7, 8}, {1, 2, 3, 4}, {5, 6, 7, 8}, {7, 8}},
			wantApplied: []int{1, 2, 3, 4, 5, 6, 7},
			wantFailed:  [][2]int{{8, 8}},
			wantInvokes: []int{3},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			stream := newFakeStream(&fakeShard{id: "s", seqs: []int{1, 2, 3, 4, 5, 6, 7, 8}})
			fn := &fakeFunction{respond: tt.respond}
			var failures bytes.Buffer
			opts := testOptions()
			opts.MaxRetries = tt.maxRetries
			opts.BisectOnFunctionError = tt.bisect
			opts.Failures = &failures
			p := New(stream.api(), fn, opts)
			runPoller(t, p)

			assert.Equal(t, tt.wantBatches, fn.got())
			var applied []int
			for _, b := range fn.got() {
				if resp, err := tt.respond(0, b); err == nil {
					at, _ := checkpoint(resp, recordsFor(b))
					if at < 0 {
						at = len(b)
					}
					applied = append(applied, b[:at]...)
				}
			}
			slices.Sort(applied)
			assert.Equal(t, tt.wantApplied, slices.Compact(applied))
			lines := readLines(t, failures.Bytes())
			require.Len(t, lines, len(tt.wantFailed))
			for i, line := range lines {
				var rec FailureRecord
				require.NoError(t, json.Unmarshal([]byte(line), &rec))
				info := rec.DDBStreamBatchInfo
				assert.Equal(t, seqString(tt.wantFailed[i][0]), info.StartSequenceNumber)
				assert.Equal(t, seqString(tt.wantFailed[i][1]), info.EndSequenceNumber)
				assert.Equal(t, tt.wantFailed[i][1]-tt.wantFailed[i][0]+1, info.BatchSize)
				assert.Equal(t, tt.wantInvokes[i], rec.RequestContext.ApproximateInvokeCount)
			}
			s := p.Stats()
			assert.Equal(t, int64(8), s.Records, "every record processed once")
			assert.Equal(t, int64(len(tt.wantFailed)), s.FailedBatches)
			assert.Equal(t, seqString(8), p.Positions()[0].SequenceNumber)
		})
	}
}

// recordsFor returns bare records with the sequence numbers seqs.
func recordsFor(seqs []int) []*record {
	recs := make([]*record, len(seqs))
	for i, s := range seqs {
		recs[i] = &record{seq: seqString(s)}
	}
	return recs
}
