package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/proc"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
)

// TestMain_Conventions checks the conventions of aws, gh and kubectl:
// --version, help COMMAND, suggestions, AWS flag names and values,
// DDBSYNC_* variables and shell completions.
func TestMain_Conventions(t *testing.T) {
	tests := map[string]struct {
		args       []string
		env        map[string]string
		wantCode   int
		wantStdout []string
		wantStderr []string
		golden     string
	}{
		"--version":                      {args: []string{"--version"}, wantStdout: []string{"ddbsync dev\n"}},
		"version json":                   {args: []string{"version", "--output", "json"}, wantStdout: []string{`{"version":"dev","go":"go`}},
		"help verify":                    {args: []string{"help", "verify"}, golden: "verify/help.golden"},
		"help run":                       {args: []string{"help", "run"}, golden: "run-help.golden"},
		"help status":                    {args: []string{"help", "status"}, golden: "status/help.golden"},
		"help local ddb":                 {args: []string{"help", "local", "ddb"}, golden: "local/help.golden"},
		"completion bash":                {args: []string{"completion", "bash"}, golden: "completion/bash.golden"},
		"completion zsh":                 {args: []string{"completion", "zsh"}, golden: "completion/zsh.golden"},
		"completion fish":                {args: []string{"completion", "fish"}, golden: "completion/fish.golden"},
		"mistyped command":               {args: []string{"verfy"}, wantCode: exitUsage, wantStderr: []string{`ddbsync verfy: unknown command "verfy"`, "Try: ddbsync verify --help (did you mean verify?)"}},
		"mistyped flag":                  {args: []string{"verify", "--target-tabel", "b"}, wantCode: exitUsage, wantStderr: []string{"unknown flag: --target-tabel (did you mean --target-table?)", "Try: ddbsync verify --help"}},
		"bad output":                     {args: []string{"status", "--stack", "s", "--output", "yaml"}, wantCode: exitUsage, wantStderr: []string{`--output: "yaml" must be text, json or jsonl`}},
		"table-name alias":               {args: []string{"verify", "--table-name", "a", "--target-table", "a"}, wantCode: exitUsage, wantStderr: []string{"--target-table: must differ from --table"}},
		"env var of a flag":              {args: []string{"verify", "--table", "a"}, env: map[string]string{"DDBSYNC_TARGET_TABLE": "a"}, wantCode: exitUsage, wantStderr: []string{"--target-table: must differ from --table"}},
		"bad env var":                    {args: []string{"verify", "--table", "a", "--target-table", "b"}, env: map[string]string{"DDBSYNC_SEGMENTS": "many"}, wantCode: exitUsage, wantStderr: []string{"DDBSYNC_SEGMENTS (for --segments):"}},
		"start LATEST":                   {args: []string{"run", "--table", "a", "--start", "LATEST", "--resume", "s=1"}, wantCode: exitUsage, wantStderr: []string{"--resume: cannot be used with --start latest"}},
		"start TRIM_HORIZON":             {args: []string{"run", "--table", "a", "--start", "TRIM_HORIZON", "--batch-size", "0"}, wantCode: exitUsage, wantStderr: []string{"--batch-size: 0 must be"}, golden: ""},
		"at-timestamp needs a time":      {args: []string{"run", "--table", "a", "--target-table", "b", "--start", "AT_TIMESTAMP"}, wantCode: exitUsage, wantStderr: []string{"--start-timestamp: is required with --start at-timestamp"}},
		"a timestamp needs at-timestamp": {args: []string{"run", "--table", "a", "--target-table", "b", "--start", "latest", "--start-timestamp", "2026-12-02T16:55:00Z"}, wantCode: exitUsage, wantStderr: []string{"--start-timestamp: needs --start at-timestamp, not latest"}},
		"a timestamp that is not one":    {args: []string{"run", "--table", "a", "--target-table", "b", "--start-timestamp", "yesterday"}, wantCode: exitUsage, wantStderr: []string{`"yesterday" is not an RFC 3339 time`}},
		"local without ddb":              {args: []string{"local"}, wantCode: exitUsage, wantStderr: []string{"which stand-in? ddbsync local ddb"}},
		"status needs stack":             {args: []string{"status"}, wantCode: exitUsage, wantStderr: []string{"--stack: is required"}},
		"help of a mistyped":             {args: []string{"help", "nosuch"}, wantStdout: []string{"Commands:"}},
		"exit status in help":            {args: []string{"help", "backfill"}, wantStdout: []string{"3    AWS, permission or configuration error", "130  interrupted"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, stdout, stderr := runMain(t, tt.args...)
			assert.Equal(t, tt.wantCode, code, stderr)
			for _, want := range tt.wantStdout {
				assert.Contains(t, stdout, want)
			}
			for _, want := range tt.wantStderr {
				assert.Contains(t, stderr, want)
			}
			if tt.golden != "" {
				testkit.Golden(t, tt.golden, []byte(stdout))
			}
			if name == "start TRIM_HORIZON" {
				assert.NotContains(t, stderr, "--start", "TRIM_HORIZON is trim-horizon")
			}
		})
	}
}

