package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/replattr"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

func TestConfirmer_Confirm(t *testing.T) {
	plan := Plan{Command: "repair", Source: "a", Target: "b", Account: "unknown (endpoint URL http://x)", Region: "r", TargetRegion: "r",
		Endpoint: "http://x", Actions: []string{"delete 3 items"}}
	tests := map[string]struct {
		yes      bool
		terminal bool
		answer   string
		wantErr  error
		wantCode int
		wantOut  string
	}{
		"--yes":               {yes: true, wantCode: exitOK},
		"terminal, y":         {terminal: true, answer: "y\n", wantCode: exitOK, wantOut: "Proceed? [y/N] "},
		"terminal, YES":       {terminal: true, answer: " YES \n", wantCode: exitOK},
		"terminal, n":         {terminal: true, answer: "n\n", wantErr: ErrDeclined, wantCode: exitError},
		"terminal, enter":     {terminal: true, answer: "\n", wantErr: ErrDeclined, wantCode: exitError},
		"terminal, EOF":       {terminal: true, answer: "", wantErr: ErrDeclined, wantCode: exitError},
		"no terminal":         {terminal: false, answer: "y\n", wantCode: exitUsage, wantOut: "ddbsync repair plan:"},
		"no terminal, --yes?": {terminal: false, yes: true, wantCode: exitOK},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			c := confirmer{In: strings.NewReader(tt.answer), Terminal: func() bool { return tt.terminal }, Out: &out}
			err := c.confirm(plan, tt.yes, "ddbsync repair --table a --target-table b --yes")
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			}
			var stderr bytes.Buffer
			assert.Equal(t, tt.wantCode, exitCode(&stderr, "repair", err))
			assert.Contains(t, out.String(), "delete 3 items", "the plan comes first")
			assert.Contains(t, out.String(), tt.wantOut)
			if tt.wantCode == exitUsage {
				assert.Contains(t, stderr.String(), "stdin is not a terminal; pass --yes")
				assert.Contains(t, stderr.String(), "Try: ddbsync repair --table a --target-table b --yes")
			}
		})
	}
}

func TestPlan_Print(t *testing.T) {
	var b strings.Builder
	Plan{Command: "verify --repair", Source: "orders", Target: "orders-copy", Account: "123456789012 (arn:aws:iam::123456789012:user/x)",
		Region: "eu-west-1", TargetRegion: "eu-west-2", Endpoint: "AWS",
		Actions: []string{"put 1 item", "delete 2 items"}, Warnings: []string{"careful"}}.Print(&b)
	assert.Equal(t, `ddbsync verify --repair plan:
  account:  123456789012 (arn:aws:iam::123456789012:user/x)
  source:   table orders, region eu-west-1, endpoint AWS (read only)
  target:   table orders-copy, region eu-west-2, endpoint AWS (written)
  will:     put 1 item
            delete 2 items
  warning:  careful
`, b.String())
}

func TestSuggest(t *testing.T) {
	tests := map[string]struct {
		flags tableFlags
		extra []string
		want  string
	}{
		"no flags": {tableFlags{Table: "a", TargetTable: "b"}, nil, "ddbsync verify --repair --table a --target-table b"},
		"the user's location": {tableFlags{Table: "a", TargetTable: "b", Endpoint: "http://127.0.0.1:8000", Region: "us-east-1", TargetRegion: "eu-west-1"},
			[]string{"--yes"}, "ddbsync verify --repair --endpoint-url http://127.0.0.1:8000 --region us-east-1 --target-region eu-west-1 --table a --target-table b --yes"},
		"default attributes left out": {tableFlags{Table: "a", TargetTable: "b", SeqAttribute: replattr.DefaultSeq, TombstoneAttribute: replattr.DefaultDeleted,
			TombstoneTTLAttribute: replattr.DefaultExpires}, nil, "ddbsync verify --repair --table a --target-table b"},
		"other attributes carried": {tableFlags{Table: "a", TargetTable: "b", SeqAttribute: "seq", TombstoneAttribute: replattr.DefaultDeleted, TombstoneTTLAttribute: "ttl"},
			nil, "ddbsync verify --repair --seq-attribute seq --tombstone-ttl-attribute ttl --table a --target-table b"},
		"quoted": {tableFlags{Table: "my table", TargetTable: "it's"}, nil, `ddbsync verify --repair --table 'my table' --target-table 'it'\''s'`},
		"the target role carried": {tableFlags{Table: "a", TargetTable: "a", roleFlags: roleFlags{TargetRoleARN: "arn:aws:iam::222222222222:role/t",
			TargetExternalID: "x-1"}}, nil, "ddbsync verify --repair --target-role-arn arn:aws:iam::222222222222:role/t --target-external-id x-1 --table a --target-table a"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, suggest("verify --repair", tt.flags, tt.flags.Table, tt.flags.TargetTable, tt.extra...))
		})
	}
}

