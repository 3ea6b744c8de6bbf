package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/streampoll"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// Redrive defaults.
const (
	defaultVisibilityTimeout = 5 * time.Minute
	sqsWait                  = 2 * time.Second // long poll of each ReceiveMessage
	sqsMaxMessages           = 10              // most messages one ReceiveMessage returns
)

// ErrNotRedriven is returned when some failed batches are left.
var ErrNotRedriven = errors.New("failed batches left")

// RedriveCommand is `ddbsync redrive`: replay the batches that reached the
// on-failure destination.
type RedriveCommand struct {
	Stdout, Stderr io.Writer

	// awsConfig replaces the default credential chain (tests).
	awsConfig func(ctx context.Context, region string) (aws.Config, error)
	// queue replaces the SQS client (tests).
	queue sqsAPI
}

// sqsAPI is the part of *sqs.Client that redrive calls.
type sqsAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
}

var _ sqsAPI = (*sqs.Client)(nil)

// RedriveConfig is the configuration of `ddbsync redrive`, from its flags.
type RedriveConfig struct {
	Table, TargetTable             string
	Endpoint, Region, TargetRegion string
	FailureFile                    string
	QueueURL, SQSEndpoint          string
	MaxMessages                    int
	VisibilityTimeout              time.Duration
	InvokeURL                      string
	BatchSize                      int
	Concurrency, WriteAttempts     int
	DropExpired                    bool
}

func (c *RedriveConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Table, "table", "", "`NAME` of the source table, whose stream the batches come from (required)")
	fs.StringVar(&c.TargetTable, "target-table", "", "`NAME` of the target table (required)")
	fs.StringVar(&c.Endpoint, "endpoint-url", "", "`URL` of DynamoDB and DynamoDB Streams, e.g. DynamoDB Local's http://127.0.0.1:8000")
	fs.StringVar(&c.Region, "region", "", "AWS `REGION` (default: AWS_REGION or the profile's region)")
	fs.StringVar(&c.TargetRegion, "target-region", "", "`REGION` of the target table (default: --region)")
	fs.StringVar(&c.FailureFile, "failure-file", defaultFailureFile, "read the on-failure records from `FILE`, as ddbsync run writes it; the records\nredriven are removed from it")
	fs.StringVar(&c.QueueURL, "queue-url", "", "read the on-failure records from this SQS queue `URL` (the stack's FailureQueueUrl\noutput) instead of --failure-file; each message redriven is deleted")
	fs.StringVar(&c.SQSEndpoint, "sqs-endpoint-url", "", "`URL` of SQS (default: AWS, or AWS_ENDPOINT_URL_SQS)")
	fs.IntVar(&c.MaxMessages, "max-messages", 0, "with --queue-url, stop after this many messages (default: until the queue is empty)")
	fs.DurationVar(&c.VisibilityTimeout, "visibility-timeout", defaultVisibilityTimeout, "with --queue-url, how long a message being redriven stays hidden from other readers")
	fs.StringVar(&c.InvokeURL, "invoke-url", "", "send the batches to a function under the Lambda Runtime Interface Emulator at `URL`\ninstead of the replicator's handler in process")
	fs.IntVar(&c.BatchSize, "batch-size", tablesync.DefaultRedriveBatch, "most records per invocation")
	fs.IntVar(&c.Concurrency, "concurrency", replicate.DefaultConcurrency, "in process: BatchWriteItem calls in flight per batch")
	fs.IntVar(&c.WriteAttempts, "write-attempts", dynamo.DefaultMaxAttempts, "in process: tries of each write before its record fails")
	fs.BoolVar(&c.DropExpired, "drop-expired", false, "remove the records of batches whose stream records have expired, once reported\n(default: keep them)")
}

// Validate checks the configuration and returns every problem, each a
// *FlagError.
func (c RedriveConfig) Validate() error {
	var errs []error
	bad := func(flag, format string, args ...any) {
		errs = append(errs, &FlagError{Flag: flag, Err: fmt.Errorf(format, args...)})
	}
	if c.Table == "" {
		bad("table", "is required: the source table")
	}
	if c.TargetTable == "" {
		bad("target-table", "is required: the target table")
	}
	if c.QueueURL == "" && c.FailureFile == "" {
		bad("failure-file", "is required (or --queue-url)")
	}
	if c.MaxMessages < 0 {
		bad("max-messages", "%d must not be negative", c.MaxMessages)
	}
	if c.VisibilityTimeout < time.Second || c.VisibilityTimeout > 12*time.Hour {
		bad("visibility-timeout", "%s must be 1s to 12h", c.VisibilityTimeout)
	}
	if c.BatchSize < 1 || c.BatchSize > streampoll.MaxBatchSize {
		bad("batch-size", "%d must be 1 to %d", c.BatchSize, streampoll.MaxBatchSize)
	}
	if c.Concurrency < 1 || c.Concurrency > maxConcurrency {
		bad("concurrency", "%d must be 1 to %d", c.Concurrency, maxConcurrency)
	}
	if c.WriteAttempts < 1 || c.WriteAttempts > maxWriteAttempts {
		bad("write-attempts", "%d must be 1 to %d", c.WriteAttempts, maxWriteAttempts)
	}
	return errors.Join(errs...)
}

