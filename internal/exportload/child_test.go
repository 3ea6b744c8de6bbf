package exportload_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/exportload"
	"github.com/ddbsync/ddbsync/internal/exportload/exporttest"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
)

// childEnv carries the kill test's setup to the child process.
const childEnv = "EXPORTLOAD_TEST_CHILD"

// childSetup is what the child loads, and where.
type childSetup struct {
	DynamoDB, KeyID, S3, Bucket, Dir, Table, Checkpoint string
}

// runChild runs the load of the kill test when this binary is its child,
// and reports whether it was. The child loads until it is killed.
func runChild() bool {
	raw := os.Getenv(childEnv)
	if raw == "" {
		return false
	}
	var s childSetup
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	db := dynamodb.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(s.KeyID, "secret", ""),
	}, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(s.DynamoDB)
		o.DisableValidateResponseChecksum = true
	})
	s3c := exporttest.S3Client(s.S3)
	exp, err := exportload.ReadExport(ctx, s3c, s.Bucket, s.Dir)
	if err == nil {
		_, err = exportload.Load(ctx, exportload.Config{
			Export:          exp,
			Loader:          &exportload.FileLoader{S3: s3c, Writer: dynamo.NewTable(db, s.Table, dynamo.Options{}), Keys: []string{"pk", "sk"}},
			TargetTable:     s.Table,
			Workers:         2,
			CheckpointPath:  s.Checkpoint,
			CheckpointEvery: 20 * time.Millisecond,
		})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(1)
	}
	os.Exit(0)
	return true
}

// TestLoad_KillResume kills a loading process with SIGKILL once its
// checkpoint shows finished and started files, then resumes in process:
// the files done are skipped, the started ones resume at their watermark,
// so the resumed run writes exactly the lines the checkpoint does not
// hold, and the table ends with every item.
func TestLoad_KillResume(t *testing.T) {
	t.Parallel() // long and mostly DynamoDB Local's work: overlaps the package's other long tests
	const nFiles, perFile = 8, 2500
	s3c, bucket := newBucket(t)
	files := genFiles(nFiles, perFile)
	dir, _ := exporttest.Write(t, s3c, bucket, "kill", files, exporttest.Options{})
	db, keyID := newDB(t)
	createTable(t, db, "target", false)
	cpPath := filepath.Join(t.TempDir(), "checkpoint.json")
	setup, err := json.Marshal(childSetup{
		DynamoDB: testkit.DDB(t).Endpoint, KeyID: keyID, S3: testkit.SharedMoto(t), Bucket: bucket, Dir: dir, Table: "target", Checkpoint: cpPath,
	})
	require.NoError(t, err)

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), childEnv+"="+string(setup))
	child.Stderr = os.Stderr
	require.NoError(t, child.Start())
	var cp *exportload.Checkpoint
	deadline := time.Now().Add(time.Minute)
	for {
		cp, err = exportload.ReadCheckpoint(cpPath)
		require.NoError(t, err)
		if cp != nil && doneFiles(cp) >= 2 && linesDone(cp) > doneFiles(cp)*perFile && linesDone(cp) < nFiles*perFile {
			break
		}
		require.True(t, time.Now().Before(deadline), "the child made no progress")
		time.Sleep(5 * time.Millisecond) // polling the checkpoint file, with a deadline
	}
	require.NoError(t, child.Process.Signal(syscall.SIGKILL))
	_ = child.Wait()
	cp, err = exportload.ReadCheckpoint(cpPath) // as the kill left it
	require.NoError(t, err)
	t.Logf("killed with %d files done and %d of %d lines written", doneFiles(cp), linesDone(cp), nFiles*perFile)

	api := newCountingAPI(db)
	cfg := loadConfig(t, s3c, bucket, dir, api, "target")
	cfg.CheckpointPath = cpPath
	rep, err := exportload.Load(t.Context(), cfg)
	require.NoError(t, err)
	assert.Equal(t, doneFiles(cp), rep.FilesSkipped)
	assert.Equal(t, int64(nFiles*perFile-linesDone(cp)), rep.ItemsWritten, "the resumed run writes what the checkpoint lacks")
	assertLoaded(t, db, "target", files)
}

func doneFiles(cp *exportload.Checkpoint) int {
	n := 0
	for _, f := range cp.Files {
		if f.Done {
			n++
		}
	}
	return n
}

func linesDone(cp *exportload.Checkpoint) int {
	n := 0
	for _, f := range cp.Files {
		n += int(f.LinesDone)
	}
	return n
}