func TestWriteFlags_CheckMassChange(t *testing.T) {
	tests := map[string]struct {
		flags         writeFlags
		changes, base int64
		refused       bool
	}{
		"swapped: all deleted":        {writeFlags{MaxChangeShare: 0.5}, 19900, 20000, true},
		"half is allowed":             {writeFlags{MaxChangeShare: 0.5}, 500, 1000, false},
		"just over half":              {writeFlags{MaxChangeShare: 0.5}, 501, 1000, true},
		"small tables never":          {writeFlags{MaxChangeShare: 0.5}, massChangeMinItems - 1, massChangeMinItems - 1, false},
		"empty base, many changes":    {writeFlags{MaxChangeShare: 0.5}, 200, 0, true},
		"allowed":                     {writeFlags{MaxChangeShare: 0.5, AllowMassChange: true}, 19900, 20000, false},
		"share 1 allows all":          {writeFlags{MaxChangeShare: 1}, 20000, 20000, false},
		"share 0 refuses from 100 on": {writeFlags{MaxChangeShare: 0}, massChangeMinItems, 1 << 40, true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := tt.flags.checkMassChange(tt.changes, tt.base, "items of target table big", "ddbsync repair --dry-run")
			if !tt.refused {
				assert.NoError(t, err)
				return
			}
			var stderr bytes.Buffer
			assert.Equal(t, exitUsage, exitCode(&stderr, "repair", err))
			assert.Contains(t, stderr.String(), fmt.Sprintf("refused: the repair would delete or overwrite %d of the %d items of target table big", tt.changes, tt.base))
			assert.Contains(t, stderr.String(), "--allow-mass-change")
		})
	}
}