// TestMain_EveryCommandDocumentsExitStatus checks that every command's
// help has the same exit status section.
func TestMain_EveryCommandDocumentsExitStatus(t *testing.T) {
	for _, c := range commands {
		if c.name == "help" || c.name == "completion" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			code, stdout, _ := runMain(t, "help", c.name)
			assert.Equal(t, exitOK, code)
			if c.name != "local" {
				assert.Contains(t, stdout, strings.TrimSpace(exitStatusHelp("x")[strings.Index(exitStatusHelp("x"), "  2 "):]))
			}
		})
	}
}

// fakeDynamoDB answers every call with status and the JSON error of code.
func fakeDynamoDB(tb testing.TB, status int, code, message string) string {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-Errortype", code)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#` + code + `","message":"` + message + `"}`))
	}))
	tb.Cleanup(srv.Close)
	return srv.URL
}

// TestMain_ActionableErrors checks that the common AWS errors say what to
// do, exit 3, and keep SDK log lines off the terminal.
func TestMain_ActionableErrors(t *testing.T) {
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	denied := fakeDynamoDB(t, 400, "AccessDeniedException", "User: arn:aws:iam::123456789012:user/ops is not authorized to perform: dynamodb:DescribeTable on resource: arn:aws:dynamodb:us-east-1:123456789012:table/orders")
	throttled := fakeDynamoDB(t, 400, "ThrottlingException", "Rate of requests exceeds the allowed throughput.")
	empty := t.TempDir()
	tests := map[string]struct {
		args       []string
		noCreds    bool
		wantStderr []string
	}{
		"access denied": {args: []string{"verify", "--endpoint-url", denied, "--region", "us-east-1", "--table", "orders", "--target-table", "copy"},
			wantStderr: []string{"is not authorized to perform: dynamodb:DescribeTable on resource: arn:aws:dynamodb:us-east-1:123456789012:table/orders",
				"access denied: allow the action dynamodb:DescribeTable on the resource it names"}},
		"throttling": {args: []string{"verify", "--endpoint-url", throttled, "--region", "us-east-1", "--table", "orders", "--target-table", "copy"},
			wantStderr: []string{"throttled (ThrottlingException on dynamodb:DescribeTable) after the SDK's retries: lower --max-wcu, --max-rcu, --segments or --concurrency"}},
		"no credentials": {args: []string{"backfill", "--region", "us-east-1", "--table", "orders", "--target-table", "copy"}, noCreds: true,
			wantStderr: []string{"no AWS credentials: tried the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)", "the EC2 instance role (IMDS)", "aws configure"}},
		"no region": {args: []string{"verify", "--table", "orders", "--target-table", "copy"},
			wantStderr: []string{"no AWS region: pass --region, set AWS_REGION or DDBSYNC_REGION"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Setenv("AWS_CONFIG_FILE", filepath.Join(empty, "config"))
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(empty, "credentials"))
			t.Setenv("AWS_EC2_METADATA_DISABLED", "true") // never ask the instance metadata service
			t.Setenv("AWS_REGION", "")
			t.Setenv("AWS_DEFAULT_REGION", "")
			t.Setenv("AWS_PROFILE", "")
			if tt.noCreds {
				t.Setenv("AWS_ACCESS_KEY_ID", "")
				t.Setenv("AWS_SECRET_ACCESS_KEY", "")
			} else {
				t.Setenv("AWS_ACCESS_KEY_ID", "test")
				t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
			}
			code, stdout, stderr := runMain(t, tt.args...)
			assert.Equal(t, exitAWS, code, stderr)
			assert.Empty(t, stdout)
			for _, want := range tt.wantStderr {
				assert.Contains(t, stderr, want)
			}
			assert.NotContains(t, stderr, "SDK ", "no SDK log line")
			testkit.Golden(t, filepath.Join("errors", strings.ReplaceAll(name, " ", "-")+".golden"), []byte(scrub(stderr, denied, throttled)))
		})
	}
}

// TestMain_MissingTable checks that a missing table names the table, the
// region, the endpoint and the account, and exits 3.
func TestMain_MissingTable(t *testing.T) {
	s := testkit.DDB(t)
	keyID := testkit.NewAccessKeyID(t)
	t.Setenv("AWS_ACCESS_KEY_ID", keyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", ddblocal.SecretAccessKey)
	for _, cmd := range []string{"run", "verify", "backfill"} {
		t.Run(cmd, func(t *testing.T) {
			code, _, stderr := runMain(t, cmd, "--endpoint-url", s.Endpoint, "--region", ddblocal.Region, "--table", "nope", "--target-table", "copy", "--quiet")
			assert.Equal(t, exitAWS, code, stderr)
			assert.Contains(t, stderr, "source table nope in region us-east-1 at endpoint "+s.Endpoint+" does not exist (account unknown (endpoint URL "+s.Endpoint+"))")
			testkit.Golden(t, filepath.Join("errors", "missing-table-"+cmd+".golden"), []byte(scrub(stderr, s.Endpoint)))
		})
	}
}

// scrub replaces the URLs and request IDs that change between runs.
func scrub(s string, urls ...string) string {
	for _, u := range urls {
		s = strings.ReplaceAll(s, u, "http://127.0.0.1:PORT")
	}
	out := []string{}
	for _, f := range strings.Split(s, ", ") {
		if strings.HasPrefix(f, "RequestID: ") {
			f = "RequestID: ID"
		}
		out = append(out, f)
	}
	return strings.Join(out, ", ")
}

// TestLocalDDB starts `ddbsync local ddb`, uses the endpoint it prints,
// and stops it with Ctrl-C (exit 130).
func TestLocalDDB(t *testing.T) {
	ports, err := proc.FreePorts(1)
	require.NoError(t, err)
	tests := map[string]struct {
		args []string
		want string // the endpoint's prefix
	}{
		"a free port": {args: []string{"ddb"}, want: "http://127.0.0.1:"},
		"--port":      {args: []string{"ddb", "--port", strconv.Itoa(ports[0])}, want: "http://127.0.0.1:" + strconv.Itoa(ports[0])},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var stdout, stderr bytes.Buffer
			ready := make(chan *ddblocal.Server, 1)
			lc := &LocalCommand{Stdout: &stdout, Stderr: &stderr, ready: func(s *ddblocal.Server) { ready <- s }}
			done := make(chan error, 1)
			go func() { done <- runOne(ctx, lc.Stdout, lc.Stderr, lc.command, tt.args) }()
			select {
			case <-ready:
			case err := <-done:
				t.Fatalf("local ddb ended: %v\n%s", err, stderr.String())
			case <-time.After(2 * time.Minute):
				t.Fatal("local ddb did not start")
			}
			endpoint := strings.TrimSpace(stdout.String())
			require.True(t, strings.HasPrefix(endpoint, tt.want), endpoint)
			db := dynamodb.NewFromConfig(aws.Config{Region: ddblocal.Region, Credentials: aws.AnonymousCredentials{}}, func(o *dynamodb.Options) {
				o.BaseEndpoint = aws.String(endpoint)
				o.Credentials = staticCreds{}
			})
			_, err := db.ListTables(t.Context(), &dynamodb.ListTablesInput{})
			require.NoError(t, err)
			assert.Contains(t, stderr.String(), "DDBSYNC_ENDPOINT_URL="+endpoint)
			cancel()
			err = <-done
			assert.Equal(t, exitInterrupted, exitCode(&bytes.Buffer{}, "local ddb", &interruptedError{err: err}))
		})
	}

	t.Run("--port taken", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		var stdout, stderr bytes.Buffer
		lc := &LocalCommand{Stdout: &stdout, Stderr: &stderr}
		err = runOne(t.Context(), lc.Stdout, lc.Stderr, lc.command, []string{"ddb", "--port", port})
		assert.Equal(t, exitAWS, exitCode(&stderr, "local ddb", err))
		assert.Contains(t, stderr.String(), "port already in use")
		assert.Empty(t, stdout.String(), "no endpoint printed")
	})

	t.Run("--port out of range", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		lc := &LocalCommand{Stdout: &stdout, Stderr: &stderr}
		err := runOne(t.Context(), lc.Stdout, lc.Stderr, lc.command, []string{"ddb", "--port", "70000"})
		assert.Equal(t, exitUsage, exitCode(&stderr, "local ddb", err))
		assert.Contains(t, stderr.String(), "--port: 70000 is not a TCP port")
	})
}

// staticCreds are any credentials: DynamoDB Local accepts them.
type staticCreds struct{}

func (staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"}, nil
}

// TestMan writes the man pages and checks one.
func TestMan(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runMain(t, "man", "--dir", dir)
	require.Equal(t, exitOK, code, stderr)
	b, err := os.ReadFile(filepath.Join(dir, "ddbsync-verify.1"))
	require.NoError(t, err)
	assert.Contains(t, string(b), "ddbsync-verify")
	assert.Contains(t, string(b), "--target-table")
	assert.FileExists(t, filepath.Join(dir, "ddbsync-local-ddb.1"))
}
