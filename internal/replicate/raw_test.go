package replicate

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawCases are images with the verdict of the raw scanner: "forward"
// (accepted as is), "typed" (DecodeImage accepts a spelling the forwarded
// subset leaves out) or "reject" (DecodeImage rejects it).
var rawCases = map[string]struct {
	image string
	want  string
}{
	"all ten types": {`{"s":{"S":"h\u00e9llo \"q\" 😀"},"n":{"N":"-12345678901234567890123456789012345678"},"small":{"N":"1E-130"},` +
		`"z":{"N":"-0"},"b":{"B":"AAEC/w=="},"t":{"BOOL":true},"f":{"BOOL":false},"nul":{"NULL":true},` +
		`"ss":{"SS":["a","\\\"","😀"]},"ns":{"NS":["1","1.0","2E+3"]},"bs":{"BS":["AA==","AQ=="]},` +
		`"m":{"M":{"x":{"L":[{"N":"1"},{"M":{}},{"L":[]}]}}}}`, "forward"},
	"white space":         {" {\n \"a\" : { \"S\" : \"x\" } }\n", "forward"},
	"escaped name":        {`{"\u0061":{"S":"x"},"b":{"S":"y"}}`, "forward"},
	"escaped slash in B":  {`{"a":{"B":"AA\/w"}}`, "forward"},
	"escaped B":           {`{"a":{"B":"A\/8="}}`, "forward"},
	"empty S and B":       {`{"a":{"S":""},"b":{"B":""}}`, "forward"},
	"many set members":    {`{"a":{"SS":["1","2","3","4","5","6","7","8","9","10","11"]}}`, "forward"},
	"many dup members":    {`{"a":{"SS":["1","2","3","4","5","6","7","8","9","10","1"]}}`, "reject"},
	"escaped dup member":  {`{"a":{"SS":["a","\u0061"]}}`, "reject"},
	"missing":             {``, "reject"},
	"null":                {`null`, "reject"},
	"empty":               {`{}`, "reject"},
	"no type":             {`{"a":{}}`, "reject"},
	"null value":          {`{"a":null}`, "reject"},
	"null type":           {`{"a":{"S":null}}`, "reject"},
	"unknown type":        {`{"a":{"X":"1"}}`, "reject"},
	"bad number":          {`{"a":{"N":"1e"}}`, "reject"},
	"number as JSON":      {`{"a":{"N":1}}`, "reject"},
	"NULL false":          {`{"a":{"NULL":false}}`, "reject"},
	"empty set":           {`{"a":{"SS":[]}}`, "reject"},
	"duplicate set":       {`{"a":{"NS":["1","1"]}}`, "reject"},
	"duplicate BS":        {`{"a":{"BS":["AA==","AA=="]}}`, "reject"},
	"two type fields":     {`{"a":{"S":"a","N":"1"}}`, "reject"},
	"type and null":       {`{"a":{"S":"a","N":null}}`, "reject"},
	"bad base64":          {`{"a":{"B":"!!"}}`, "reject"},
	"two values":          {`{"a":{"S":"x"}}{"b":{"S":"y"}}`, "reject"},
	"trailing comma":      {`{"a":{"S":"x"},}`, "reject"},
	"control character":   {"{\"a\":{\"S\":\"\x01\"}}", "reject"},
	"invalid UTF-8":       {"{\"a\":{\"S\":\"\xff\"}}", "typed"},
	"lone surrogate":      {`{"a":{"S":"\ud800"}}`, "typed"},
	"null set member":     {`{"a":{"SS":["x",null]}}`, "typed"},
	"base64 line break":   {`{"a":{"B":"AA\n=="}}`, "typed"},
	"base64 padding bits": {`{"a":{"B":"AB=="}}`, "typed"},
	"repeated name":       {`{"a":{"S":"x"},"a":{"S":"y"}}`, "typed"},
}

