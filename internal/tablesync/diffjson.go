package tablesync

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"

	"github.com/ddbsync/ddbsync/internal/replicate"
)

// maxDiffLine bounds one JSON line of a difference: two 400 KB items in
// DynamoDB JSON, with room to spare.
const maxDiffLine = 4 << 20

// ErrBadDifference is returned for a line that is not a difference.
var ErrBadDifference = errors.New("malformed difference")

// diffJSON is the JSON line of a Difference.
type diffJSON struct {
	Kind       Kind            `json:"kind"`
	Key        json.RawMessage `json:"key"`
	Attributes []string        `json:"attributes,omitempty"`
	Source     json.RawMessage `json:"source,omitempty"`
	Target     json.RawMessage `json:"target,omitempty"`
	// With rules only.
	SourceKey      json.RawMessage `json:"source_key,omitempty"`
	TargetKey      json.RawMessage `json:"target_key,omitempty"`
	OtherSourceKey json.RawMessage `json:"other_source_key,omitempty"`
	Error          string          `json:"error,omitempty"`
}

// MarshalDifference returns d as one JSON object:
// {"kind":"different","key":{"pk":{"S":"a"}},"attributes":["n"]}, keys and
// values in DynamoDB JSON. The items' values are included ("source",
// "target") only when showValues is set. A difference found through rules
// also carries "source_key" and "target_key" ("key" is the target key),
// a collision "other_source_key", and a collision or a rules error
// "error".
func MarshalDifference(d Difference, showValues bool) ([]byte, error) {
	out := diffJSON{Kind: d.Kind, Attributes: d.Attributes, Error: d.Error}
	var err error
	if out.Key, err = attributevalue.MarshalMapJSON(d.Key); err != nil {
		return nil, fmt.Errorf("encode difference key: %w", err)
	}
	for _, k := range []struct {
		key Item
		to  *json.RawMessage
	}{{d.SourceKey, &out.SourceKey}, {d.TargetKey, &out.TargetKey}, {d.OtherSourceKey, &out.OtherSourceKey}} {
		if k.key == nil {
			continue
		}
		if *k.to, err = attributevalue.MarshalMapJSON(k.key); err != nil {
			return nil, fmt.Errorf("encode difference key: %w", err)
		}
	}
	if showValues {
		for _, v := range []struct {
			item Item
			to   *json.RawMessage
		}{{d.Source, &out.Source}, {d.Target, &out.Target}} {
			if v.item == nil {
				continue
			}
			if *v.to, err = attributevalue.MarshalMapJSON(v.item); err != nil {
				return nil, fmt.Errorf("encode difference item: %w", err)
			}
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encode difference: %w", err)
	}
	return b, nil
}

// UnmarshalDifference parses a line written by MarshalDifference. Only
// kind and key are required.
func UnmarshalDifference(line []byte) (Difference, error) {
	var in diffJSON
	if err := json.Unmarshal(line, &in); err != nil {
		return Difference{}, fmt.Errorf("%w: %w", ErrBadDifference, err)
	}
	switch in.Kind {
	case Missing, Extra, Different, Collision, RuleFailed:
	default:
		return Difference{}, fmt.Errorf("%w: kind %q", ErrBadDifference, in.Kind)
	}
	d := Difference{Kind: in.Kind, Attributes: in.Attributes, Error: in.Error}
	var err error
	if d.Key, err = decodeKey(in.Key); err != nil {
		return Difference{}, fmt.Errorf("%w: key: %w", ErrBadDifference, err)
	}
	if _, ok := replicate.KeyID(d.Key); !ok {
		return Difference{}, fmt.Errorf("%w: key must have attributes of type S, N or B", ErrBadDifference)
	}
	if d.Source, err = decodeKey(in.Source); err != nil {
		return Difference{}, fmt.Errorf("%w: source: %w", ErrBadDifference, err)
	}
	if d.Target, err = decodeKey(in.Target); err != nil {
		return Difference{}, fmt.Errorf("%w: target: %w", ErrBadDifference, err)
	}
	for _, k := range []struct {
		name string
		raw  json.RawMessage
		to   *Item
	}{{"source_key", in.SourceKey, &d.SourceKey}, {"target_key", in.TargetKey, &d.TargetKey}, {"other_source_key", in.OtherSourceKey, &d.OtherSourceKey}} {
		if *k.to, err = decodeKey(k.raw); err != nil {
			return Difference{}, fmt.Errorf("%w: %s: %w", ErrBadDifference, k.name, err)
		}
	}
	return d, nil
}

// ReadDifferences reads JSON lines of differences from r and sends each to
// fn; blank lines are skipped. It stops at the first error, naming the line.
func ReadDifferences(r io.Reader, fn func(Difference) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxDiffLine)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if len(trimSpace(line)) == 0 {
			continue
		}
		d, err := UnmarshalDifference(line)
		if err != nil {
			return fmt.Errorf("read differences line %d: %w", n, err)
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read differences: %w", err)
	}
	return nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// KeyJSON returns key as DynamoDB JSON, e.g. {"id":{"S":"A"}}, to name a
// key in output. Pass keys only, never whole items.
func KeyJSON(key Item) string {
	b, err := attributevalue.MarshalMapJSON(key)
	if err != nil {
		return fmt.Sprintf("(unprintable key: %v)", err)
	}
	return string(b)
}
