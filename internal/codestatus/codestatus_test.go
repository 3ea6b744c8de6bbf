package codestatus_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/artifact"
	"github.com/ddbsync/ddbsync/internal/codestatus"
	"github.com/ddbsync/ddbsync/internal/codestatus/codestatustest"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
)

const (
	stack    = "ddbsync-dev"
	fnName   = "ddbsync-dev-ReplicatorFunction-AbC123"
	commit   = "1111111111111111111111111111111111111111"
	other    = "2222222222222222222222222222222222222222"
	usEast1  = "us-east-1"
	euWest1  = "eu-west-1"
	logical  = "ReplicatorFunction"
	fnType   = "AWS::Lambda::Function"
	complete = "CREATE_COMPLETE"
)

// fakeBuild stands for `make build-ReplicatorFunction`: its bytes depend
// on the architecture and the VERSION, like the real build's.
func fakeBuild(goarch, version string) []byte {
	return []byte(fmt.Sprintf("bootstrap for linux/%s, version %s", goarch, version))
}

// samZip zips like `sam deploy` does: same content as artifact.Zip, other
// bytes (here a real modification time), so CodeSha256 differs.
func samZip(tb testing.TB, name string, data []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Date(2026, 11, 27, 1, 2, 3, 0, time.UTC)}
	h.SetMode(0o755)
	f, err := zw.CreateHeader(h)
	require.NoError(tb, err)
	_, err = f.Write(data)
	require.NoError(tb, err)
	require.NoError(tb, zw.Close())
	return buf.Bytes()
}

func ownZip(tb testing.TB, data []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	require.NoError(tb, artifact.Zip(&buf, artifact.Bootstrap, data))
	return buf.Bytes()
}

// stackWith is the resources of a deployed ddbsync stack.
func stackWith(fnStatus string) []codestatustest.Resource {
	return []codestatustest.Resource{
		{LogicalID: "FailureQueue", PhysicalID: "https://sqs.example/q", Type: "AWS::SQS::Queue", Status: complete},
		{LogicalID: "ReplicatorRole", PhysicalID: "role", Type: "AWS::IAM::Role", Status: complete},
		{LogicalID: logical, PhysicalID: fnName, Type: fnType, Status: fnStatus},
	}
}

