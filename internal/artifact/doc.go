// Package artifact builds the replicator's deployment artifact the way
// `sam build` does, and packs it into a deterministic zip.
//
// # Reproducibility
//
// The same commit, built with the same Go toolchain (go.mod pins it), gives
// a byte-identical bootstrap: the Makefile builds with -trimpath,
// -buildvcs=false and -ldflags "-s -w -buildid=", so no path, VCS stamp or
// build ID varies between machines or directories. The only input besides
// the source is the Makefile's VERSION, stamped into the binary with
// -X main.Version; the deploy pipeline sets it to the commit.
//
// [Zip] adds a single entry with a fixed time (1980-01-01 00:00, the zip
// epoch), fixed permissions (0755, what Lambda needs to execute bootstrap)
// and no extra fields, so the zip is byte-identical too, and so is
// [CodeSHA256], the value Lambda reports for the zip
// (https://docs.aws.amazon.com/lambda/latest/api/API_FunctionConfiguration.html).
//
// `sam deploy` zips the build directory with its own zipper (Python's
// zipfile and zlib), whose bytes differ from these; it is deterministic in
// the same way, but to compare a SAM-deployed function with a local build,
// compare the bootstrap inside the zip (package codestatus does).
//
// # Build
//
// [Build] runs `make build-ReplicatorFunction` with ARTIFACTS_DIR set to a
// temporary directory, exactly what `sam build` runs for BuildMethod:
// makefile (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/building-custom-runtimes.html),
// so the flags live in one place: the Makefile.
package artifact
