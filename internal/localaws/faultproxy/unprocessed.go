package faultproxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
)

// holdBack removes a random non-empty proper subset of the write requests
// of a BatchWriteItem body and returns the new body and the removed
// requests by table. It returns held == nil (and body unchanged) when the
// body cannot be read or has fewer than two requests.
func holdBack(body []byte, rng *rand.Rand) (newBody []byte, held map[string][]json.RawMessage) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return body, nil
	}
	var items map[string][]json.RawMessage
	if err := json.Unmarshal(top["RequestItems"], &items); err != nil {
		return body, nil
	}
	type ref struct {
		table string
		i     int
	}
	var all []ref
	tables := make([]string, 0, len(items))
	for t := range items {
		tables = append(tables, t)
	}
	slices.Sort(tables) // map order must not leak into the seeded choice
	for _, t := range tables {
		for i := range items[t] {
			all = append(all, ref{t, i})
		}
	}
	if len(all) < 2 {
		return body, nil
	}
	k := 1 + rng.IntN(len(all)-1) // 1 .. n-1 held back
	drop := map[ref]bool{}
	for _, j := range rng.Perm(len(all))[:k] {
		drop[all[j]] = true
	}
	kept := map[string][]json.RawMessage{}
	held = map[string][]json.RawMessage{}
	for _, t := range tables {
		for i, req := range items[t] {
			if drop[ref{t, i}] {
				held[t] = append(held[t], req)
			} else {
				kept[t] = append(kept[t], req)
			}
		}
	}
	raw, err := json.Marshal(kept)
	if err != nil {
		return body, nil
	}
	top["RequestItems"] = raw
	newBody, err = json.Marshal(top)
	if err != nil {
		return body, nil
	}
	return newBody, held
}

// mergeUnprocessed adds held to the UnprocessedItems of a BatchWriteItem
// answer, keeping what the answer already had.
func mergeUnprocessed(answer []byte, held map[string][]json.RawMessage) ([]byte, error) {
	top := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(answer)) > 0 {
		if err := json.Unmarshal(answer, &top); err != nil {
			return nil, fmt.Errorf("decode BatchWriteItem answer: %w", err)
		}
	}
	unprocessed := map[string][]json.RawMessage{}
	if raw, ok := top["UnprocessedItems"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &unprocessed); err != nil {
			return nil, fmt.Errorf("decode UnprocessedItems: %w", err)
		}
	}
	for t, reqs := range held {
		unprocessed[t] = append(unprocessed[t], reqs...)
	}
	raw, err := json.Marshal(unprocessed)
	if err != nil {
		return nil, fmt.Errorf("encode UnprocessedItems: %w", err)
	}
	top["UnprocessedItems"] = raw
	out, err := json.Marshal(top)
	if err != nil {
		return nil, fmt.Errorf("encode BatchWriteItem answer: %w", err)
	}
	return out, nil
}

func countRequests(m map[string][]json.RawMessage) int {
	n := 0
	for _, reqs := range m {
		n += len(reqs)
	}
	return n
}
