package lambdainvoke

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClient_Invoke(t *testing.T) {
	tests := map[string]struct {
		status   int
		body     string
		wantErr  string
		wantType string
	}{
		"response":        {status: 200, body: `{"batchItemFailures":[]}`},
		"function error":  {status: 200, body: `{"errorMessage":"malformed stream event","errorType":"wrapError"}`, wantErr: "function error wrapError: malformed stream event", wantType: "wrapError"},
		"timeout":         {status: 200, body: "Task timed out after 3.00 seconds", wantErr: "function timed out"},
		"panic":           {status: 502, body: `{"errorMessage":"boom","errorType":"Runtime.ExitError"}`, wantErr: "status 502: function error Runtime.ExitError: boom", wantType: "Runtime.ExitError"},
		"other status":    {status: 500, body: "internal", wantErr: "status 500: internal"},
		"other JSON keys": {status: 200, body: `{"message":"x"}`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				assert.Equal(t, InvokePath, r.URL.Path)
				assert.Equal(t, http.MethodPost, r.Method)
				body, _ := io.ReadAll(r.Body)
				assert.Equal(t, `{"Records":[]}`, string(body))
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			inv, err := New(srv.URL, srv.Client()) // base URL: the path is added
			require.NoError(t, err)
			assert.Equal(t, srv.URL+InvokePath, inv.URL())
			got, err := inv.Invoke(t.Context(), []byte(`{"Records":[]}`))
			assert.Equal(t, tt.body, string(got))
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			if tt.wantType != "" {
				var fe *FunctionError
				require.ErrorAs(t, err, &fe)
				assert.Equal(t, tt.wantType, fe.Type)
			}
		})
	}
}

func TestNew(t *testing.T) {
	tests := map[string]struct {
		url     string
		want    string
		wantErr bool
	}{
		"full URL":      {url: "http://127.0.0.1:9000" + InvokePath, want: "http://127.0.0.1:9000" + InvokePath},
		"base URL":      {url: "http://127.0.0.1:9000/", want: "http://127.0.0.1:9000" + InvokePath},
		"no scheme":     {url: "127.0.0.1:9000", wantErr: true},
		"other scheme":  {url: "ftp://127.0.0.1:9000", wantErr: true},
		"no host":       {url: "http:///x", wantErr: true},
		"not a URL":     {url: "http://[::1", wantErr: true},
		"custom path":   {url: "http://localhost:1/custom", want: "http://localhost:1/custom"},
		"https allowed": {url: "https://example.invalid", want: "https://example.invalid" + InvokePath},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			inv, err := New(tt.url, nil)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, inv.URL())
		})
	}
}
