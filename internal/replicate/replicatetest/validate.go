package replicatetest

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/ddbsync/ddbsync/internal/itemsize"
)

// Limits of DynamoDB's items
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html).
const (
	// maxItemBytes is the largest item: attribute names plus values.
	maxItemBytes = 400 << 10
	// maxNumberDigits is the precision of a number.
	maxNumberDigits = 38
)

// Number range of DynamoDB: non-zero magnitudes from 1E-130 up to, not
// including, 1E+126.
var (
	minMagnitude = mustRat("1E-130")
	maxMagnitude = mustRat("1E+126")
)

func mustRat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	return r
}

// ValidateItem returns the ValidationException DynamoDB answers a put of
// item with, or nil: for an empty set, a set with a member twice (numbers
// compared as numbers), a number of more than 38 significant digits or out
// of DynamoDB's range, an item of more than 400 KB, a missing key attribute
// or an empty string or binary key value. keys names the key attributes.
// The fakes of this package and dynamotest call it, and the contract suites
// check it against DynamoDB Local ([InvalidItems]).
func ValidateItem(item Item, keys ...string) error {
	for _, k := range keys {
		v, ok := item[k]
		if !ok {
			return invalid("One of the required keys was not given a value")
		}
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			if v.Value == "" {
				return invalid("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: %s", k)
			}
		case *types.AttributeValueMemberB:
			if len(v.Value) == 0 {
				return invalid("One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty binary value. Key: %s", k)
			}
		case *types.AttributeValueMemberN:
		default:
			return invalid("One or more parameter values were invalid: Type mismatch for key %s", k)
		}
	}
	for _, v := range item {
		if err := validateValue(v); err != nil {
			return err
		}
	}
	if itemsize.Of(item) > maxItemBytes {
		return invalid("Item size has exceeded the maximum allowed size")
	}
	return nil
}

func invalid(format string, args ...any) error {
	return &smithy.GenericAPIError{Code: "ValidationException", Message: fmt.Sprintf(format, args...)}
}

func validateValue(v types.AttributeValue) error {
	var members []string
	switch v := v.(type) {
	case *types.AttributeValueMemberN:
		return validateNumber(v.Value)
	case *types.AttributeValueMemberSS:
		members = v.Value
	case *types.AttributeValueMemberNS:
		for _, s := range v.Value {
			if err := validateNumber(s); err != nil {
				return err
			}
			members = append(members, mustRat(s).RatString())
		}
	case *types.AttributeValueMemberBS:
		for _, b := range v.Value {
			members = append(members, string(b))
		}
	case *types.AttributeValueMemberL:
		for _, e := range v.Value {
			if err := validateValue(e); err != nil {
				return err
			}
		}
		return nil
	case *types.AttributeValueMemberM:
		for _, e := range v.Value {
			if err := validateValue(e); err != nil {
				return err
			}
		}
		return nil
	default:
		return nil
	}
	if len(members) == 0 {
		return invalid("One or more parameter values were invalid: An number set  may not be empty")
	}
	seen := make(map[string]bool, len(members))
	for _, m := range members {
		if seen[m] {
			return invalid("One or more parameter values were invalid: Input collection contains duplicates")
		}
		seen[m] = true
	}
	return nil
}

// validateNumber refuses what DynamoDB refuses in an N value.
func validateNumber(s string) error {
	r, ok := new(big.Rat).SetString(s)
	if !ok || strings.ContainsAny(s, "/ ") {
		return invalid("A value provided cannot be converted into a number")
	}
	mantissa, _, _ := strings.Cut(strings.ToLower(strings.TrimLeft(s, "+-")), "e")
	digits := strings.Trim(strings.ReplaceAll(mantissa, ".", ""), "0")
	if len(digits) > maxNumberDigits {
		return invalid("Attempting to store more than 38 significant digits in a Number")
	}
	if abs := new(big.Rat).Abs(r); abs.Sign() != 0 && (abs.Cmp(maxMagnitude) >= 0 || abs.Cmp(minMagnitude) < 0) {
		return invalid("Number overflow. Attempting to store a number with magnitude larger than supported range")
	}
	return nil
}