func TestCheckImage(t *testing.T) {
	for name, tt := range rawCases {
		t.Run(name, func(t *testing.T) {
			forward, err := CheckImage([]byte(tt.image))
			_, sdkErr := DecodeImage([]byte(tt.image))
			assert.Equal(t, sdkErr, err, "the error is always DecodeImage's")
			got := "typed"
			switch {
			case err != nil:
				got = "reject"
			case forward:
				got = "forward"
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestCheckImage_NoAllocations checks that scanning an image allocates
// nothing at all once the scanner's buffers have grown: nothing per
// attribute.
func TestCheckImage_NoAllocations(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"pk":{"S":"user#1"}`)
	for i := range 200 {
		b.WriteString(`,"a` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26)) +
			`":{"M":{"n":{"N":"12.5"},"l":{"L":[{"S":"q\"uote"},{"B":"AQ=="}]},"ss":{"SS":["1","2","3","4","5","6","7","8","9","10"]}}}`)
	}
	b.WriteString(`}`)
	raw := []byte(b.String())
	forward, err := CheckImage(raw)
	require.NoError(t, err)
	require.True(t, forward)
	// The scanner itself, reused as the pool reuses it (the race detector
	// makes sync.Pool drop entries at random, so the pool is left out).
	s := &rawScanner{}
	scan := func() bool {
		s.b, s.i, s.depth = raw, 0, 0
		s.arena, s.spans, s.keys = s.arena[:0], s.spans[:0], s.keys[:0]
		return s.image(false)
	}
	require.True(t, scan())
	allocs := testing.AllocsPerRun(50, func() { scan() })
	assert.Zero(t, allocs)
}

func TestRawKeyID(t *testing.T) {
	tests := map[string]struct {
		key    string
		wantOK bool
	}{
		"S":               {`{"pk":{"S":"a"}}`, true},
		"S and N":         {`{"sk":{"N":"1.50"},"pk":{"S":"a"}}`, true},
		"B":               {`{"pk":{"B":"AAEC/w=="}}`, true},
		"escaped S":       {`{"pk":{"S":"\u00e9\"\n😀"}}`, true},
		"escaped name":    {`{"p\u006b":{"S":"a"}}`, true},
		"NUL in value":    {`{"pk":{"S":"a\u0000sk"}}`, true},
		"not a key type":  {`{"pk":{"BOOL":true}}`, false},
		"M":               {`{"pk":{"M":{}}}`, false},
		"non-canonical B": {`{"pk":{"B":"AB=="}}`, false},
		"bad":             {`{"pk":{"S":1}}`, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			id, ok := RawKeyID([]byte(tt.key))
			require.Equal(t, tt.wantOK, ok)
			if !ok {
				return
			}
			key, err := DecodeImage([]byte(tt.key))
			require.NoError(t, err)
			want, ok := KeyID(key)
			require.True(t, ok)
			assert.Equal(t, want, id, "the same KeyID as the typed path")
		})
	}
}

// FuzzForward feeds arbitrary images to the raw scanner and compares it
// with the SDK-based decoder (DecodeImage). Properties:
//
//   - CheckImage rejects exactly what DecodeImage rejects, always;
//
//   - an image it forwards, DecodeImage accepts, and the SDK's own
//     re-encoding of the decoded item is the same JSON: forwarding the bytes
//     sends what the typed path would;
//
//   - an image DecodeImage accepts but the scanner leaves out (one of the
//     spellings listed in raw.go) decodes to an item whose re-encoding the
//     scanner forwards: the difference is in spelling only;
//
//   - RawKeyID, when it answers, gives DecodeImage's item's KeyID.
//
//     go test -run '^$' -fuzz '^FuzzForward$' -fuzztime 20s ./internal/replicate/
func FuzzForward(f *testing.F) {
	for _, seed := range imageSeeds(f) {
		f.Add(seed)
	}
	for _, tt := range rawCases {
		f.Add([]byte(tt.image))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		forward, err := CheckImage(raw)
		item, sdkErr := DecodeImage(raw)
		// Texts may differ: the SDK reports the first of several problems
		// in Go map order.
		require.Equal(t, sdkErr == nil, err == nil, "CheckImage %v, DecodeImage %v", err, sdkErr)
		if err != nil {
			require.ErrorIs(t, err, ErrBadAttribute)
		}
		if id, ok := RawKeyID(raw); ok {
			require.NoError(t, sdkErr)
			want, ok := KeyID(item)
			require.True(t, ok)
			assert.Equal(t, want, id)
		}
		if err != nil {
			return
		}
		again, mErr := attributevalue.MarshalMapJSON(item)
		require.NoError(t, mErr)
		if forward {
			assert.True(t, sameJSON(t, raw, again), "forwarded %q, the typed path sends %s", raw, again)
			return
		}
		ok, err := CheckImage(again)
		require.NoError(t, err)
		assert.True(t, ok, "typed-only spelling %q re-encodes to %s, which must be forwardable", raw, again)
	})
}

// sameJSON compares two JSON texts as values (sets and lists in order).
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	require.NoError(t, json.Unmarshal(a, &va))
	require.NoError(t, json.Unmarshal(b, &vb))
	return assert.ObjectsAreEqual(va, vb)
}
