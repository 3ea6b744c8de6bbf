package redrive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Queue defaults and limits.
const (
	// DefaultVisibilityTimeout is how long a message being redriven stays
	// hidden from other readers.
	DefaultVisibilityTimeout = 5 * time.Minute
	// DefaultWait is the long poll of each ReceiveMessage.
	DefaultWait = 2 * time.Second
	// maxReceive is the most messages one ReceiveMessage returns.
	maxReceive = 10
)

// SQSAPI is the part of *sqs.Client that [QueueSource] calls.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

var _ SQSAPI = (*sqs.Client)(nil)

// QueueOptions configures a [QueueSource]; zero fields take the defaults.
type QueueOptions struct {
	// MaxMessages stops the reading after this many messages; 0 reads
	// until a receive comes back empty.
	MaxMessages int
	// VisibilityTimeout is how long a message received stays hidden
	// (default DefaultVisibilityTimeout): one run never reads it twice.
	VisibilityTimeout time.Duration
	// Wait is the long poll of each receive (default DefaultWait).
	Wait time.Duration
}

// QueueSource reads the SQS queue of Lambda's on-failure destination. Done
// deletes a message. A kept message stays hidden until Close, which makes
// it visible again (ChangeMessageVisibility 0) for the next redrive.
type QueueSource struct {
	api  SQSAPI
	url  string
	opts QueueOptions
	buf  []sqstypes.Message
	read int
	kept []*string // receipt handles
	eof  bool
}

var _ Source = (*QueueSource)(nil)

// NewQueue returns a QueueSource reading the queue at url.
func NewQueue(api SQSAPI, url string, opts QueueOptions) *QueueSource {
	if opts.VisibilityTimeout <= 0 {
		opts.VisibilityTimeout = DefaultVisibilityTimeout
	}
	if opts.Wait <= 0 {
		opts.Wait = DefaultWait
	}
	return &QueueSource{api: api, url: url, opts: opts}
}

// Approximate returns SQS's ApproximateNumberOfMessages of the queue: the
// messages visible now.
func (q *QueueSource) Approximate(ctx context.Context) (int, error) {
	out, err := q.api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		return 0, fmt.Errorf("get queue attributes: %w", err)
	}
	n, err := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	if err != nil {
		return 0, fmt.Errorf("get queue attributes: ApproximateNumberOfMessages: %w", err)
	}
	return n, nil
}

// Next returns the next message, receiving up to ten at a time.
func (q *QueueSource) Next(ctx context.Context) (Message, error) {
	if q.opts.MaxMessages > 0 && q.read >= q.opts.MaxMessages {
		return Message{}, io.EOF
	}
	if len(q.buf) == 0 && !q.eof {
		n := maxReceive
		if q.opts.MaxMessages > 0 {
			n = min(n, q.opts.MaxMessages-q.read)
		}
		out, err := q.api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:            aws.String(q.url),
			MaxNumberOfMessages: int32(n),
			WaitTimeSeconds:     int32(q.opts.Wait / time.Second),
			VisibilityTimeout:   int32(q.opts.VisibilityTimeout / time.Second),
		})
		if err != nil {
			return Message{}, fmt.Errorf("receive message: %w", err)
		}
		q.buf, q.eof = out.Messages, len(out.Messages) == 0
	}
	if len(q.buf) == 0 {
		return Message{}, io.EOF
	}
	m := q.buf[0]
	q.buf = q.buf[1:]
	q.read++
	return Message{Body: []byte(aws.ToString(m.Body)), Where: "message " + aws.ToString(m.MessageId), receipt: m.ReceiptHandle}, nil
}

// Done deletes m from the queue.
func (q *QueueSource) Done(ctx context.Context, m Message) error {
	if _, err := q.api.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.url), ReceiptHandle: m.receipt}); err != nil {
		return fmt.Errorf("delete message: %w", err)
	}
	return nil
}

// Keep leaves m in the queue, hidden until Close.
func (q *QueueSource) Keep(_ context.Context, m Message) error {
	q.kept = append(q.kept, m.receipt)
	return nil
}

// Close makes the messages kept, and those received but not yet
// returned, visible again.
func (q *QueueSource) Close(ctx context.Context) error {
	receipts := q.kept
	for _, m := range q.buf {
		receipts = append(receipts, m.ReceiptHandle)
	}
	q.kept, q.buf = nil, nil
	var errs []error
	for _, r := range receipts {
		_, err := q.api.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(q.url), ReceiptHandle: r, VisibilityTimeout: 0})
		if err != nil {
			errs = append(errs, fmt.Errorf("release message: %w", err))
		}
	}
	return errors.Join(errs...)
}
