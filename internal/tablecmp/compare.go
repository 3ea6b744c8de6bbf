package tablecmp

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Limits for [Compare].
const (
	// DefaultSegments is how many parallel Scan segments read each table.
	DefaultSegments = 4
	// MaxSegments bounds Options.Segments.
	MaxSegments = 16
	// DefaultMaxExamples is how many differences Compare describes.
	DefaultMaxExamples = 10
)

// API is the part of *dynamodb.Client that Compare calls.
type API interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Options configures [Compare]; zero fields take the defaults.
type Options struct {
	// Segments is the number of parallel Scan segments per table (default
	// DefaultSegments, at most MaxSegments).
	Segments int
	// MaxExamples bounds Result.Examples (default DefaultMaxExamples).
	MaxExamples int
	// IgnoreTarget names target attributes left out of the comparison, such
	// as the sequence attribute of the message-queue path (dynamo.SeqGuard).
	IgnoreTarget []string
}

// Kind says how an item differs.
type Kind string

// Kinds of [Difference].
const (
	// Missing is an item of the source that the target lacks.
	Missing Kind = "missing"
	// Extra is an item of the target that the source lacks.
	Extra Kind = "extra"
	// Different is an item in both tables whose attributes differ.
	Different Kind = "different"
)

// Difference describes one item that is not the same in both tables.
type Difference struct {
	// Kind says how the item differs.
	Kind Kind
	// Key is the item's primary key.
	Key map[string]types.AttributeValue
	// Attributes names the differing attributes (Different only).
	Attributes []string
}

// Result counts what [Compare] found.
type Result struct {
	// SourceItems and TargetItems count the items scanned in each table.
	SourceItems, TargetItems int
	// Missing counts source items absent from the target, Extra target
	// items absent from the source, Different items present in both with
	// different attributes.
	Missing, Extra, Different int
	// Examples describes the first Options.MaxExamples differences found
	// (which ones depends on scan order), sorted by kind and key.
	Examples []Difference
}

// Identical reports whether the tables hold the same items.
func (r Result) Identical() bool { return r.Missing == 0 && r.Extra == 0 && r.Different == 0 }

// String summarises the result in one line.
func (r Result) String() string {
	return fmt.Sprintf("source %d items, target %d items: %d missing, %d extra, %d different",
		r.SourceItems, r.TargetItems, r.Missing, r.Extra, r.Different)
}

// Compare scans both tables with strongly consistent reads and compares
// them item by item with [EqualItems]. Items are matched by the source
// table's primary key, read with DescribeTable; the target must use the
// same key attributes. The target's items are held in memory.
func Compare(ctx context.Context, source API, sourceTable string, target API, targetTable string, opts Options) (Result, error) {
	if opts.Segments <= 0 {
		opts.Segments = DefaultSegments
	}
	opts.Segments = min(opts.Segments, MaxSegments)
	if opts.MaxExamples <= 0 {
		opts.MaxExamples = DefaultMaxExamples
	}
	keyNames, err := keySchema(ctx, source, sourceTable)
	if err != nil {
		return Result{}, err
	}

	var res Result
	var mu sync.Mutex
	targetItems := map[string]map[string]types.AttributeValue{}
	err = scan(ctx, target, targetTable, opts.Segments, func(item map[string]types.AttributeValue) {
		id := keyID(item, keyNames)
		for _, name := range opts.IgnoreTarget {
			delete(item, name)
		}
		mu.Lock()
		defer mu.Unlock()
		targetItems[id] = item
		res.TargetItems++
	})
	if err != nil {
		return Result{}, err
	}

	var examples []Difference
	note := func(d Difference) { // called with mu held
		if len(examples) < opts.MaxExamples {
			examples = append(examples, d)
		}
	}
	err = scan(ctx, source, sourceTable, opts.Segments, func(item map[string]types.AttributeValue) {
		id := keyID(item, keyNames)
		mu.Lock()
		defer mu.Unlock()
		res.SourceItems++
		other, ok := targetItems[id]
		switch {
		case !ok:
			res.Missing++
			note(Difference{Kind: Missing, Key: project(item, keyNames)})
		case !EqualItems(item, other):
			res.Different++
			note(Difference{Kind: Different, Key: project(item, keyNames), Attributes: DiffItems(item, other)})
		}
		delete(targetItems, id)
	})
	if err != nil {
		return Result{}, err
	}
	for _, item := range targetItems {
		res.Extra++
		note(Difference{Kind: Extra, Key: project(item, keyNames)})
	}
	res.Examples = sortExamples(examples, keyNames)
	return res, nil
}

// keySchema returns the names of the table's key attributes.
func keySchema(ctx context.Context, api API, table string) ([]string, error) {
	out, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return nil, fmt.Errorf("describe table %s: %w", table, err)
	}
	var names []string
	for _, k := range out.Table.KeySchema {
		names = append(names, aws.ToString(k.AttributeName))
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("describe table %s: no key schema", table)
	}
	return names, nil
}

// scan reads every item of table in segments parallel Scans and passes each
// to fn, which must be safe for concurrent use.
func scan(ctx context.Context, api API, table string, segments int, fn func(map[string]types.AttributeValue)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, segments)
	var wg sync.WaitGroup
	for seg := range segments {
		wg.Go(func() {
			p := dynamodb.NewScanPaginator(api, &dynamodb.ScanInput{
				TableName:      aws.String(table),
				ConsistentRead: aws.Bool(true),
				Segment:        aws.Int32(int32(seg)),
				TotalSegments:  aws.Int32(int32(segments)),
			})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					errs[seg] = fmt.Errorf("scan %s segment %d: %w", table, seg, err)
					cancel()
					return
				}
				for _, item := range page.Items {
					fn(item)
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// keyID returns a string identifying the item's key: the key attributes'
// types and canonical values, in key schema order.
func keyID(item map[string]types.AttributeValue, keyNames []string) string {
	var b strings.Builder
	for _, name := range keyNames {
		switch v := item[name].(type) {
		case *types.AttributeValueMemberS:
			b.WriteString("S:" + v.Value)
		case *types.AttributeValueMemberN:
			b.WriteString("N:" + canonicalNumber(v.Value))
		case *types.AttributeValueMemberB:
			b.WriteString("B:" + base64.StdEncoding.EncodeToString(v.Value))
		default:
			b.WriteString("?")
		}
		b.WriteByte(0)
	}
	return b.String()
}

func project(item map[string]types.AttributeValue, keyNames []string) map[string]types.AttributeValue {
	key := make(map[string]types.AttributeValue, len(keyNames))
	for _, name := range keyNames {
		key[name] = item[name]
	}
	return key
}

// sortExamples sorts the differences by kind and key.
func sortExamples(diffs []Difference, keyNames []string) []Difference {
	sort.Slice(diffs, func(i, j int) bool {
		if diffs[i].Kind != diffs[j].Kind {
			return diffs[i].Kind < diffs[j].Kind
		}
		return keyID(diffs[i].Key, keyNames) < keyID(diffs[j].Key, keyNames)
	})
	return diffs
}
