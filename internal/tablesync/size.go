package tablesync

import (
	"github.com/ddbsync/ddbsync/internal/itemsize"
)

// Capacity unit sizes
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/provisioned-capacity-mode.html).
const (
	writeUnitBytes = 1024
	readUnitBytes  = 4096
)

// writeUnits is the write capacity a put of item consumes: one unit per
// started KB, at least one.
func writeUnits(item Item) float64 {
	return float64(max(1, (itemsize.Of(item)+writeUnitBytes-1)/writeUnitBytes))
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
		bytes += itemsize.Of(it)
	}
	units := float64(max(1, (bytes+readUnitBytes-1)/readUnitBytes))
	if consistent {
		return units
	}
	return units / 2
}
