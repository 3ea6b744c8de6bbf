// Package emf writes CloudWatch metrics as Embedded Metric Format log lines
// (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
//
// A Lambda function prints one such JSON line to stdout; CloudWatch Logs
// extracts the metrics from it, with no API call and no extra latency.
package emf

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Namespace is the CloudWatch namespace of every ddbsync metric.
const Namespace = "ddbsync"

// Unit is a CloudWatch metric unit.
type Unit string

// Units used by ddbsync.
const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
)

// Metric is one named value.
type Metric struct {
	Name  string
	Unit  Unit
	Value float64
}

// Write prints one EMF line to w with the given dimensions (name → value,
// all used as one dimension set) and metrics, stamped with t.
func Write(w io.Writer, t time.Time, dims map[string]string, metrics []Metric) error {
	type metricDef struct {
		Name string `json:"Name"`
		Unit Unit   `json:"Unit"`
	}
	type directive struct {
		Namespace  string      `json:"Namespace"`
		Dimensions [][]string  `json:"Dimensions"`
		Metrics    []metricDef `json:"Metrics"`
	}
	doc := make(map[string]any, len(dims)+len(metrics)+1)
	d := directive{Namespace: Namespace, Dimensions: [][]string{{}}}
	for name, value := range dims {
		d.Dimensions[0] = append(d.Dimensions[0], name)
		doc[name] = value
	}
	for _, m := range metrics {
		d.Metrics = append(d.Metrics, metricDef{Name: m.Name, Unit: m.Unit})
		doc[m.Name] = m.Value
	}
	doc["_aws"] = map[string]any{
		"Timestamp":         t.UnixMilli(),
		"CloudWatchMetrics": []directive{d},
	}
	line, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("marshal emf: %w", err)
	}
	if _, err := w.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write emf: %w", err)
	}
	return nil
}
