package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/spf13/cobra"

	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/rules"
)

// RulesCommand is `ddbsync rules`: check a rule set and try it on events
// or items before deploying it.
type RulesCommand struct {
	Stdout, Stderr io.Writer
}

var rulesHelp = `Usage: ddbsync rules check FILE
       ddbsync rules apply FILE (--event EVENT.json | --item ITEM.json)
       ddbsync rules filter-criteria FILE

Checks a rule set (YAML or JSON: filter, include, exclude, rename, set,
key and ttl_deletes; see examples/rules/orders.yaml and the README) and
shows what it does to stream records or items; filter-criteria derives
the Lambda event filter its filters allow. The Lambda (RULES or
RULES_FILE) and run, backfill, verify, repair, redrive and create-target
(--rules FILE) apply a rule set the same way.

` + exitStatusHelp("a record the rules cannot apply (apply): an expression error, a missing\n       target key, two source items for one target key; a filter that cannot be\n       pushed down (filter-criteria)")

var rulesCheckHelp = `Usage: ddbsync rules check FILE

Validates the rule set in FILE (every CEL expression is compiled) and
prints what each rule does. An invalid rule set is reported with the
rule's name and line, exit status 2.

` + exitStatusHelp("not used")

var rulesApplyHelp = `Usage: ddbsync rules apply FILE (--event EVENT.json | --item ITEM.json)

Applies the rule set in FILE to each record of a DynamoDB stream event
(as Lambda receives it, e.g. events/insert.json) and prints the target
writes as DynamoDB JSON: puts, deletes (an item leaving the filter, the
old key of a re-keyed item), or none (filtered out, a TTL delete
skipped). Two records of the event whose source items map to one target
key fail the later one, as a batch of the replicator would. With --item,
it prints the item after the rules, or that the filter drops it.

` + exitStatusHelp("a record or the item the rules cannot apply")

// command returns `ddbsync rules` with its check and apply subcommands.
func (c *RulesCommand) command(g *globalFlags) *cobra.Command {
	root := &cobra.Command{
		Use:         "rules",
		Short:       "check a rule set and show what it does to events or items",
		Args:        noArgs,
		Annotations: map[string]string{annotationHelp: rulesHelp},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return &usageError{err: errors.New("which? ddbsync rules check FILE or ddbsync rules apply FILE --event EVENT.json"), hint: "ddbsync rules --help"}
		},
	}
	check := &cobra.Command{
		Use:         "check FILE",
		Short:       "validate a rule set and print what each rule does",
		Args:        oneFile("check"),
		Annotations: map[string]string{annotationHelp: rulesCheckHelp},
		RunE: func(cmd *cobra.Command, args []string) error {
			rs, err := loadRules(args[0])
			if err != nil {
				return err
			}
			return c.printSummary(g, rs)
		},
	}
	var event, item string
	apply := &cobra.Command{
		Use:         "apply FILE",
		Short:       "show the target writes of a rule set for a stream event or an item",
		Args:        oneFile("apply"),
		Annotations: map[string]string{annotationHelp: rulesApplyHelp},
		RunE: func(cmd *cobra.Command, args []string) error {
			hint := "ddbsync rules apply FILE --event events/insert.json"
			switch {
			case event == "" && item == "":
				return &usageError{err: errors.New("give --event or --item"), hint: hint}
			case event != "" && item != "":
				return &usageError{err: errors.New("give --event or --item, not both"), hint: hint}
			}
			rs, err := loadRules(args[0])
			if err != nil {
				return err
			}
			if item != "" {
				return c.applyItem(g, rs, item)
			}
			return c.applyEvent(g, rs, event)
		},
	}
	apply.Flags().StringVar(&event, "event", "", "a DynamoDB stream event `FILE` (JSON, as Lambda receives it)")
	apply.Flags().StringVar(&item, "item", "", "an item `FILE` in DynamoDB JSON ({\"pk\":{\"S\":\"…\"},…})")
	root.AddCommand(check, apply, c.filterCriteriaCommand(g))
	return root
}

