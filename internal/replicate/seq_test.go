package replicate

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCompareSeq(t *testing.T) {
	tests := map[string]struct {
		a, b string
		want int
	}{
		"equal":                       {"100", "100", 0},
		"shorter is smaller":          {"999", "1000", -1},
		"longer is larger":            {"10000000000000000000000000000000000001", "99999999999999999999", 1},
		"same length lexical":         {"4421584500000000017450439091", "4421584500000000017450439092", -1},
		"leading zeros ignored":       {"000123", "123", 0},
		"zero":                        {"0", "000", 0},
		"beyond uint64":               {"18446744073709551616", "18446744073709551615", 1},
		"string order would be wrong": {"9", "10", -1},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, CompareSeq(tt.a, tt.b))
			assert.Equal(t, -tt.want, CompareSeq(tt.b, tt.a))
		})
	}
}

func TestValidateSeq(t *testing.T) {
	for _, ok := range []string{"1", "0001", "4421584500000000017450439091", "123456789012345678901234567890123456789012345"} {
		assert.NoError(t, ValidateSeq(ok), ok)
	}
	for _, bad := range []string{"", "12a", "-1", "1.5", " 1", "1e5"} {
		assert.ErrorIs(t, ValidateSeq(bad), ErrInvalidSeq, bad)
	}
}
