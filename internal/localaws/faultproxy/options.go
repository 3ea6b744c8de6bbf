package faultproxy

import (
	"errors"
	"fmt"
	"time"
)

// Fault is what the proxy did with one request.
type Fault int

// Faults, in the order their probabilities are laid out on [0, 1).
const (
	// Pass forwards the request untouched.
	Pass Fault = iota
	// Throttle answers 400 ProvisionedThroughputExceededException.
	Throttle
	// Throttling answers 400 ThrottlingException.
	Throttling
	// ServerError answers 500 InternalServerError.
	ServerError
	// Unprocessed forwards part of a BatchWriteItem and returns the rest in
	// UnprocessedItems.
	Unprocessed
	// ResetBefore resets the connection without forwarding.
	ResetBefore
	// ResetAfter forwards, then resets the connection without answering.
	ResetAfter
)

// String returns the fault's name.
func (f Fault) String() string {
	switch f {
	case Pass:
		return "pass"
	case Throttle:
		return "throttle"
	case Throttling:
		return "throttling"
	case ServerError:
		return "server_error"
	case Unprocessed:
		return "unprocessed"
	case ResetBefore:
		return "reset_before"
	case ResetAfter:
		return "reset_after"
	}
	return "invalid"
}

// Options configures a [Proxy]. Rates are probabilities per targeted
// request, each in [0, 1], summing to at most 1.
type Options struct {
	// Seed seeds the decisions (see the package doc).
	Seed uint64
	// Throttle is the rate of ProvisionedThroughputExceededException answers.
	Throttle float64
	// Throttling is the rate of ThrottlingException answers.
	Throttling float64
	// ServerError is the rate of 500 InternalServerError answers.
	ServerError float64
	// Unprocessed is the rate of BatchWriteItem calls answered with part of
	// their requests in UnprocessedItems (other requests in this share are
	// forwarded untouched).
	Unprocessed float64
	// ResetBefore is the rate of connections reset before forwarding.
	ResetBefore float64
	// ResetAfter is the rate of connections reset after forwarding.
	ResetAfter float64
	// Latency delays every targeted request; Jitter adds a uniform random
	// delay in [0, Jitter).
	Latency, Jitter time.Duration
	// IncludeReads targets every operation, not only BatchWriteItem,
	// PutItem and DeleteItem.
	IncludeReads bool
}

// Validate checks the rates.
func (o Options) Validate() error {
	sum := 0.0
	for _, r := range []struct {
		name string
		v    float64
	}{
		{"Throttle", o.Throttle}, {"Throttling", o.Throttling}, {"ServerError", o.ServerError},
		{"Unprocessed", o.Unprocessed}, {"ResetBefore", o.ResetBefore}, {"ResetAfter", o.ResetAfter},
	} {
		if !(r.v >= 0 && r.v <= 1) {
			return fmt.Errorf("faultproxy options: %s rate %v is not in [0, 1]", r.name, r.v)
		}
		sum += r.v
	}
	if sum > 1+1e-9 {
		return fmt.Errorf("faultproxy options: rates sum to %v, more than 1", sum)
	}
	if o.Latency < 0 || o.Jitter < 0 {
		return errors.New("faultproxy options: negative Latency or Jitter")
	}
	return nil
}

// Stats counts what a [Proxy] did. Every request is counted in Requests
// and, if it was targeted, in exactly one of Passed, Throttled, Throttling,
// ServerErrors, Unprocessed, ResetsBefore and ResetsAfter.
type Stats struct {
	// Requests counts every request received; Targeted those eligible for
	// faults.
	Requests, Targeted int64
	// Forwarded counts the requests sent to the target (all but error
	// answers and resets before forwarding).
	Forwarded int64
	// Passed counts targeted requests forwarded untouched.
	Passed int64
	// Throttled, Throttling and ServerErrors count the error answers.
	Throttled, Throttling, ServerErrors int64
	// Unprocessed counts BatchWriteItem calls answered with a partial
	// success; UnprocessedItems the write requests held back.
	Unprocessed, UnprocessedItems int64
	// ResetsBefore and ResetsAfter count the connections reset.
	ResetsBefore, ResetsAfter int64
	// Delayed counts the requests delayed by Latency or Jitter.
	Delayed int64
	// TargetErrors counts requests the target could not be reached for
	// (answered 502).
	TargetErrors int64
}

// Faults returns the number of targeted requests that were not passed
// through untouched.
func (s Stats) Faults() int64 {
	return s.Throttled + s.Throttling + s.ServerErrors + s.Unprocessed + s.ResetsBefore + s.ResetsAfter
}
