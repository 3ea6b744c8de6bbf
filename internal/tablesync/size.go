package tablesync

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Capacity unit sizes
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/provisioned-capacity-mode.html).
const (
	writeUnitBytes = 1024
	readUnitBytes  = 4096
)

// itemSize estimates an item's size as DynamoDB counts it for capacity
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
// attribute names plus values, numbers about one byte per two significant
// digits, and three bytes of overhead (plus one per element) for M and L.
func itemSize(item Item) int {
	n := 0
	for name, v := range item {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return numberSize(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	case *types.AttributeValueMemberNS:
		n := 0
		for _, s := range v.Value {
			n += numberSize(s)
		}
		return n
	case *types.AttributeValueMemberBS:
		n := 0
		for _, b := range v.Value {
			n += len(b)
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += 1 + valueSize(e)
		}
		return n
	case *types.AttributeValueMemberM:
		n := 3
		for name, e := range v.Value {
			n += 1 + len(name) + valueSize(e)
		}
		return n
	}
	return 0
}

// numberSize is DynamoDB's size of a number: one byte per two significant
// digits, plus one.
func numberSize(s string) int {
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == 'e' || c == 'E' {
			break
		}
		if c >= '0' && c <= '9' {
			digits++
		}
	}
	return (digits+1)/2 + 1
}

// writeUnits is the write capacity a put of item consumes: one unit per
// started KB, at least one.
func writeUnits(item Item) float64 {
	return float64(max(1, (itemSize(item)+writeUnitBytes-1)/writeUnitBytes))
}

// readUnits is the read capacity of reading bytes, rounded up to 4 KB per
// item read (items) as GetItem and BatchGetItem count it; eventually
// consistent reads cost half.
func readUnits(sizes []int, consistent bool) float64 {
	units := 0
	for _, s := range sizes {
		units += max(1, (s+readUnitBytes-1)/readUnitBytes)
	}
	if consistent {
		return float64(units)
	}
	return float64(units) / 2
}

// scanReadUnits is the read capacity of a Scan page: its total size in
// 4 KB units.
func scanReadUnits(items []Item, consistent bool) float64 {
	bytes := 0
	for _, it := range items {
		bytes += itemSize(it)
	}
	units := float64(max(1, (bytes+readUnitBytes-1)/readUnitBytes))
	if consistent {
		return units
	}
	return units / 2
}
