package main

import (
	"archive/zip"
	"bytes"
	"context"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/artifact"
	"github.com/ddbsync/ddbsync/internal/codestatus"
	"github.com/ddbsync/ddbsync/internal/codestatus/codestatustest"
)

// TestCodeStatusCommand_EndToEnd deploys this working tree's real build,
// zipped as `sam deploy` would (other zip bytes), to an in-process stand-in
// of CloudFormation and Lambda in us-east-1 only, and runs code-status
// through the real SDK clients, make and git.
func TestCodeStatusCommand_EndToEnd(t *testing.T) {
	t.Parallel() // long and mostly DynamoDB Local's work: overlaps the package's other long tests
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	src, err := artifact.HeadCommit(t.Context(), root)
	require.NoError(t, err)
	bootstrap, err := artifact.Build(t.Context(), artifact.BuildOptions{Dir: root, GOARCH: "arm64", Version: src.Commit})
	require.NoError(t, err)

	s := codestatustest.Start(t)
	const name = "ddbsync-prod-ReplicatorFunction-X1"
	s.AddStack("us-east-1", "ddbsync-prod",
		codestatustest.Resource{LogicalID: "ReplicatorFunction", PhysicalID: name, Type: "AWS::Lambda::Function", Status: "UPDATE_COMPLETE"})
	s.AddFunction("us-east-1", name, codestatustest.Function{
		Architecture: "arm64",
		Description:  "ddbsync replicator, commit " + src.Commit,
		Env:          map[string]string{codestatus.CommitVar: src.Commit, "TARGET_TABLE_NAME": "orders-replica"},
		Zip:          pythonLikeZip(t, bootstrap),
	})
	cmd := func(stdout, stderr *bytes.Buffer) *CodeStatusCommand {
		return &CodeStatusCommand{Stdout: stdout, Stderr: stderr, awsConfig: standInConfig(s.URL)}
	}

	var stdout, stderr bytes.Buffer
	err = cmd(&stdout, &stderr).Run(t.Context(), []string{"--stack", "ddbsync-prod", "--region", "us-east-1", "--dir", root})
	require.NoError(t, err, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	assert.Regexp(t, `us-east-1\s+ReplicatorFunction\s+MATCH\s+arm64`, stdout.String())
	assert.Contains(t, stderr.String(), "building linux/arm64 with VERSION="+src.Commit)

	stdout.Reset()
	stderr.Reset()
	err = cmd(&stdout, &stderr).Run(t.Context(), []string{"--stack", "ddbsync-prod", "--region", "us-east-1, eu-west-1", "--dir", root})
	require.ErrorIs(t, err, codestatus.ErrDrift)
	assert.Regexp(t, `eu-west-1\s+-\s+NOT DEPLOYED`, stdout.String())
	assert.Contains(t, stdout.String(), "1 of 2 differ")
	assert.Equal(t, 1, strings.Count(stderr.String(), "building"), "one local build for both regions")
}

func TestCodeStatusCommand_UsageErrors(t *testing.T) {
	tests := map[string]struct {
		args []string
		want string
	}{
		"no stack":       {args: []string{"--region", "us-east-1"}, want: "--stack: is required"},
		"empty regions":  {args: []string{"--stack", "s", "--region", " , "}, want: `--region: " , " names no region`},
		"extra argument": {args: []string{"--stack", "s", "prod"}, want: `unexpected argument "prod"`},
		"unknown flag":   {args: []string{"--stak", "s"}, want: "unknown flag: --stak (did you mean --stack?)"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := (&CodeStatusCommand{Stdout: &stdout, Stderr: &stderr}).Run(t.Context(), tt.args)
			var uerr *usageError
			require.ErrorAs(t, err, &uerr)
			assert.Contains(t, err.Error(), tt.want)
			assert.Equal(t, "ddbsync code-status --help", uerr.hint)
		})
	}
}

func TestCodeStatusCommand_HelpDocumentsEveryFlag(t *testing.T) {
	var stdout bytes.Buffer
	err := (&CodeStatusCommand{Stdout: &stdout}).Run(t.Context(), []string{"--help"})
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, f := range []string{"--stack NAME", "--region REGIONS", "--function LOGICAL_ID", "--dir"} {
		assert.Contains(t, stdout.String(), f)
	}
	for _, v := range []codestatus.Verdict{codestatus.Match, codestatus.DifferentCode, codestatus.DifferentCommit, codestatus.NotDeployed, codestatus.Failed} {
		assert.Contains(t, stdout.String(), string(v))
	}
}

// standInConfig returns AWS configuration aimed at the stand-in.
func standInConfig(url string) func(context.Context, string) (aws.Config, error) {
	return func(_ context.Context, region string) (aws.Config, error) {
		return aws.Config{
			Region:       region,
			BaseEndpoint: aws.String(url),
			Credentials:  credentials.NewStaticCredentialsProvider("AKIDSTANDIN", "secret", ""),
			Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
		}, nil
	}
}

// pythonLikeZip zips bootstrap with other bytes than artifact.Zip (here
// another time; SAM's zipper differs by its zlib deflate output), so the
// zip's CodeSha256 differs and code-status must compare the bootstraps.
func pythonLikeZip(tb testing.TB, bootstrap []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: artifact.Bootstrap, Method: zip.Deflate, ModifiedDate: 0x5b7b, ModifiedTime: 0x1234}
	h.SetMode(0o755)
	f, err := zw.CreateHeader(h)
	require.NoError(tb, err)
	_, err = f.Write(bootstrap)
	require.NoError(tb, err)
	require.NoError(tb, zw.Close())
	return buf.Bytes()
}
