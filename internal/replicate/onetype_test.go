package replicate

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckOneType(t *testing.T) {
	tests := map[string]struct {
		image   string
		wantErr string // "" when the image must pass
	}{
		"one field each":               {`{"a":{"S":"x"},"b":{"N":"1"}}`, ""},
		"white space everywhere":       {" {\n\t\"a\" : { \"S\" : \"x\" } ,\r\n \"b\":{\"NULL\":true} } ", ""},
		"braces and quotes in strings": {`{"a":{"S":"}{\"S\":\"N\"}]["},"b\"{":{"SS":["{","}"]}}`, ""},
		"nested one field":             {`{"m":{"M":{"l":{"L":[{"S":"x"},{"M":{}},{"L":[]}]}}}}`, ""},
		"empty image":                  {`{}`, ""},
		"empty value":                  {`{"a":{}}`, ""}, // no type: reported by the SDK's checks
		"null value":                   {`{"a":null}`, ""},
		"not JSON":                     {`{"a":{"S":"x"`, ""}, // left to the SDK's decoder
		"two fields":                   {`{"a":{"S":"x","N":"1"}}`, `attribute "a": 2 type fields ("S", "N") in one value (want exactly one)`},
		"three fields":                 {`{"a":{"S":"x","N":"1","BOOL":true}}`, `attribute "a": 3 type fields ("S", "N", …) in one value`},
		"same field twice":             {`{"a":{"S":"x","S":"y"}}`, `attribute "a": 2 type fields ("S", "S")`},
		"null second field":            {`{"a":{"S":"x","N":null}}`, `attribute "a": 2 type fields ("S", "N")`},
		"second field is garbage":      {`{"a":{"S":"x","M":5}}`, `attribute "a": 2 type fields ("S", "M")`},
		"in a map":                     {`{"a":{"M":{"b":{"N":"1","S":"x"}}}}`, `attribute "a": ."b": 2 type fields ("N", "S")`},
		"in a list":                    {`{"a":{"L":[{"S":"x"},{"B":"AA==","BS":["AA=="]}]}}`, `attribute "a": [1]: 2 type fields ("B", "BS")`},
		"deep":                         {`{"a":{"L":[{"M":{"b":{"L":[{"NULL":true,"BOOL":false}]}}}]}}`, `attribute "a": [0]: ."b": [0]: 2 type fields ("NULL", "BOOL")`},
		"escaped M":                    {`{"a":{"\u004d":{"b":{"N":"1","S":"x"}}}}`, `attribute "a": ."b": 2 type fields ("N", "S")`},
		"escaped name":                 {`{"a\"b":{"N":"1","S":"x"}}`, `attribute "a\"b": 2 type fields`},
		"after a good attribute":       {`{"ok":{"S":"x"},"bad":{"N":"1","NS":["1"]}}`, `attribute "bad": 2 type fields ("N", "NS")`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := checkOneType([]byte(tt.image))
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)

			_, err = DecodeImage([]byte(tt.image))
			assert.ErrorIs(t, err, ErrBadAttribute)
			assert.Contains(t, err.Error(), tt.wantErr, "DecodeImage reports it, whatever the SDK picked")
		})
	}
}

func TestCheckOneType_NoAllocations(t *testing.T) {
	image := []byte(`{"pk":{"S":"user#1"},"sk":{"N":"7"},"m":{"M":{"l":{"L":[{"S":"x"},{"N":"1"},{"M":{"b":{"BOOL":true}}}]}}},"ss":{"SS":["a","b"]}}`)
	allocs := testing.AllocsPerRun(100, func() {
		if err := checkOneType(image); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

// TestDecodeImage_FirstInvalidInNameOrder checks that an image with several
// values that fail DecodeImage's own checks always reports the first in
// name order (nested maps too), whatever the map order.
func TestDecodeImage_FirstInvalidInNameOrder(t *testing.T) {
	image := []byte(`{"z":{"SS":[]},"c":{"N":"x"},"b":{"M":{"y":{"NULL":false},"d":{"NS":[]},"x":{"S":"ok"}}},"a":{"S":"ok"}}`)
	for range 50 {
		_, err := DecodeImage(image)
		require.Error(t, err)
		assert.EqualError(t, err, `malformed attribute value: attribute "b": ."d": empty set (DynamoDB sets must have at least one member)`)
	}
}
