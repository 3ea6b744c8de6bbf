// Package tablecmp compares DynamoDB items by meaning, not by spelling.
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
// This is the one model of "equal" in ddbsync: verify, repair, redrive,
// the demo and the tests all compare items with it, tables through
// tablesync.Verify (and its thin tablesync.Compare for quiet tables).
package tablecmp
