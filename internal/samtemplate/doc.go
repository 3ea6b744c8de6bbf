// Package samtemplate holds the tests that keep the deployment files right
// by construction, since the SAM CLI cannot run here: template.yaml,
// samconfig.toml, the Makefile target SAM builds through, and the deploy
// pipelines (.github/workflows/deploy.yml, buildspec.yml). It has no code
// of its own; `go test ./internal/samtemplate` is the check.
//
// # What is checked
//
//   - cfn-lint (with the SAM translator) accepts template.yaml. Without
//     cfn-lint on PATH that one test is skipped, except under CI, where it
//     fails: pip install cfn-lint.
//   - The template, parsed with its short-form tags (!Ref, !GetAtt, !Sub,
//     !If) kept: the DynamoDB event's settings (ReportBatchItemFailures,
//     bisect, finite retries and record age, parameters with safe ranges,
//     the on-failure queue, encrypted and kept 14 days); IAM statements that
//     name the one stream, the one target table, the one queue and the one
//     log group, with exactly the actions the code calls; every parameter
//     used; the env vars spelled as cmd/replicator reads them; JSON logs;
//     the alarms, the dashboard's metrics (those internal/lambdahandler
//     emits) and the outputs.
//   - The Makefile target build-<LogicalId> exists for each function built
//     with BuildMethod makefile and builds what the handler and runtime need
//     (bootstrap, lambda.norpc, CGO off, linux) for each Architecture.
//   - samconfig.toml: its environments, and overrides that name template
//     parameters with values those accept.
//   - The pipelines: tests before deploy, OIDC only, CommitSha passed,
//     code-status after the deploy; their samconfig-reading script is run.
//
// The template is parsed with gopkg.in/yaml.v3's node API
// (go.yaml.in/yaml/v3), not goformation, which evaluates intrinsics to
// empty strings and silently drops a DynamoDB event that has
// FunctionResponseTypes.
package samtemplate
