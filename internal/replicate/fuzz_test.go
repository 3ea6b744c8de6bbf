package replicate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hasMultiField is checkOneType's reference: it walks raw (valid JSON)
// with encoding/json's tokenizer and reports whether an attribute value
// object, at the top level or inside an M or an L, has more than one field
// (duplicates counted).
func hasMultiField(raw []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var names, value, list func() bool // each returns true once it found one
	skipRest := func(depth int) {
		for depth > 0 {
			tok, err := dec.Token()
			if err != nil {
				return
			}
			switch tok {
			case json.Delim('{'), json.Delim('['):
				depth++
			case json.Delim('}'), json.Delim(']'):
				depth--
			}
		}
	}
	// open reads the next token and reports whether it opens want; any
	// other value is skipped.
	open := func(want json.Delim) bool {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if d, ok := tok.(json.Delim); ok {
			if d == want {
				return true
			}
			skipRest(1)
		}
		return false
	}
	names = func() bool {
		if !open('{') {
			return false
		}
		for dec.More() {
			if _, err := dec.Token(); err != nil { // the name
				return false
			}
			if value() {
				return true
			}
		}
		_, _ = dec.Token() // '}'
		return false
	}
	list = func() bool {
		if !open('[') {
			return false
		}
		for dec.More() {
			if value() {
				return true
			}
		}
		_, _ = dec.Token() // ']'
		return false
	}
	value = func() bool {
		if !open('{') {
			return false
		}
		fields := 0
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return false
			}
			fields++
			var found bool
			switch tok {
			case "M":
				found = names()
			case "L":
				found = list()
			default:
				if open('{') {
					skipRest(1)
				}
			}
			if found {
				return true
			}
		}
		_, _ = dec.Token() // '}'
		return fields > 1
	}
	return names()
}

// imageSeeds are the images of every record of the handler's fixtures and
// of the sample events.
func imageSeeds(tb testing.TB) [][]byte {
	tb.Helper()
	var seeds [][]byte
	for _, pattern := range []string{
		filepath.Join("..", "lambdahandler", "testdata", "*.json"),
		filepath.Join("..", "..", "events", "*.json"),
	} {
		files, err := filepath.Glob(pattern)
		require.NoError(tb, err)
		for _, name := range files {
			b, err := os.ReadFile(name)
			require.NoError(tb, err)
			var ev struct {
				Records []struct {
					Change map[string]json.RawMessage `json:"dynamodb"`
				}
			}
			if json.Unmarshal(b, &ev) != nil {
				continue // malformed.json: not an event
			}
			for _, r := range ev.Records {
				for _, field := range []string{"Keys", "NewImage", "OldImage"} {
					if img, ok := r.Change[field]; ok {
						seeds = append(seeds, img)
					}
				}
			}
		}
	}
	return seeds
}

// FuzzDecodeImage feeds arbitrary images to DecodeImage, seeded with every
// image of the handler's fixtures and of the sample events (and the
// crashers kept in testdata/fuzz/FuzzDecodeImage). Properties: it never
// panics; and an image it accepts, marshalled back to DynamoDB JSON and
// decoded again, gives the same attribute values.
//
//	go test -run '^$' -fuzz '^FuzzDecodeImage$' -fuzztime 20s ./internal/replicate/
func FuzzDecodeImage(f *testing.F) {
	for _, seed := range imageSeeds(f) {
		f.Add(seed)
	}
	for _, s := range []string{`{"a":{"S":"x","N":"1"}}`, `{"a":{"M":{"b":{"L":[{"NULL":true}]}}}}`, `{"a":{"B":"AA=="}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if json.Valid(raw) {
			assert.Equal(t, hasMultiField(raw), checkOneType(raw) != nil,
				"checkOneType agrees with a json.Decoder walk on %q", raw)
		}
		item, err := DecodeImage(raw)
		if err != nil {
			assert.ErrorIs(t, err, ErrBadAttribute)
			return
		}
		again, err := attributevalue.MarshalMapJSON(item)
		require.NoError(t, err)
		item2, err := DecodeImage(again)
		require.NoError(t, err, "re-marshalled image %s", again)
		assert.Equal(t, item, item2)
	})
}

func TestImageSeeds(t *testing.T) {
	assert.GreaterOrEqual(t, len(imageSeeds(t)), 20, "the fuzz corpus is seeded from the fixtures")
}