func redriveUsage(fs *flag.FlagSet) func(io.Writer) {
	return func(w io.Writer) {
		fmt.Fprint(w, `Usage: ddbsync redrive --table SOURCE --target-table TARGET [--failure-file FILE | --queue-url URL] [flags]

Replays the batches that exhausted their retries. Lambda (and ddbsync run)
sends only a batch's metadata to the on-failure destination: the shard and
the first and last sequence numbers (DDBStreamBatchInfo). For each record,
redrive reads that range back from the stream (GetShardIterator
AT_SEQUENCE_NUMBER) and sends it, in order and in Lambda's event shape, to
the replicator's handler (or with --invoke-url to the function under the
Runtime Interface Emulator). The records are old: their keys may have
changed since, so redrive then repairs each of the batch's keys from the
source, as ddbsync repair does. A record is deleted from the queue (or the
file) only when every record of its batch was applied.

Fix the cause first (the target's schema, permissions, a bug): a batch that
still fails is kept, and the failing sequence number is printed. Stream
records are kept 24 hours; when a batch's records have expired, their keys
are unknown and redrive says so: run ddbsync verify --repair, which finds
and fixes every difference. --drop-expired then removes those records.

Do not run it on the failure file of a ddbsync run that is still writing.

Exit status: 0 when every batch was redriven, 1 when some are left, 2 for
a wrong command line.

Examples:
  ddbsync redrive --table orders --target-table orders-copy --failure-file ddbsync-failures.jsonl
  ddbsync redrive --table orders --target-table orders-copy \
      --queue-url https://sqs.us-east-1.amazonaws.com/123456789012/orders-replicator-failures

Flags:
`)
		printFlags(w, fs)
	}
}

// failureMessage is one on-failure record from the file or the queue.
type failureMessage struct {
	body    []byte
	receipt string // SQS receipt handle; "" for the file
	line    int    // file line number (from 1); 0 for SQS
}

// Run parses args and redrives every failed batch.
func (c *RedriveCommand) Run(ctx context.Context, args []string) error {
	cfg := RedriveConfig{}
	fs := flag.NewFlagSet("redrive", flag.ContinueOnError)
	cfg.flags(fs)
	if err := parseFlags(fs, args, c.Stdout, redriveUsage(fs)); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return &usageError{err: err, hint: "ddbsync redrive --help"}
	}
	awsCfg, err := loadConfig(ctx, c.awsConfig, cfg.Region)
	if err != nil {
		return err
	}
	logger := (tableFlags{}).logger(c.Stderr)
	inv, _, err := (&RunCommand{}).invoker(RunConfig{
		TargetTable: cfg.TargetTable, Endpoint: cfg.Endpoint, TargetRegion: cfg.TargetRegion, InvokeURL: cfg.InvokeURL,
		Concurrency: cfg.Concurrency, WriteAttempts: cfg.WriteAttempts,
	}, awsCfg, logger)
	if err != nil {
		return err
	}
	r := &redriver{
		cfg: cfg, out: c.Stdout, streams: newStreams(awsCfg, cfg.Endpoint), inv: inv,
		repairer: tablesync.NewRepairer(newDynamoDB(awsCfg, cfg.Endpoint, ""), cfg.Table,
			newDynamoDB(awsCfg, cfg.Endpoint, cfg.TargetRegion), cfg.TargetTable, tablesync.RepairOptions{Logger: logger}),
	}
	if cfg.QueueURL != "" {
		q := c.queue
		if q == nil {
			q = sqs.NewFromConfig(awsCfg, func(o *sqs.Options) {
				if cfg.SQSEndpoint != "" {
					o.BaseEndpoint = aws.String(cfg.SQSEndpoint)
				}
			})
		}
		err = r.fromQueue(ctx, q)
	} else {
		err = r.fromFile(ctx)
	}
	fmt.Fprintf(c.Stdout, "redrive: %d batches redriven (%d records), %d still failing, %d expired, %d unreadable\n",
		r.done, r.records, r.failing, r.expired, r.unreadable)
	if err != nil {
		return err
	}
	if left := r.failing + r.unreadable + r.expiredKept; left > 0 {
		return fmt.Errorf("%w: %d kept for another redrive", ErrNotRedriven, left)
	}
	if r.expired > 0 {
		return fmt.Errorf("%w: %d batches expired; run: ddbsync verify --repair --table %s --target-table %s",
			ErrNotRedriven, r.expired, cfg.Table, cfg.TargetTable)
	}
	return nil
}

// redriver redrives failure records one by one and counts the outcomes.
type redriver struct {
	cfg      RedriveConfig
	out      io.Writer
	streams  tablesync.StreamReader
	inv      tablesync.Invoker
	repairer *tablesync.Repairer

	done, records, failing, expired, expiredKept, unreadable int
}

