package redrive_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/redrive"
)

// drain reads every message of src and marks those whose body is in done
// as done, the others kept.
func drain(t *testing.T, src redrive.Source, done ...string) []string {
	t.Helper()
	var bodies []string
	for {
		m, err := src.Next(t.Context())
		if errors.Is(err, io.EOF) {
			return bodies
		}
		require.NoError(t, err)
		body := string(m.Body)
		bodies = append(bodies, body)
		mark := src.Keep
		for _, d := range done {
			if body == d || body == d+"\n" {
				mark = src.Done
			}
		}
		require.NoError(t, mark(t.Context(), m))
	}
}

func TestFileSource(t *testing.T) {
	tests := map[string]struct {
		content  string
		done     []string
		appended string // written to the file after the reading, before Close
		replaced string // the file's content replaced before Close
		wantRead []string
		wantFile string
		wantDone *string // nil: no FILE.done
		wantErr  error
	}{
		"lines redriven move to FILE.done": {
			content: "a\nb\nc\n", done: []string{"a", "c"},
			wantRead: []string{"a\n", "b\n", "c\n"}, wantFile: "b\n", wantDone: ptr("a\nc\n"),
		},
		"every line redriven leaves an empty file": {
			content: "a\n", done: []string{"a"},
			wantRead: []string{"a\n"}, wantFile: "", wantDone: ptr("a\n"),
		},
		"nothing redriven changes nothing": {
			content: "a\n\n  \nb", wantRead: []string{"a\n", "b\n"}, wantFile: "a\n\n  \nb",
		},
		"blank lines dropped and a last newline added": {
			content: "a\n\nb", done: []string{"a"},
			wantRead: []string{"a\n", "b\n"}, wantFile: "b\n", wantDone: ptr("a\n"),
		},
		"lines appended meanwhile are kept": {
			content: "a\nb\n", done: []string{"a"}, appended: "c\n",
			wantRead: []string{"a\n", "b\n"}, wantFile: "b\nc\n", wantDone: ptr("a\n"),
		},
		"a last line still being written is kept whole": {
			content: "a\n{\"par", done: []string{"a"}, appended: "tial\":1}\n",
			wantRead: []string{"a\n", "{\"par\n"}, wantFile: "{\"partial\":1}\n", wantDone: ptr("a\n"),
		},
		"a file changed otherwise is left as is": {
			content: "a\nb\n", done: []string{"a"}, replaced: "x\n",
			wantRead: []string{"a\n", "b\n"}, wantFile: "x\n", wantErr: redrive.ErrFileChanged,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "failures.jsonl")
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o600))
			src, err := redrive.OpenFile(path)
			require.NoError(t, err)
			assert.Equal(t, len(tt.wantRead), src.Len())

			assert.Equal(t, tt.wantRead, drain(t, src, tt.done...))
			if tt.appended != "" {
				f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
				require.NoError(t, err)
				_, err = f.WriteString(tt.appended)
				require.NoError(t, err)
				require.NoError(t, f.Close())
			}
			if tt.replaced != "" {
				require.NoError(t, os.WriteFile(path, []byte(tt.replaced), 0o600))
			}
			err = src.Close(t.Context())
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}

			got, err := os.ReadFile(path)
			require.NoError(t, err, "the failure file is never deleted")
			assert.Equal(t, tt.wantFile, string(got))
			done, err := os.ReadFile(path + redrive.DoneSuffix)
			if tt.wantDone == nil {
				assert.ErrorIs(t, err, os.ErrNotExist)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, *tt.wantDone, string(done))
		})
	}
}

func TestFileSource_AppendsToDone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "failures.jsonl")
	require.NoError(t, os.WriteFile(path+redrive.DoneSuffix, []byte("earlier\n"), 0o600))
	require.NoError(t, os.WriteFile(path, []byte("a\n"), 0o600))
	src, err := redrive.OpenFile(path)
	require.NoError(t, err)
	drain(t, src, "a")
	require.NoError(t, src.Close(t.Context()))
	done, err := os.ReadFile(path + redrive.DoneSuffix)
	require.NoError(t, err)
	assert.Equal(t, "earlier\na\n", string(done))

	_, err = redrive.OpenFile(filepath.Join(t.TempDir(), "none"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// TestQueueSource runs against moto_server's SQS: a message done is
// deleted, a message kept is visible again right after Close, and one
// run reads no message twice.
func TestQueueSource(t *testing.T) {
	endpoint := testkit.Moto(t)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	api := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(endpoint) })
	q, err := api.CreateQueue(t.Context(), &sqs.CreateQueueInput{QueueName: aws.String("failures")})
	require.NoError(t, err)
	url := aws.ToString(q.QueueUrl)
	var bodies []string
	for i := range 12 { // more than one receive
		body := "m" + strconv.Itoa(i)
		bodies = append(bodies, body)
		_, err := api.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(body)})
		require.NoError(t, err)
	}
	opts := redrive.QueueOptions{VisibilityTimeout: time.Hour, Wait: time.Second}

	src := redrive.NewQueue(api, url, opts)
	n, err := src.Approximate(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 12, n)
	read := drain(t, src, bodies[:10]...)
	assert.ElementsMatch(t, bodies, read, "each message once")
	require.NoError(t, src.Close(t.Context()))

	again := redrive.NewQueue(api, url, redrive.QueueOptions{VisibilityTimeout: time.Hour, Wait: time.Second, MaxMessages: 1})
	first := drain(t, again)
	require.Len(t, first, 1, "MaxMessages")
	require.NoError(t, again.Close(t.Context()))
	left := drain(t, redrive.NewQueue(api, url, opts), bodies[10:]...)
	assert.ElementsMatch(t, bodies[10:], left, "the kept messages are visible again; the others are deleted")
	assert.Empty(t, drain(t, redrive.NewQueue(api, url, opts)))
}

func ptr(s string) *string { return &s }
