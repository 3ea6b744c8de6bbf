package replicate

import (
	"errors"
	"fmt"
)

// ErrInvalidSeq is returned by [ValidateSeq] for a sequence number that is not
// a non-empty string of decimal digits.
var ErrInvalidSeq = errors.New("invalid sequence number")

// ValidateSeq reports whether seq is a DynamoDB Streams sequence number: a
// non-empty string of decimal digits of any length.
func ValidateSeq(seq string) error {
	if seq == "" {
		return fmt.Errorf("%w: empty", ErrInvalidSeq)
	}
	for i := 0; i < len(seq); i++ {
		if seq[i] < '0' || seq[i] > '9' {
			return fmt.Errorf("%w: %q is not a decimal integer", ErrInvalidSeq, seq)
		}
	}
	return nil
}

// CompareSeq compares two valid sequence numbers as unbounded decimal
// integers and returns -1, 0 or +1. Sequence numbers vary in length (real
// ones have 21 to 40 digits), so they must never be compared as strings or
// parsed into fixed-size integers.
func CompareSeq(a, b string) int {
	a, b = trimZeros(a), trimZeros(b)
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func trimZeros(s string) string {
	for len(s) > 1 && s[0] == '0' {
		s = s[1:]
	}
	return s
}