// oneFile accepts exactly one positional argument, the rule set's file.
func oneFile(name string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return &usageError{err: fmt.Errorf("want one rule set FILE, got %d arguments", len(args)), hint: "ddbsync rules " + name + " examples/rules/orders.yaml"}
		}
		return nil
	}
}

// loadRules reads and validates the rule set in path; an invalid one is a
// usage error (exit status 2).
func loadRules(path string) (*rules.RuleSet, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, &usageError{err: fmt.Errorf("read rule set: %w", err), hint: "ddbsync rules check examples/rules/orders.yaml"}
	}
	rs, err := rules.Parse(path, src)
	if err != nil {
		return nil, &usageError{err: err, hint: "ddbsync rules check " + path + " (after fixing the rule named)"}
	}
	return rs, nil
}

func (c *RulesCommand) printSummary(g *globalFlags, rs *rules.RuleSet) error {
	lines := rs.Summary()
	if g.Output != outputText {
		return writeJSON(c.Stdout, struct {
			Valid    bool     `json:"valid"`
			Identity bool     `json:"identity"`
			Rules    []string `json:"rules"`
		}{true, rs.IsIdentity(), lines})
	}
	if rs.IsIdentity() {
		fmt.Fprintf(c.Stdout, "%s: valid, no rules: items are copied as they are\n", rs.Source)
		return nil
	}
	fmt.Fprintf(c.Stdout, "%s: valid, %d rules, applied in order:\n", rs.Source, len(rs.Rules))
	for _, l := range lines {
		fmt.Fprintf(c.Stdout, "  %s\n", l)
	}
	return nil
}

// streamEvent is the part of a Lambda stream event that the rules read.
type streamEvent struct {
	Records []struct {
		EventID      string          `json:"eventID"`
		EventName    string          `json:"eventName"`
		UserIdentity *rules.Identity `json:"userIdentity"`
		DynamoDB     struct {
			Keys           json.RawMessage `json:"Keys"`
			NewImage       json.RawMessage `json:"NewImage"`
			OldImage       json.RawMessage `json:"OldImage"`
			SequenceNumber string          `json:"SequenceNumber"`
		} `json:"dynamodb"`
	} `json:"Records"`
}

// writeReport is one target write in DynamoDB JSON.
type writeReport struct {
	Op   string          `json:"op"`
	Key  json.RawMessage `json:"key"`
	Item json.RawMessage `json:"item,omitempty"`
}

// recordReport is what the rules do to one record.
type recordReport struct {
	Record    int           `json:"record"`
	EventID   string        `json:"eventID,omitempty"`
	EventName string        `json:"eventName"`
	Writes    []writeReport `json:"writes"`
	Error     string        `json:"error,omitempty"`
}

// recordsFailed is the outcome of apply when records fail (exit 1); err
// is the failure of a single item (--item).
type recordsFailed struct {
	n   int
	err error
}

func (e *recordsFailed) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	if e.n == 1 {
		return "1 record the rules cannot apply (see its error above)"
	}
	return fmt.Sprintf("%d records the rules cannot apply (see their errors above)", e.n)
}

func (e *recordsFailed) Unwrap() error { return e.err }

func (c *RulesCommand) applyEvent(g *globalFlags, rs *rules.RuleSet, path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return &usageError{err: &FlagError{Flag: "event", Err: err}, hint: "ddbsync rules apply FILE --event events/insert.json"}
	}
	var ev streamEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return &usageError{err: &FlagError{Flag: "event", Err: fmt.Errorf("decode event: %w", err)}, hint: "ddbsync rules apply FILE --event events/insert.json"}
	}
	var batch rules.Batch
	var reports []recordReport
	failed := 0
	for i, r := range ev.Records {
		rep := recordReport{Record: i + 1, EventID: r.EventID, EventName: r.EventName, Writes: []writeReport{}}
		writes, err := func() ([]rules.Write, error) {
			ch := rules.Change{Event: rules.Event(r.EventName), UserIdentity: r.UserIdentity}
			var err error
			if ch.Keys, err = replicate.DecodeImage(r.DynamoDB.Keys); err != nil {
				return nil, fmt.Errorf("keys: %w", err)
			}
			if ch.NewImage, err = optionalImage(r.DynamoDB.NewImage); err != nil {
				return nil, fmt.Errorf("new image: %w", err)
			}
			if ch.OldImage, err = optionalImage(r.DynamoDB.OldImage); err != nil {
				return nil, fmt.Errorf("old image: %w", err)
			}
			w, err := rs.Writes(ch)
			if err != nil {
				return nil, err
			}
			return w, batch.Check(ch.Keys, w)
		}()
		if err == nil {
			rep.Writes, err = reportWrites(writes)
		}
		if err != nil {
			rep.Error = err.Error()
			failed++
		}
		reports = append(reports, rep)
	}
	if err := c.printRecords(g, reports); err != nil {
		return err
	}
	if failed > 0 {
		return &recordsFailed{n: failed}
	}
	return nil
}

