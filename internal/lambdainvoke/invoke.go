// Package lambdainvoke invokes a function through the Lambda Runtime
// Interface Emulator's invoke URL (what `sam local invoke` and
// `sam local start-lambda` serve): the one client that `ddbsync run
// --invoke-url` and the tests that run the bootstrap under the emulator use.
package lambdainvoke

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// InvokePath is the path of the Runtime Interface Emulator's invoke URL
// (the Lambda Invoke API's path for a function called "function").
const InvokePath = "/2015-03-31/functions/function/invocations"

// maxResponseBytes bounds a function response (Lambda's limit is 6 MB).
const maxResponseBytes = 6 << 20

// ErrTimedOut is returned (wrapped) by [Client.Invoke] when the emulator
// reports that the function timed out.
var ErrTimedOut = errors.New("function timed out")

// FunctionError is a function's error as Lambda reports it: HTTP 200 with a
// body of {"errorMessage": ..., "errorType": ...}.
// For a Go handler, Type is the dynamic type of the returned error (for
// example "errorString").
type FunctionError struct {
	// Type is the body's errorType.
	Type string
	// Message is the body's errorMessage.
	Message string
}

// Error returns "function error Type: Message".
func (e *FunctionError) Error() string {
	return fmt.Sprintf("function error %s: %s", e.Type, e.Message)
}

// Client invokes a function through the Lambda Runtime Interface
// Emulator's invoke URL, one invocation at a time (two concurrent
// invocations crash the emulator).
type Client struct {
	url    string
	client *http.Client
	mu     sync.Mutex
}

// New returns a client posting to rawURL: the emulator's full
// invoke URL, or its base URL ("http://127.0.0.1:9000"), to which
// [InvokePath] is added. A nil client means http.DefaultClient.
func New(rawURL string, client *http.Client) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invoke URL %q: want http://host:port%s", rawURL, InvokePath)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = InvokePath
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &Client{url: u.String(), client: client}, nil
}

// URL returns the invoke URL.
func (h *Client) URL() string { return h.url }

// Invoke posts the event and returns the function's response body, also
// with any error that has one. A function error (the emulator's 200 with
// errorMessage/errorType) is a [*FunctionError]; a timeout wraps
// [ErrTimedOut]; any other status than 200 is an error, which wraps the
// body's [*FunctionError] if it has one (a panic gives 502).
func (h *Client) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("build invoke request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke function: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read invoke response: %w", err)
	}
	if len(body) > maxResponseBytes {
		return nil, fmt.Errorf("invoke function: response exceeds %d bytes", maxResponseBytes)
	}
	trimmed := bytes.TrimSpace(body)
	ferr := parseFunctionError(trimmed)
	switch {
	case resp.StatusCode != http.StatusOK && ferr != nil:
		return body, fmt.Errorf("invoke function: status %d: %w", resp.StatusCode, ferr)
	case resp.StatusCode != http.StatusOK:
		return body, fmt.Errorf("invoke function: status %d: %s", resp.StatusCode, trimmed)
	case strings.HasPrefix(string(trimmed), "Task timed out"):
		return body, fmt.Errorf("invoke function: %w: %s", ErrTimedOut, trimmed)
	}
	if ferr != nil {
		return body, ferr
	}
	return body, nil
}

// parseFunctionError returns the error in body, or nil if body is not a
// JSON object with errorMessage or errorType.
func parseFunctionError(body []byte) *FunctionError {
	if len(body) == 0 || body[0] != '{' {
		return nil
	}
	var v struct {
		Message *string `json:"errorMessage"`
		Type    *string `json:"errorType"`
	}
	if json.Unmarshal(body, &v) != nil || (v.Message == nil && v.Type == nil) {
		return nil
	}
	fe := &FunctionError{}
	if v.Message != nil {
		fe.Message = *v.Message
	}
	if v.Type != nil {
		fe.Type = *v.Type
	}
	return fe
}
