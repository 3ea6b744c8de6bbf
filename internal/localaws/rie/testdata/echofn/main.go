// Command echofn is a tiny Lambda function for the rie tests. It returns its
// input unchanged, fails when the input has "fail": true, panics on "panic": true, sleeps for
// "sleepMs" milliseconds first (ignoring the deadline), and logs one line per invocation, with the
// value of the environment variable named by "env" if any.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

// request is the part of the input that steers the function.
type request struct {
	Fail    bool   `json:"fail"`
	Panic   bool   `json:"panic"`
	SleepMs int    `json:"sleepMs"`
	Env     string `json:"env"`
}

// handle echoes in, or fails as asked.
func handle(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
	var req request
	_ = json.Unmarshal(in, &req) // any JSON is echoed; only objects steer
	if req.Env != "" {
		fmt.Printf("echofn env %s=%q\n", req.Env, os.Getenv(req.Env))
	}
	// Sleep past the deadline on purpose, to test the timeout.
	time.Sleep(time.Duration(req.SleepMs) * time.Millisecond)
	fmt.Printf("echofn invoked with %d bytes\n", len(in))
	if req.Panic {
		panic("asked to panic")
	}
	if req.Fail {
		return nil, errors.New("asked to fail")
	}
	return in, nil
}

func main() {
	lambda.Start(handle)
}
