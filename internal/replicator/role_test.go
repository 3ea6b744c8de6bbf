package replicator_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/replicator"
)

// keyRecorder answers DynamoDB calls with success and records the access
// key id each one was signed with.
type keyRecorder struct {
	mu   sync.Mutex
	keys []string
}

func (k *keyRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	auth := r.Header.Get("Authorization") // AWS4-HMAC-SHA256 Credential=KEYID/date/region/service/aws4_request, ...
	_, cred, _ := strings.Cut(auth, "Credential=")
	id, _, _ := strings.Cut(cred, "/")
	k.mu.Lock()
	k.keys = append(k.keys, id)
	k.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_, _ = io.WriteString(w, `{"UnprocessedItems":{}}`)
}

// TestNew_TargetRole assumes a role on moto_server's STS and checks that the
// target table's writes are signed with the assumed credentials, with the
// external ID accepted, not with the function's own.
func TestNew_TargetRole(t *testing.T) {
	moto := testkit.Moto(t)
	awsCfg := awsConfig()
	stsAPI := sts.NewFromConfig(awsCfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(moto) })
	rec := &keyRecorder{}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)

	h, err := replicator.New(awsCfg, replicator.Config{Mode: replicator.ModeApply, TargetTable: "copy", Endpoint: srv.URL,
		TargetRole: dynamo.Role{ARN: "arn:aws:iam::111122223333:role/ddbsync-target", ExternalID: "orders-2026", STS: stsAPI}})
	require.NoError(t, err)
	out, err := h.Invoke(t.Context(), readEvent(t, "insert.json"))
	require.NoError(t, err)
	assert.JSONEq(t, `{"batchItemFailures":[]}`, string(out))

	require.NotEmpty(t, rec.keys)
	for _, k := range rec.keys {
		assert.NotEqual(t, "AKIDTEST", k, "the target is written with the assumed role")
		assert.True(t, strings.HasPrefix(k, "ASIA"), "STS session credentials: %q", k)
	}
}