func TestChecker_Check(t *testing.T) {
	tests := map[string]struct {
		setup         func(tb testing.TB, s *codestatustest.Server)
		function      string
		want          codestatus.Verdict
		wantDetail    string
		wantDownloads int
	}{
		"match, deployed by sam": {
			setup: func(tb testing.TB, s *codestatustest.Server) {
				s.AddStack(usEast1, stack, stackWith(complete)...)
				s.AddFunction(usEast1, fnName, codestatustest.Function{Architecture: "arm64",
					Env: map[string]string{codestatus.CommitVar: commit}, Zip: samZip(tb, "bootstrap", fakeBuild("arm64", commit))})
			},
			want: codestatus.Match, wantDownloads: 1,
		},
		"match, deployed from the deterministic zip: nothing downloaded": {
			setup: func(tb testing.TB, s *codestatustest.Server) {
				s.AddStack(usEast1, stack, stackWith(complete)...)
				s.AddFunction(usEast1, fnName, codestatustest.Function{Architecture: "arm64",
					Env: map[string]string{codestatus.CommitVar: commit}, Zip: ownZip(tb, fakeBuild("arm64", commit))})
			},
			want: codestatus.Match,
		},
		"commit read from the description": {
			setup: func(tb testing.TB, s *codestatustest.Server) {
				s.AddStack(usEast1, stack, stackWith(complete)...)
				s.AddFunction(usEast1, fnName, codestatustest.Function{Architecture: "arm64",
					Description: "ddbsync replicator, commit " + commit, Zip: samZip(tb, "bootstrap", fakeBuild("arm64", commit))})
			},
			want: codestatus.Match, wantDownloads: 1,
		},
		"x86_64 is compared with an amd64 build": {
			setup: func(tb testing.TB, s *codestatustest.Server) {
				s.AddStack(usEast1, stack, stackWith(complete)...)
				s.AddFunction(usEast1, fnName, codestatustest.Function{Architecture: "x86_64",
					Env: map[string]string{codestatus.CommitVar: commit}, Zip: samZip(tb, "bootstrap", fakeBuild("amd64", commit))})
			},
			want: codestatus.Match, wantDownloads: 1,
		},
		"different code": {
			setup: func(tb testing.TB, s *codestatustest.Server) {
				s.AddStack(usEast1, stack, stackWith(complete)...)
				s.AddFunction(usEast1, fnName, codestatustest.Function{Architecture: "arm64",
					Env: map[string]string{codestatus.CommitVar: commit}, Zip: samZip(tb, "bootstrap", []byte("edited in the console"))})
			},
			want: codestatus.DifferentCode, wantDetail: "the deployed bootstrap is not a Go binary", wantDownloads: 1,
		},
		"same code, other commit": {
			setup: func(tb testing.TB, s *codestatustest.Server) {
				s.AddStack(usEast1, stack, stackWith(complete)...)
				s.AddFunction(usEast1, fnName, codestatustest.Function{Architecture: "arm64",
					Env: map[string]string{codestatus.CommitVar: other}, Zip: samZip(tb, "bootstrap", fakeBuild("arm64", other))})
			},
			want: codestatus.DifferentCommit, wantDetail: "same code; deployed commit 222222222222, local 111111111111", wantDownloads: 1,
		},
		"deployed without a commit stamp (plain sam build and deploy)": {
			setup: func(tb testing.TB, s *codestatustest.Server) {
				s.AddStack(usEast1, stack, stackWith(complete)...)
				s.AddFunction(usEast1, fnName, codestatustest.Function{Architecture: "arm64",
					Env: map[string]string{codestatus.CommitVar: "unknown"}, Zip: samZip(tb, "bootstrap", fakeBuild("arm64", "dev"))})
			},
			want: codestatus.DifferentCommit, wantDetail: "same code; deployed commit unknown, local 111111111111", wantDownloads: 1,
		},
		"zip without bootstrap": {
			setup: func(tb testing.TB, s *codestatustest.Server) {
				s.AddStack(usEast1, stack, stackWith(complete)...)
				s.AddFunction(usEast1, fnName, codestatustest.Function{Architecture: "arm64",
					Env: map[string]string{codestatus.CommitVar: commit}, Zip: samZip(tb, "main", fakeBuild("arm64", commit))})
			},
			want: codestatus.DifferentCode, wantDetail: "the deployed zip has no bootstrap", wantDownloads: 1,
		},
		"no stack": {
			setup: func(tb testing.TB, s *codestatustest.Server) {},
			want:  codestatus.NotDeployed, wantDetail: "no stack ddbsync-dev",
		},
		"function deleted outside CloudFormation": {
			setup: func(tb testing.TB, s *codestatustest.Server) { s.AddStack(usEast1, stack, stackWith(complete)...) },
			want:  codestatus.NotDeployed, wantDetail: "function " + fnName + " not found",
		},
		"function resource deleted": {
			setup: func(tb testing.TB, s *codestatustest.Server) {
				s.AddStack(usEast1, stack, stackWith("DELETE_COMPLETE")...)
			},
			want: codestatus.NotDeployed, wantDetail: "resource status DELETE_COMPLETE",
		},
		"--function names no function of the stack": {
			setup:    func(tb testing.TB, s *codestatustest.Server) { s.AddStack(usEast1, stack, stackWith(complete)...) },
			function: "OtherFunction",
			want:     codestatus.NotDeployed, wantDetail: "stack ddbsync-dev has no function OtherFunction",
		},
		"access denied": {
			setup: func(tb testing.TB, s *codestatustest.Server) {
				s.AddStack(usEast1, stack, stackWith(complete)...)
				s.DenyGetFunction(usEast1)
			},
			want: codestatus.Failed, wantDetail: "AccessDeniedException",
		},
		"download does not match CodeSha256": {
			setup: func(tb testing.TB, s *codestatustest.Server) {
				s.AddStack(usEast1, stack, stackWith(complete)...)
				s.AddFunction(usEast1, fnName, codestatustest.Function{Architecture: "arm64",
					Env: map[string]string{codestatus.CommitVar: commit}, Zip: samZip(tb, "bootstrap", fakeBuild("arm64", commit))})
				s.CorruptDownload(fnName)
			},
			want: codestatus.Failed, wantDetail: "Lambda reports", wantDownloads: 1,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := codestatustest.Start(t)
			tt.setup(t, s)
			c := codestatus.New(codestatus.Options{Stack: stack, Function: tt.function, LocalCommit: commit, Build: buildFunc(nil)})
			results := c.Check(t.Context(), []codestatus.Region{region(t, s, usEast1)})
			require.Len(t, results, 1)
			got := results[0]
			assert.Equal(t, tt.want, got.Verdict, "detail: %s", got.Detail)
			assert.Contains(t, got.Detail, tt.wantDetail)
			assert.Equal(t, usEast1, got.Region)
			assert.Equal(t, tt.wantDownloads, s.Downloads())
			assert.Equal(t, tt.want != codestatus.Match, codestatus.Drifted(results))
		})
	}
}

