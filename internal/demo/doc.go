// Package demo generates a realistic, seeded random workload of writes to
// a DynamoDB table, for `ddbsync demo` and the end-to-end consistency
// tests.
//
// # Workload
//
// [Workload.Run] sends a fixed number of operations over a small keyspace,
// so keys repeat within stream batches: PutItem of whole items,
// UpdateItem (SET, ADD to numbers and sets, DELETE from sets, REMOVE,
// list_append), DeleteItem, conditional puts and BatchWriteItem calls of
// several distinct keys. Items carry all ten attribute types (S, N, B,
// BOOL, NULL, M, L, SS, NS, BS), with the numbers a float64 would change
// (38 significant digits, 1E-130, 9.99E+125, "1.50" spellings) and decimal
// arithmetic from ADD. The same seed gives the same operations; their
// order across concurrent writers is not fixed, so tests compare the
// target with the source, not with a precomputed state.
package demo
