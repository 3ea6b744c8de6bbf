// Package exportload loads a DynamoDB point-in-time export
// (ExportTableToPointInTime, DYNAMODB_JSON format) from S3 into a target
// table, with the replicator's writer (dynamo.Table) and its retry rules.
//
// # The export format
//
// An export lives under <prefix>/AWSDynamoDB/<ExportId>/ in its bucket
// (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/S3DataExport.Output.html):
// manifest-summary.json (one JSON object: exportArn, exportTime, itemCount,
// manifestFilesS3Key, outputFormat, ...), manifest-files.json (JSON Lines,
// one object per data file: dataFileS3Key, itemCount, md5Checksum, etag)
// and data/*.json.gz, gzipped JSON Lines of {"Item":{...}} in DynamoDB JSON.
// md5Checksum is the base64 MD5 of the gzipped object, as S3's Content-MD5.
//
// # Verification
//
// A data file is written to the target only once it is known to be the one
// the manifest lists: [LoadFile] copies the object to a temporary file while
// hashing it and refuses it ([ErrChecksum]) when its MD5 differs, then
// decompresses it once to count its lines and refuses it ([ErrItemCount],
// [ErrCorrupt]) when the count differs or the gzip stream is broken. Only
// then are its items written, in order, in batches of
// replicate.MaxBatchWrites.
//
// # Progress and checkpoint
//
// Writes of one file are in flight [Config.Concurrency] batches at a time;
// the file's progress is the longest prefix of its lines whose batches are
// all written (the watermark). [Load] records, per data file, that
// watermark and whether the file is done in a checkpoint file written with
// internal/atomicfile (a reader or a crash sees the old content or the new
// one). A run that is interrupted (cancelled, or killed with SIGKILL)
// resumes from it: done files are skipped, started files restart at their
// watermark. After a cancellation every batch in flight is finished and
// the checkpoint saved, so no item is written twice; after a kill the
// items written since the last save (at most [Config.CheckpointEvery] of
// writing per file) are written again, which is harmless because they are
// puts of the same snapshot value (see docs/export-backfill.md: the stream
// is applied only after the load).
//
// # Rules
//
// With a rule set ([FileLoader].Rules; the worker's RULES or RULES_FILE,
// with SOURCE_KEYS) each exported item goes through
// rules.RuleSet.Target before it is written: an item a filter drops is
// counted (Filtered) and not written; an item the rules fail on is counted
// and listed with its file, line and key (FailedItems), and the load goes
// on; of two items of one batch mapped to one target key the first is
// written and the other counted as a collision (BatchWriteItem would
// refuse the call). All of them count in the file's watermark, so a
// resumed load does not see them again; [Load] then returns an error
// wrapping [ErrItemsFailed], and the worker a RulesError. Collisions
// across batches are not seen (the last writer wins): verify reports them.
// The checkpoint records the rule set's fingerprint: a resume with other
// rules, or none, is refused ([ErrCheckpointMismatch]).
// docs/rules-commands.md has the whole story.
//
// # Hand-over
//
// [HandOver] carries the export time T, the overlap, the position from
// which the stream must be applied (T minus the overlap) and the deadline
// after which those records leave the stream (24 hours of retention).
// [Load] refuses to start past [DefaultMaxExportAge] unless told
// otherwise. The protocol is in docs/export-backfill.md.
package exportload
