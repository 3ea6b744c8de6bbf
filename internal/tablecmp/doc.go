// Package tablecmp compares DynamoDB items and tables by meaning, not by
// spelling.
//
// # Equality
//
// Two attribute values are equal ([Equal]) when DynamoDB would store the
// same value:
//
//   - N compares as a decimal number (math/big): "1E+2", "100" and "100.0"
//     are equal. DynamoDB keeps up to 38 significant digits, so the stream
//     and a Scan may spell one number differently.
//   - SS, NS and BS compare as sets: order does not matter, members compare
//     as their type does (NS members as numbers).
//   - M compares key by key and L element by element, recursively.
//   - S, B, BOOL and NULL compare by value. Values of different types are
//     never equal.
//
// [EqualItems] and [DiffItems] apply this to whole items.
//
// # Tables
//
// [Compare] scans two tables and counts the items missing from the target,
// the extra items in the target and the items that differ. It reads the
// source table's key schema with DescribeTable and uses strongly consistent
// Scans in a bounded number of parallel segments. It holds the target's
// items in memory while it scans the source, so it suits test and demo
// tables, not tables larger than memory.
package tablecmp
