package main

import (
	"encoding/json"
	"fmt"
	"io"
)

// writeJSON writes v as one line of JSON. Reports are structs, whose
// fields keep their order, so the key order is stable.
func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode JSON: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
