// Package codestatus tells whether the code a CloudFormation stack runs in
// Lambda is the code of the local working tree and commit: the check behind
// `ddbsync code-status`.
//
// # What is compared
//
// For each Lambda function of the stack (CloudFormation ListStackResources,
// type AWS::Lambda::Function), in each region, [Checker.Check] calls Lambda
// GetFunction and compares:
//
//   - the code: Configuration.CodeSha256 is the base64 SHA-256 of the
//     deployment zip (https://docs.aws.amazon.com/lambda/latest/api/API_FunctionConfiguration.html).
//     When it equals that of the local build zipped by [artifact.Zip], the
//     code is the same. A zip made by `sam deploy` has other bytes for the
//     same content, so otherwise the deployed zip is downloaded from
//     Code.Location (a presigned URL valid for 10 minutes), checked against
//     CodeSha256, and its bootstrap compared with the local one.
//   - the commit: the function's DDBSYNC_COMMIT environment variable (or
//     "commit X" in its description), set from the template's CommitSha
//     parameter, against the local HEAD.
//
// The local bootstrap is built for the function's architecture with the
// Makefile VERSION the deploy pipeline used: the deployed commit
// ([BuildVersion]). So identical code with another commit stamp is told
// apart from different code.
//
// # Verdicts
//
// [Match] (same code and commit), [DifferentCode], [DifferentCommit] (same
// code, another or no commit stamp), [NotDeployed] (no stack, no function
// in it, or the function is gone), and [Failed] when a call failed (access
// denied, throttled, a download that does not match CodeSha256). Anything
// but Match means the deployed code is not shown to be what is in git.
//
// GetFunction is called without a qualifier: it describes $LATEST, which is
// what the stack's event source mapping invokes.
package codestatus
