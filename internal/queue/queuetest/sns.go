// Package queuetest provides the fake of package queue's SNS seam
// ([queue.SNSAPI]) that the tests of queue and lambdahandler share.
package queuetest

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/ddbsync/ddbsync/internal/queue"
)

var _ queue.SNSAPI = (*FakeSNS)(nil)

// FakeSNS is a func-field fake of queue.SNSAPI that records every call.
// Its zero value accepts every entry. Like SNS it refuses a call of more
// than queue.MaxPublishBatch entries or with an Id twice, as
// [RunSNSContract] checks against moto_server, and a call of no entry or
// whose messages exceed 256 KiB in all, which moto_server accepts
// (https://docs.aws.amazon.com/sns/latest/api/API_PublishBatch.html).
type FakeSNS struct {
	mu       sync.Mutex
	calls    [][]snstypes.PublishBatchRequestEntry
	accepted []string
	// Answer decides each entry's fate: nil accepts it. The returned
	// entry's Id is set to the request entry's.
	Answer func(call int, e snstypes.PublishBatchRequestEntry) *snstypes.BatchResultErrorEntry
	// CallErr, if set, fails whole calls (call counts from 0).
	CallErr func(call int) error
}

// RejectAll is an Answer that fails every entry with code, as a sender's
// fault (such as "AuthorizationError").
func RejectAll(code string) func(int, snstypes.PublishBatchRequestEntry) *snstypes.BatchResultErrorEntry {
	return func(int, snstypes.PublishBatchRequestEntry) *snstypes.BatchResultErrorEntry {
		return &snstypes.BatchResultErrorEntry{Code: aws.String(code), SenderFault: true}
	}
}

// PublishBatch implements queue.SNSAPI.
func (f *FakeSNS) PublishBatch(_ context.Context, in *sns.PublishBatchInput, _ ...func(*sns.Options)) (*sns.PublishBatchOutput, error) {
	f.mu.Lock()
	call := len(f.calls)
	f.calls = append(f.calls, in.PublishBatchRequestEntries)
	f.mu.Unlock()
	if f.CallErr != nil {
		if err := f.CallErr(call); err != nil {
			return nil, err
		}
	}
	if err := checkBatch(in.PublishBatchRequestEntries); err != nil {
		return nil, err
	}
	out := &sns.PublishBatchOutput{}
	for _, e := range in.PublishBatchRequestEntries {
		if f.Answer != nil {
			if fail := f.Answer(call, e); fail != nil {
				fail.Id = e.Id
				out.Failed = append(out.Failed, *fail)
				continue
			}
		}
		f.mu.Lock()
		f.accepted = append(f.accepted, aws.ToString(e.Message))
		f.mu.Unlock()
		out.Successful = append(out.Successful, snstypes.PublishBatchResultEntry{Id: e.Id, MessageId: aws.String("m")})
	}
	return out, nil
}

// Calls returns the entries of every call, failed calls included, in call
// order.
func (f *FakeSNS) Calls() [][]snstypes.PublishBatchRequestEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]snstypes.PublishBatchRequestEntry(nil), f.calls...)
}

// Messages returns the message of every entry of every call, in call
// order: what was sent, accepted or not.
func (f *FakeSNS) Messages() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, call := range f.calls {
		for _, e := range call {
			out = append(out, aws.ToString(e.Message))
		}
	}
	return out
}

// Accepted returns the messages of the accepted entries, in the order they
// were accepted.
func (f *FakeSNS) Accepted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.accepted...)
}

// maxBatchBytes is the most message bytes one PublishBatch call takes.
const maxBatchBytes = 256 << 10

// checkBatch refuses a call as SNS does.
func checkBatch(entries []snstypes.PublishBatchRequestEntry) error {
	switch {
	case len(entries) == 0:
		return &snstypes.EmptyBatchRequestException{Message: aws.String("The batch request doesn't contain any entries")}
	case len(entries) > queue.MaxPublishBatch:
		return &snstypes.TooManyEntriesInBatchRequestException{Message: aws.String("The batch request contains more entries than permissible")}
	}
	ids := map[string]bool{}
	size := 0
	for _, e := range entries {
		if ids[aws.ToString(e.Id)] {
			return &snstypes.BatchEntryIdsNotDistinctException{Message: aws.String("Two or more batch entries in the request have the same Id")}
		}
		ids[aws.ToString(e.Id)] = true
		size += len(aws.ToString(e.Message))
	}
	if size > maxBatchBytes {
		return &snstypes.BatchRequestTooLongException{Message: aws.String("The length of all the messages put together is more than the limit")}
	}
	return nil
}