func TestSameTableError(t *testing.T) {
	tests := map[string]struct {
		flags   tableFlags
		write   writeFlags
		writes  bool
		wantErr string
	}{
		"different tables":        {tableFlags{Table: "a", TargetTable: "b"}, writeFlags{}, true, ""},
		"other region":            {tableFlags{Table: "a", TargetTable: "a", Region: "us-east-1", TargetRegion: "eu-west-1"}, writeFlags{}, true, ""},
		"same table":              {tableFlags{Table: "a", TargetTable: "a"}, writeFlags{}, true, "--allow-same-table"},
		"same region spelled out": {tableFlags{Table: "a", TargetTable: "a", Region: "us-east-1", TargetRegion: "us-east-1"}, writeFlags{}, true, "must differ"},
		"allowed":                 {tableFlags{Table: "a", TargetTable: "a"}, writeFlags{AllowSameTable: true}, true, ""},
		"read only verify":        {tableFlags{Table: "a", TargetTable: "a"}, writeFlags{AllowSameTable: true}, false, "must differ from --table (or be in another --target-region)"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := sameTableError(tt.flags, tt.write, tt.writes)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestTableFlags_Attrs(t *testing.T) {
	tests := map[string]struct {
		args     []string
		want     replattr.Names
		wantFlag string
	}{
		"defaults, as the Lambda's": {nil, replattr.Names{Seq: "_ddbsync_seq", Deleted: "_ddbsync_deleted", Expires: "_ddbsync_expires"}, ""},
		"custom": {[]string{"--seq-attribute", "v", "--tombstone-attribute", "gone", "--tombstone-ttl-attribute", "ttl"},
			replattr.Names{Seq: "v", Deleted: "gone", Expires: "ttl"}, ""},
		"empty":     {[]string{"--seq-attribute", ""}, replattr.Names{}, "--seq-attribute: must not be empty"},
		"duplicate": {[]string{"--tombstone-ttl-attribute", "_ddbsync_seq"}, replattr.Names{}, `--tombstone-ttl-attribute: "_ddbsync_seq" is also --seq-attribute`},
	}
	for name, tt := range tests {
		for _, cmd := range []string{"backfill", "verify", "repair"} {
			t.Run(name+"/"+cmd, func(t *testing.T) {
				fs := pflag.NewFlagSet(cmd, pflag.ContinueOnError)
				var tf *tableFlags
				var validate func() error
				switch cmd {
				case "backfill":
					c := &BackfillConfig{}
					c.flags(fs)
					tf, validate = &c.tableFlags, func() error { return c.Validate() }
				case "verify":
					c := &VerifyConfig{}
					c.flags(fs)
					tf, validate = &c.tableFlags, func() error { return c.Validate() }
				default:
					c := &RepairConfig{}
					c.flags(fs)
					tf, validate = &c.tableFlags, func() error { return c.Validate() }
				}
				require.NoError(t, fs.Parse(append([]string{"--table", "a", "--target-table", "b"}, tt.args...)))
				err := validate()
				if tt.wantFlag != "" {
					assert.ErrorContains(t, err, tt.wantFlag)
					return
				}
				require.NoError(t, err)
				assert.Equal(t, tt.want, tf.attrs())
			})
		}
	}
}

func TestDiffSet_Spills(t *testing.T) {
	tests := map[string]struct {
		limit, n  int
		wantSpill bool
	}{
		"in memory": {limit: 10, n: 10},
		"spilled":   {limit: 10, n: 25, wantSpill: true},
		"empty":     {limit: 10, n: 0},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			set := &diffSet{limit: tt.limit}
			kinds := []tablesync.Difference{{Kind: tablesync.Missing}, {Kind: tablesync.Extra}, {Kind: tablesync.Different}}
			want := map[string]bool{}
			for i := range tt.n {
				d := kinds[i%3]
				d.Key = map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: fmt.Sprintf("k%03d", i)}}
				d.Source = order(i, "values are not kept")
				require.NoError(t, set.add(d))
				want[fmt.Sprintf("k%03d", i)] = true
			}
			assert.Equal(t, int64(tt.n), set.total())
			assert.Equal(t, int64((tt.n+2)/3), set.missing)
			assert.Equal(t, tt.wantSpill, set.spill != nil)
			assert.LessOrEqual(t, len(set.keys), tt.limit, "memory is bounded")

			keys := make(chan tablesync.Item)
			errc := make(chan error, 1)
			go func() { defer close(keys); errc <- set.send(t.Context(), keys) }()
			got := map[string]bool{}
			for k := range keys {
				assert.Len(t, k, 1, "keys only")
				got[k["id"].(*types.AttributeValueMemberS).Value] = true
			}
			require.NoError(t, <-errc)
			assert.Equal(t, want, got)

			var path string
			if set.spill != nil {
				path = set.spill.Name()
			}
			require.NoError(t, set.close())
			if path != "" {
				_, err := os.Stat(path)
				assert.True(t, errors.Is(err, os.ErrNotExist), "temp file removed")
			}
		})
	}
}

func TestDiffSet_SendStopsWithContext(t *testing.T) {
	set := &diffSet{limit: 1}
	for i := range 3 {
		require.NoError(t, set.add(tablesync.Difference{Kind: tablesync.Extra, Key: order(i, "x")}))
	}
	defer set.close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assert.ErrorIs(t, set.send(ctx, make(chan tablesync.Item)), context.Canceled)
}