// TestChecker_Regions checks one stack in three regions, builds locally
// once, and prints the report (golden file; refresh with -update).
func TestChecker_Regions(t *testing.T) {
	s := codestatustest.Start(t)
	s.AddStack(usEast1, stack, stackWith(complete)...)
	s.AddFunction(usEast1, fnName, codestatustest.Function{Architecture: "arm64",
		Env: map[string]string{codestatus.CommitVar: commit}, Zip: samZip(t, "bootstrap", fakeBuild("arm64", commit))})
	s.AddStack(euWest1, stack, stackWith(complete)...)
	s.AddFunction(euWest1, fnName, codestatustest.Function{Architecture: "arm64",
		Env: map[string]string{codestatus.CommitVar: commit}, Zip: samZip(t, "bootstrap", fakeBuild("arm64", other))})

	var builds []string
	c := codestatus.New(codestatus.Options{Stack: stack, LocalCommit: commit, Build: buildFunc(&builds)})
	results := c.Check(t.Context(), []codestatus.Region{region(t, s, usEast1), region(t, s, euWest1), region(t, s, "ap-southeast-2")})

	verdicts := make([]codestatus.Verdict, len(results))
	for i, r := range results {
		verdicts[i] = r.Verdict
	}
	assert.Equal(t, []codestatus.Verdict{codestatus.Match, codestatus.DifferentCode, codestatus.NotDeployed}, verdicts)
	assert.Equal(t, []string{"arm64/" + commit}, builds, "one local build serves every region")
	assert.True(t, codestatus.Drifted(results))

	var out bytes.Buffer
	require.NoError(t, codestatus.WriteReport(&out, stack, artifact.Source{Commit: commit}, results))
	testkit.Golden(t, "regions.golden.txt", out.Bytes())
}

func TestBuildVersion(t *testing.T) {
	assert.Equal(t, commit, codestatus.BuildVersion(commit))
	assert.Equal(t, artifact.DefaultVersion, codestatus.BuildVersion("unknown"))
	assert.Equal(t, artifact.DefaultVersion, codestatus.BuildVersion(""))
}

func buildFunc(calls *[]string) codestatus.BuildFunc {
	return func(_ context.Context, goarch, version string) ([]byte, error) {
		if calls != nil {
			*calls = append(*calls, goarch+"/"+version)
		}
		return fakeBuild(goarch, version), nil
	}
}

// region returns real SDK clients for name, pointed at the stand-in.
func region(tb testing.TB, s *codestatustest.Server, name string) codestatus.Region {
	tb.Helper()
	creds := credentials.NewStaticCredentialsProvider("AKIDSTANDIN", "secret", "")
	return codestatus.Region{
		Name: name,
		Stacks: cloudformation.New(cloudformation.Options{Region: name, BaseEndpoint: aws.String(s.URL),
			Credentials: creds, Retryer: aws.NopRetryer{}}),
		Functions: lambda.New(lambda.Options{Region: name, BaseEndpoint: aws.String(s.URL),
			Credentials: creds, Retryer: aws.NopRetryer{}}),
	}
}
