package faultproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// DynamoDB operations, as named after the X-Amz-Target prefix.
const (
	OpBatchWriteItem = "BatchWriteItem"
	OpPutItem        = "PutItem"
	OpDeleteItem     = "DeleteItem"
)

const (
	targetPrefix   = "DynamoDB_20120810."
	errorNamespace = "com.amazonaws.dynamodb.v20120810#"
	contentType    = "application/x-amz-json-1.0"
	crc32Header    = "X-Amz-Crc32"
	// maxBodyBytes bounds a request body: DynamoDB takes at most 16 MB.
	maxBodyBytes = 32 << 20
	// maxIdleConns is the idle connection pool towards the target.
	maxIdleConns = 64
)

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	opts   Options
	target string
	url    string
	srv    *http.Server
	ln     net.Listener
	client *http.Client
	served chan struct{}

	requests, targeted, forwarded, passed         atomic.Int64
	throttled, throttling, serverErrors           atomic.Int64
	unprocessed, unprocessedItems                 atomic.Int64
	resetsBefore, resetsAfter, delayed, targetErr atomic.Int64
}

// Start starts a proxy for target ("http://127.0.0.1:PORT", DynamoDB
// Local's endpoint) on a free 127.0.0.1 port. Requests in progress are
// abandoned when ctx ends. Close it when done.
func Start(ctx context.Context, target string, opts Options) (*Proxy, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(target, "http://127.0.0.1:") {
		return nil, fmt.Errorf("start fault proxy: target %q is not an http://127.0.0.1 endpoint", target)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start fault proxy: %w", err)
	}
	tr := &http.Transport{
		Proxy:               nil, // never through an HTTP(S)_PROXY
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        maxIdleConns,
		MaxIdleConnsPerHost: maxIdleConns,
		IdleConnTimeout:     30 * time.Second,
	}
	p := &Proxy{
		opts:   opts,
		target: strings.TrimSuffix(target, "/"),
		url:    "http://" + ln.Addr().String(),
		ln:     ln,
		client: &http.Client{Transport: tr},
		served: make(chan struct{}),
	}
	p.srv = &http.Server{
		Handler:           p,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	go func() {
		defer close(p.served)
		_ = p.srv.Serve(ln) // returns http.ErrServerClosed on Close
	}()
	return p, nil
}

// StartTB starts a proxy for a test and closes it in tb.Cleanup. It calls
// tb.Fatal if the proxy cannot start.
func StartTB(tb testing.TB, target string, opts Options) *Proxy {
	tb.Helper()
	p, err := Start(context.WithoutCancel(tb.Context()), target, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = p.Close() })
	return p
}

// URL returns the proxy's endpoint, "http://127.0.0.1:PORT".
func (p *Proxy) URL() string { return p.url }

// Close stops the proxy at once, closing every connection.
func (p *Proxy) Close() error {
	err := p.srv.Close()
	<-p.served
	p.client.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("close fault proxy: %w", err)
	}
	return nil
}

// Stats returns a snapshot of the counters.
func (p *Proxy) Stats() Stats {
	return Stats{
		Requests:         p.requests.Load(),
		Targeted:         p.targeted.Load(),
		Forwarded:        p.forwarded.Load(),
		Passed:           p.passed.Load(),
		Throttled:        p.throttled.Load(),
		Throttling:       p.throttling.Load(),
		ServerErrors:     p.serverErrors.Load(),
		Unprocessed:      p.unprocessed.Load(),
		UnprocessedItems: p.unprocessedItems.Load(),
		ResetsBefore:     p.resetsBefore.Load(),
		ResetsAfter:      p.resetsAfter.Load(),
		Delayed:          p.delayed.Load(),
		TargetErrors:     p.targetErr.Load(),
	}
}

// decision is what happens to one targeted request.
type decision struct {
	fault Fault
	delay time.Duration
	rng   *rand.Rand // for the choice of unprocessed requests
}

// decide draws the decision for request n.
func (p *Proxy) decide(n uint64) decision {
	rng := rand.New(rand.NewPCG(p.opts.Seed, n))
	d := decision{rng: rng, delay: p.opts.Latency}
	u := rng.Float64()
	d.fault = Pass
	for _, c := range []struct {
		f    Fault
		rate float64
	}{
		{Throttle, p.opts.Throttle}, {Throttling, p.opts.Throttling}, {ServerError, p.opts.ServerError},
		{Unprocessed, p.opts.Unprocessed}, {ResetBefore, p.opts.ResetBefore}, {ResetAfter, p.opts.ResetAfter},
	} {
		if u < c.rate {
			d.fault = c.f
			break
		}
		u -= c.rate
	}
	if p.opts.Jitter > 0 {
		d.delay += time.Duration(rng.Int64N(int64(p.opts.Jitter)))
	}
	return d
}