// localIO runs command name against DynamoDB Local like localCmd, with
// stdin answering, terminal saying whether stdin is a terminal, and ctx
// ending as Ctrl-C would.
func localIO(tb testing.TB, ctx context.Context, keyID, name, stdin string, terminal bool, args ...string) (code int, stdout, stderr string) {
	tb.Helper()
	s := testkit.DDB(tb)
	var out, errOut bytes.Buffer
	load := func(context.Context, string) (aws.Config, error) { return s.AWSConfig(keyID), nil }
	tty := func() bool { return terminal }
	args = append([]string{"--endpoint-url", s.Endpoint}, args...)
	var err error
	switch name {
	case "backfill":
		err = (&BackfillCommand{Stdout: &out, Stderr: &errOut, Stdin: strings.NewReader(stdin), stdinTerminal: tty, awsConfig: load}).Run(ctx, args)
	case "verify":
		err = (&VerifyCommand{Stdout: &out, Stderr: &errOut, Stdin: strings.NewReader(stdin), stdinTerminal: tty, awsConfig: load}).Run(ctx, args)
	default:
		err = (&RepairCommand{Stdout: &out, Stderr: &errOut, Stdin: strings.NewReader(stdin), stdinTerminal: tty, awsConfig: load}).Run(ctx, args)
	}
	if ctx.Err() != nil {
		err = &interruptedError{err: err} // as Main does
	}
	return exitCode(&errOut, name, err), out.String(), errOut.String()
}

// TestWriteCommands_Confirm: every writing command prints its plan, then
// writes only with --yes or a terminal's y; without a terminal it is
// refused (exit 2) and nothing is written.
func TestWriteCommands_Confirm(t *testing.T) {
	tests := map[string]struct {
		name      string
		args      []string
		stdin     string
		terminal  bool
		wantCode  int
		wantCopy  int // items in orders-copy afterwards
		wantPlan  []string
		wantInErr string
	}{
		"backfill, no terminal": {"backfill", nil, "", false, exitUsage, 0,
			[]string{"ddbsync backfill plan:", "put every item of orders in orders-copy (about 5 items"}, "pass --yes"},
		"backfill, terminal y":  {"backfill", nil, "y\n", true, exitOK, 5, []string{"Proceed? [y/N]"}, ""},
		"backfill, terminal no": {"backfill", nil, "no\n", true, exitError, 0, []string{"Proceed? [y/N]"}, "cancelled: nothing written"},
		"backfill, --yes":       {"backfill", []string{"--yes"}, "", false, exitOK, 5, []string{"account:  unknown (endpoint URL http://"}, ""},
		"backfill, --dry-run":   {"backfill", []string{"--dry-run"}, "", false, exitOK, 0, []string{"ddbsync backfill plan:"}, ""},
		"verify --repair, no terminal": {"verify", []string{"--repair"}, "", false, exitUsage, 0,
			[]string{"ddbsync verify --repair plan:", "put 5 items missing from orders-copy", "delete 0 items"}, "Try: ddbsync verify --repair --endpoint-url"},
		"verify --repair, terminal y": {"verify", []string{"--repair"}, "y\n", true, exitOK, 5, []string{"Proceed? [y/N]"}, ""},
		"verify --repair --dry-run":   {"verify", []string{"--repair", "--dry-run"}, "", false, exitError, 0, []string{"dry run: each key is re-read"}, "dry run, nothing written"},
		"repair, no terminal":         {"repair", nil, "", false, exitUsage, 0, []string{"ddbsync repair plan:"}, "Try: ddbsync repair --endpoint-url"},
		"repair --dry-run":            {"repair", []string{"--dry-run"}, "", false, exitError, 0, []string{"ddbsync repair plan:"}, "dry run, nothing written"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			keyID := testkit.NewAccessKeyID(t)
			db := syncTables(t, keyID, 5, false)
			args := append([]string{"--table", "orders", "--target-table", "orders-copy", "--quiet", "--recheck-delay", "0"}, tt.args...)
			if tt.name == "backfill" {
				args = append([]string{"--table", "orders", "--target-table", "orders-copy", "--quiet"}, tt.args...)
			}
			code, stdout, stderr := localIO(t, t.Context(), keyID, tt.name, tt.stdin, tt.terminal, args...)
			assert.Equal(t, tt.wantCode, code, stderr)
			for _, want := range tt.wantPlan {
				assert.Contains(t, stderr, want)
			}
			if tt.wantInErr != "" {
				assert.Contains(t, stderr, tt.wantInErr)
			}
			assert.Equal(t, tt.wantCopy, tableCount(t, db, "orders-copy"))
			if tt.name == "backfill" && strings.Contains(name, "dry-run") {
				assert.Contains(t, stdout, "backfill: dry run: would copy 5 items from orders to orders-copy")
			}
		})
	}
}