// redrive handles one failure record and reports whether it may be
// deleted. Only a failure to reach AWS is an error.
func (r *redriver) redrive(ctx context.Context, m failureMessage) (remove bool, err error) {
	where := "message"
	if m.receipt == "" {
		where = fmt.Sprintf("line %d", m.line)
	}
	var rec streampoll.FailureRecord
	if err := json.Unmarshal(m.body, &rec); err != nil || rec.DDBStreamBatchInfo.ShardID == "" {
		r.unreadable++
		fmt.Fprintf(r.out, "kept %s: not an on-failure record for DynamoDB Streams\n", where)
		return false, nil
	}
	b := rec.DDBStreamBatchInfo
	if !strings.Contains(b.StreamARN, ":table/"+r.cfg.Table+"/stream/") {
		r.unreadable++
		fmt.Fprintf(r.out, "kept %s: its stream %s is not table %s's\n", where, b.StreamARN, r.cfg.Table)
		return false, nil
	}
	batch := fmt.Sprintf("shard %s %s..%s", b.ShardID, b.StartSequenceNumber, b.EndSequenceNumber)
	res, err := tablesync.Redrive(ctx, r.streams, r.inv, b, tablesync.RedriveOptions{BatchSize: r.cfg.BatchSize, Repairer: r.repairer})
	switch {
	case err == nil:
		r.done++
		r.records += res.Records
		fmt.Fprintf(r.out, "redriven %s: %d records applied, %d keys (%d repaired from the source)\n", batch, res.Records, res.Keys, res.Repaired)
		return true, nil
	case errors.Is(err, tablesync.ErrExpired):
		r.expired++
		r.records += res.Records
		fmt.Fprintf(r.out, "expired %s: %d records replayed, the others are no longer in the stream; run ddbsync verify --repair\n", batch, res.Records)
		if !r.cfg.DropExpired {
			r.expiredKept++
		}
		return r.cfg.DropExpired, nil
	case errors.Is(err, tablesync.ErrStillFailing), errors.Is(err, tablesync.ErrBadFailureRecord):
		r.failing++
		fmt.Fprintf(r.out, "kept %s: %v\n", batch, err)
		return false, nil
	case ctx.Err() != nil:
		return false, context.Cause(ctx)
	}
	r.failing++
	fmt.Fprintf(r.out, "kept %s: %v\n", batch, err)
	return false, nil
}

// fromFile redrives the records of the failure file and rewrites it
// without those redriven (removing it when none is left).
func (r *redriver) fromFile(ctx context.Context) error {
	path := r.cfg.FailureFile
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(r.out, "redrive: no failure file %s: nothing to redrive\n", path)
		return nil
	}
	if err != nil {
		return fmt.Errorf("read failure file: %w", err)
	}
	var kept bytes.Buffer
	lines := bytes.SplitAfter(data, []byte("\n"))
	var runErr error
	for i, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		remove := false
		if runErr == nil {
			remove, runErr = r.redrive(ctx, failureMessage{body: line, line: i + 1})
		}
		if !remove {
			kept.Write(line)
			if !bytes.HasSuffix(line, []byte("\n")) {
				kept.WriteByte('\n')
			}
		}
	}
	// Keep what was appended meanwhile.
	if now, err := os.ReadFile(path); err == nil && len(now) > len(data) && bytes.HasPrefix(now, data) {
		kept.Write(now[len(data):])
	}
	if err := rewrite(path, kept.Bytes()); err != nil {
		return errors.Join(runErr, err)
	}
	return runErr
}

// rewrite replaces path with data atomically, or removes it if data is
// empty.
func rewrite(path string, data []byte) error {
	if len(data) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove failure file: %w", err)
		}
		return nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("rewrite failure file: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("rewrite failure file: %w", err)
	}
	return nil
}

// fromQueue redrives the queue's messages until it is empty (or
// MaxMessages were read), deleting each one redriven. A message kept
// becomes visible again after VisibilityTimeout, so one run never reads it
// twice.
func (r *redriver) fromQueue(ctx context.Context, q sqsAPI) error {
	read := 0
	for r.cfg.MaxMessages == 0 || read < r.cfg.MaxMessages {
		n := sqsMaxMessages
		if r.cfg.MaxMessages > 0 {
			n = min(n, r.cfg.MaxMessages-read)
		}
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:            aws.String(r.cfg.QueueURL),
			MaxNumberOfMessages: int32(n),
			WaitTimeSeconds:     int32(sqsWait / time.Second),
			VisibilityTimeout:   int32(r.cfg.VisibilityTimeout / time.Second),
		})
		if err != nil {
			return fmt.Errorf("receive message: %w", err)
		}
		if len(out.Messages) == 0 {
			return nil
		}
		for _, m := range out.Messages {
			read++
			remove, err := r.redrive(ctx, failureMessage{body: []byte(aws.ToString(m.Body)), receipt: aws.ToString(m.ReceiptHandle)})
			if err != nil {
				return err
			}
			if !remove {
				continue
			}
			if _, err := q.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(r.cfg.QueueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				return fmt.Errorf("delete message: %w", err)
			}
		}
	}
	return nil
}