// optionalImage decodes an image that a stream view type may leave out.
func optionalImage(raw json.RawMessage) (map[string]types.AttributeValue, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	return replicate.DecodeImage(raw)
}

// ddbJSON encodes an item or key as DynamoDB JSON with its names sorted,
// so the output is the same on every run.
func ddbJSON(m map[string]types.AttributeValue) (json.RawMessage, error) {
	raw, err := attributevalue.MarshalMapJSON(m)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func reportWrites(ws []rules.Write) ([]writeReport, error) {
	out := make([]writeReport, 0, len(ws))
	for _, w := range ws {
		key, err := ddbJSON(w.Key)
		if err != nil {
			return nil, fmt.Errorf("encode key: %w", err)
		}
		rep := writeReport{Op: string(w.Op), Key: key}
		if w.Op == rules.OpPut {
			if rep.Item, err = ddbJSON(w.Item); err != nil {
				return nil, fmt.Errorf("encode item: %w", err)
			}
		}
		out = append(out, rep)
	}
	return out, nil
}

func (c *RulesCommand) printRecords(g *globalFlags, reports []recordReport) error {
	switch g.Output {
	case outputJSON:
		return writeJSON(c.Stdout, struct {
			Records []recordReport `json:"records"`
		}{reports})
	case outputJSONL:
		for _, r := range reports {
			if err := writeJSON(c.Stdout, r); err != nil {
				return err
			}
		}
		return nil
	}
	for _, r := range reports {
		fmt.Fprintf(c.Stdout, "record %d %s %s:\n", r.Record, r.EventName, r.EventID)
		switch {
		case r.Error != "":
			fmt.Fprintf(c.Stdout, "  error: %s\n", r.Error)
		case len(r.Writes) == 0:
			fmt.Fprintf(c.Stdout, "  no write (filtered out, or a TTL delete skipped)\n")
		}
		for _, w := range r.Writes {
			if w.Op == string(rules.OpPut) {
				fmt.Fprintf(c.Stdout, "  put %s\n", w.Item)
			} else {
				fmt.Fprintf(c.Stdout, "  delete %s\n", w.Key)
			}
		}
	}
	return nil
}

func (c *RulesCommand) applyItem(g *globalFlags, rs *rules.RuleSet, path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return &usageError{err: &FlagError{Flag: "item", Err: err}, hint: "ddbsync rules apply FILE --item ITEM.json"}
	}
	src, err := replicate.DecodeImage(raw)
	if err != nil {
		return &usageError{err: &FlagError{Flag: "item", Err: err}, hint: "ddbsync rules apply FILE --item ITEM.json"}
	}
	out, keep, err := rs.Item(src)
	if err != nil {
		return &recordsFailed{n: 1, err: err}
	}
	var item json.RawMessage
	if keep {
		if item, err = ddbJSON(out); err != nil {
			return fmt.Errorf("encode item: %w", err)
		}
	}
	if g.Output != outputText {
		return writeJSON(c.Stdout, struct {
			Keep bool            `json:"keep"`
			Item json.RawMessage `json:"item,omitempty"`
		}{keep, item})
	}
	if !keep {
		_, err = fmt.Fprintln(c.Stdout, "filtered out: the target would not have this item")
		return err
	}
	_, err = fmt.Fprintf(c.Stdout, "%s\n", item)
	return err
}
