package lambdahandler

import "github.com/ddbsync/ddbsync/internal/replicate"

// DecodePlan exposes the handler's no-I/O front half to the benchmarks:
// reading the event and planning the writes (images stay undecoded until
// each chunk is written).
func DecodePlan(payload []byte) (*replicate.Plan, error) {
	changes, _, err := decodeEvent(payload)
	if err != nil {
		return nil, err
	}
	return replicate.NewPlan(changes), nil
}