func isWrite(op string) bool {
	return op == OpBatchWriteItem || op == OpPutItem || op == OpDeleteItem
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := p.requests.Add(1)
	op, _ := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil || len(body) > maxBodyBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "SerializationException", "faultproxy: unreadable or oversized request body")
		return
	}

	d := decision{fault: Pass}
	if isWrite(op) || p.opts.IncludeReads {
		p.targeted.Add(1)
		d = p.decide(uint64(n))
		if d.delay > 0 {
			p.delayed.Add(1)
			if !sleep(r.Context(), d.delay) {
				reset(w) // the client gave up, or the proxy is stopping
				return
			}
		}
	}

	var held map[string][]json.RawMessage // requests held back as unprocessed
	switch d.fault {
	case Throttle:
		p.throttled.Add(1)
		writeError(w, http.StatusBadRequest, "ProvisionedThroughputExceededException",
			"The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.")
		return
	case Throttling:
		p.throttling.Add(1)
		writeError(w, http.StatusBadRequest, "ThrottlingException", "Rate of requests exceeds the allowed throughput.")
		return
	case ServerError:
		p.serverErrors.Add(1)
		writeError(w, http.StatusInternalServerError, "InternalServerError", "Internal server error")
		return
	case ResetBefore:
		p.resetsBefore.Add(1)
		reset(w)
		return
	case Unprocessed:
		if op == OpBatchWriteItem {
			body, held = holdBack(body, d.rng)
		}
		if held == nil {
			d.fault = Pass
		}
	}

	status, header, respBody, err := p.forward(r, body)
	if err != nil {
		if r.Context().Err() != nil {
			// Never an empty answer, which would read as a success.
			reset(w)
			return
		}
		p.targetErr.Add(1)
		writeError(w, http.StatusBadGateway, "ProxyError", "faultproxy: "+err.Error())
		return
	}
	switch d.fault {
	case ResetAfter:
		p.resetsAfter.Add(1)
		reset(w)
		return
	case Unprocessed:
		if status == http.StatusOK {
			merged, err := mergeUnprocessed(respBody, held)
			if err != nil {
				// Never drop the held-back requests silently: fail the call.
				p.targetErr.Add(1)
				writeError(w, http.StatusBadGateway, "ProxyError", "faultproxy: "+err.Error())
				return
			}
			respBody = merged
			p.unprocessed.Add(1)
			p.unprocessedItems.Add(int64(countRequests(held)))
		} else {
			p.passed.Add(1) // the call failed as a whole: nothing was held back
		}
	case Pass:
		if isWrite(op) || p.opts.IncludeReads {
			p.passed.Add(1)
		}
	}
	writeResponse(w, status, header, respBody)
}

// forward sends the request, with body, to the target and reads the whole
// answer.
func (p *Proxy) forward(r *http.Request, body []byte) (int, http.Header, []byte, error) {
	out, err := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("build request: %w", err)
	}
	for k, vs := range r.Header {
		if !hopByHop(k) {
			out.Header[k] = vs
		}
	}
	// Let the transport negotiate and undo any compression, so an answer
	// can always be read and rewritten.
	out.Header.Del("Accept-Encoding")
	out.Host = r.Host
	out.ContentLength = int64(len(body))
	p.forwarded.Add(1)
	resp, err := p.client.Do(out)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("forward %s: %w", r.Header.Get("X-Amz-Target"), err)
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, resp.Header, respBody, nil
}

// reset closes the client's connection with a TCP RST and no answer.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (never with this package's HTTP/1.1 server): the
		// server closes the connection without an answer.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // close sends RST, not FIN
	}
	_ = conn.Close()
}

// writeError answers a DynamoDB error.
func writeError(w http.ResponseWriter, status int, typ, msg string) {
	body, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{errorNamespace + typ, msg}) // strings always marshal
	h := http.Header{}
	h.Set("Content-Type", contentType)
	h.Set("X-Amzn-ErrorType", typ)
	h.Set("X-Amzn-RequestId", "faultproxy")
	writeResponse(w, status, h, body)
}

// writeResponse answers status, header and body, with Content-Length and
// X-Amz-Crc32 set for body.
func writeResponse(w http.ResponseWriter, status int, header http.Header, body []byte) {
	h := w.Header()
	for k, vs := range header {
		if !hopByHop(k) && k != "Content-Length" && k != crc32Header {
			h[k] = vs
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set(crc32Header, strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client is gone if this fails
}

// hopByHop reports whether the header k belongs to one connection only
// (RFC 9110, section 7.6.1).
func hopByHop(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// sleep waits for d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