// TestWriteCommands_CheckTables: before writing, the target must exist
// and have the source's key; the error names table, region and endpoint.
func TestWriteCommands_CheckTables(t *testing.T) {
	keyID := testkit.NewAccessKeyID(t)
	db := testkit.DDB(t).DynamoDB(keyID)
	for _, spec := range []ddblocal.TableSpec{
		{Name: "src", HashKey: "id", StreamViewType: types.StreamViewTypeNewAndOldImages},
		{Name: "other-key", HashKey: "pk"},
		{Name: "number-key", HashKey: "id", HashType: types.ScalarAttributeTypeN},
		{Name: "streamed", HashKey: "id", StreamViewType: types.StreamViewTypeNewAndOldImages},
	} {
		_, err := ddblocal.CreateTable(t.Context(), db, spec)
		require.NoError(t, err)
	}
	putItem(t, db, "src", order(1, "new"))
	endpoint := testkit.DDB(t).Endpoint
	tests := map[string]struct {
		target   string
		wantCode int
		want     string
	}{
		"missing target":      {"nope", exitAWS, "target table nope in region us-east-1 at endpoint " + endpoint + " does not exist"},
		"other key":           {"other-key", exitAWS, "key schemas differ: table src in region us-east-1 at endpoint " + endpoint + " has key [id (S)], table other-key"},
		"key of another type": {"number-key", exitAWS, "key schemas differ: table src in region us-east-1 at endpoint " + endpoint + " has key [id (S)], table number-key in region us-east-1 at endpoint " + endpoint + " has key [id (N)]"},
		"target streamed":     {"streamed", exitUsage, "refused: target table streamed has a stream (NEW_AND_OLD_IMAGES)"},
	}
	for name, tt := range tests {
		for _, cmd := range []string{"backfill", "verify", "repair"} {
			t.Run(name+"/"+cmd, func(t *testing.T) {
				args := []string{"--region", "us-east-1", "--table", "src", "--target-table", tt.target, "--quiet", "--yes"}
				if cmd == "verify" {
					args = append(args, "--repair")
				}
				code, stdout, stderr := localIO(t, t.Context(), keyID, cmd, "", false, args...)
				assert.Equal(t, tt.wantCode, code, stderr)
				assert.Contains(t, stderr, tt.want)
				assert.NotContains(t, stderr, "plan:", "checked before the plan")
				assert.Empty(t, stdout)
			})
		}
	}
	_, err := ddblocal.CreateTable(t.Context(), db, ddblocal.TableSpec{Name: "copy", HashKey: "id"})
	require.NoError(t, err)
	code, _, stderr := localIO(t, t.Context(), keyID, "repair", "", false, "--table", "copy", "--target-table", "src", "--quiet", "--yes")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "source table copy has none: are --table and --target-table swapped?")
	assert.Contains(t, stderr, "Try: ddbsync repair --endpoint-url "+endpoint+" --table src --target-table copy\n", "the hint swaps them back")
}
