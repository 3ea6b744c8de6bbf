package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/spf13/pflag"

	"github.com/ddbsync/ddbsync/internal/replattr"
	"github.com/ddbsync/ddbsync/internal/rules"
	"github.com/ddbsync/ddbsync/internal/tablesync"
)

// Guard rail defaults.
const (
	// defaultMaxChangeShare is the largest share of the target that a
	// repair may delete or overwrite without --allow-mass-change.
	defaultMaxChangeShare = 0.5
	// massChangeMinItems is the fewest deletes and overwrites that can be
	// refused as a mass change, so that small tables are never blocked.
	massChangeMinItems = 100
)

// The help text of the guard rails, shared by every writing command.
const (
	guardRailsHelp = `Before any write it checks that both tables exist and have the same key,
and prints a plan on stderr: the account (STS GetCallerIdentity; unknown
with --endpoint-url), the tables, region and endpoint, and what will be
written. Then --yes proceeds, a terminal is asked "Proceed? [y/N]", and
anything else is refused (exit 2). --dry-run prints the plan and writes
nothing. Refused unless overridden: a target that is the source
(--allow-same-table) and a target with a stream of its own, usually the
replicated source with the flags swapped (--allow-target-stream).
`
	massChangeHelp = `The differences are all found first (their keys kept on disk past 10,000),
then the plan gives the puts, overwrites and deletes, and a repair that
would delete or overwrite more than --max-change-share of the target's
items (and at least 100) is refused before its first write unless
--allow-mass-change.
`
)

// ErrDeclined is returned when the user answers no to "Proceed?".
var ErrDeclined = errors.New("cancelled: nothing written")

// Plan is what a writing command is about to do, printed on stderr before
// its first write.
type Plan struct {
	// Command names the command, e.g. "verify --repair".
	Command string
	// Source and Target are the table names.
	Source, Target string
	// Account is the AWS account, or why it is unknown.
	Account string
	// Region and TargetRegion are the tables' regions.
	Region, TargetRegion string
	// Endpoint is where DynamoDB is reached (a URL, or "AWS").
	Endpoint string
	// TargetRole is the role the target is written as (--target-role-arn,
	// a table in the role's account; "": the account above).
	TargetRole string
	// Actions say what will be written, with counts where known.
	Actions []string
	// Warnings are printed after the actions.
	Warnings []string
	// Rules describes the rule set the copy is made with (none: empty).
	Rules []string
}

// Print writes the plan to w.
func (p Plan) Print(w io.Writer) {
	fmt.Fprintf(w, "ddbsync %s plan:\n", p.Command)
	fmt.Fprintf(w, "  account:  %s\n", p.Account)
	fmt.Fprintf(w, "  source:   table %s, region %s, endpoint %s (read only)\n", p.Source, p.Region, p.Endpoint)
	if p.TargetRole != "" {
		fmt.Fprintf(w, "  target:   table %s, region %s, endpoint %s, as role %s (its account; written)\n", p.Target, p.TargetRegion, p.Endpoint, p.TargetRole)
	} else {
		fmt.Fprintf(w, "  target:   table %s, region %s, endpoint %s (written)\n", p.Target, p.TargetRegion, p.Endpoint)
	}
	for i, r := range p.Rules {
		label := "rules:"
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(w, "  %-9s %s\n", label, r)
	}
	for i, a := range p.Actions {
		label := "will:"
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(w, "  %-9s %s\n", label, a)
	}
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "  warning:  %s\n", warn)
	}
}

// confirmer asks before a write: --yes proceeds, a terminal is asked
// "Proceed? [y/N]", anything else is refused.
type confirmer struct {
	// In is where the answer is read (default os.Stdin).
	In io.Reader
	// Terminal reports whether In is a terminal (default: checks os.Stdin).
	Terminal func() bool
	// Out receives the plan and the question.
	Out io.Writer
}

// confirm prints p and returns nil if the write may go ahead: yes is set,
// or a terminal user answered y. Without a terminal it returns a usage
// error (exit 2) whose hint is retry, the command line with --yes.
func (c confirmer) confirm(p Plan, yes bool, retry string) error {
	p.Print(c.Out)
	if yes {
		return nil
	}
	in, terminal := c.In, c.Terminal
	if in == nil {
		in = os.Stdin
	}
	if terminal == nil {
		terminal = func() bool { return isTerminalReader(in) }
	}
	if !terminal() {
		return &usageError{err: errors.New("refusing to write without confirmation: stdin is not a terminal; pass --yes to proceed"), hint: retry}
	}
	fmt.Fprint(c.Out, "Proceed? [y/N] ")
	answer, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return ErrDeclined
}

// isTerminalReader reports whether r is a terminal.
func isTerminalReader(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// writeFlags are the guard rails of a command that writes to the target.
type writeFlags struct {
	Yes               bool
	DryRun            bool
	AllowSameTable    bool
	AllowTargetStream bool
	AllowMassChange   bool
	MaxChangeShare    float64
}

// bind adds the flags; dryRun documents --dry-run for the command.
func (w *writeFlags) bind(fs *pflag.FlagSet, dryRun string) {
	w.bindConfirm(fs, dryRun)
	fs.BoolVar(&w.AllowSameTable, "allow-same-table", false, "write even though --target-table is --table in the same region (refused by default)")
	fs.BoolVar(&w.AllowTargetStream, "allow-target-stream", false, "write even though the target has a stream of its own: refused by default, as a\ntarget with a stream is usually the replicated source (--table and --target-table swapped)")
}

// bindConfirm adds --yes and --dry-run alone, for a command that writes
// without the two tables' guard rails (create-target).
func (w *writeFlags) bindConfirm(fs *pflag.FlagSet, dryRun string) {
	fs.BoolVar(&w.Yes, "yes", false, "write without asking: after the plan, proceed (needed when stdin is not a terminal)")
	fs.BoolVar(&w.DryRun, "dry-run", false, dryRun)
}

// bindRepair adds the mass-change flags of the commands that repair.
func (w *writeFlags) bindRepair(fs *pflag.FlagSet) {
	fs.BoolVar(&w.AllowMassChange, "allow-mass-change", false, "repair even though it would delete or overwrite more than --max-change-share of the target")
	fs.Float64Var(&w.MaxChangeShare, "max-change-share", defaultMaxChangeShare, fmt.Sprintf("`SHARE` (0 to 1) of the target's items that a repair may delete or overwrite; more is\nrefused before any write, unless --allow-mass-change (changes below %d items are never refused)", massChangeMinItems))
}

func (w writeFlags) validate() []error {
	if w.MaxChangeShare < 0 || w.MaxChangeShare > 1 {
		return []error{&FlagError{Flag: "max-change-share", Err: fmt.Errorf("%g must be 0 to 1", w.MaxChangeShare)}}
	}
	return nil
}

// refused returns the usage error (exit 2) of a guard rail.
func refused(reason, hint string) error {
	return &usageError{err: errors.New("refused: " + reason), hint: hint}
}

// checkMassChange refuses a repair that deletes or overwrites more than
// the allowed share of the base items of the target (base says what they
// are, e.g. "items of target table big").
func (w writeFlags) checkMassChange(changes, base int64, what, hint string) error {
	if w.AllowMassChange || changes < massChangeMinItems || float64(changes) <= w.MaxChangeShare*float64(base) {
		return nil
	}
	share := "all"
	if base > 0 {
		share = fmt.Sprintf("%.1f%%", 100*float64(changes)/float64(base))
	}
	return refused(fmt.Sprintf("the repair would delete or overwrite %d of the %d %s (%s, more than --max-change-share %g): "+
		"are --table and --target-table swapped? check with --dry-run, or pass --allow-mass-change", changes, base, what, share, w.MaxChangeShare), hint)
}

// sameTable reports whether the two tables are one: the same name, region
// and (one --endpoint-url for both) endpoint, and no --target-role-arn (a
// role reaches another account's table of the same name).
func (t tableFlags) sameTable() bool {
	return t.Table != "" && t.Table == t.TargetTable && (t.TargetRegion == "" || t.TargetRegion == t.Region) && t.TargetRoleARN == ""
}

// location is where the tables are, for plans and errors.
type location struct {
	Region, TargetRegion, Endpoint string
	// Account names the AWS account (STS, asked once); nil: unknown.
	Account func() string
}

// account names the AWS account of the tables.
func (l location) account() string {
	if l.Account == nil {
		return "unknown"
	}
	return l.Account()
}

// where describes a table for an error message.
func (l location) where(table string, target bool) string {
	region := l.Region
	if target {
		region = l.TargetRegion
	}
	return fmt.Sprintf("table %s in region %s at endpoint %s", table, region, l.Endpoint)
}

// describeTables describes both tables before any write and checks that
// they exist, that their keys match, and (unless allowed) that the target
// has no stream of its own. A missing table's error names table, region
// and endpoint.
//
// With a rule set rs (nil: none) the target's key must be the one the
// rules give (rs.TargetKeyNames of the source's key): a target keyed
// otherwise is refused before any write, which also catches a forgotten
// --rules.
func describeTables(ctx context.Context, src, dst tablesync.Scanner, t tableFlags, w writeFlags, loc location, cmd string, rs *rules.RuleSet) (tablesync.TableInfo, tablesync.TableInfo, error) {
	describe := func(api tablesync.Scanner, table string, target bool) (tablesync.TableInfo, error) {
		info, err := tablesync.Describe(ctx, api, table)
		var notFound *types.ResourceNotFoundException
		switch {
		case errors.As(err, &notFound):
			role := "source"
			if target {
				role = "target"
			}
			return info, &awsError{err: fmt.Errorf("%s %s does not exist (account %s): %w", role, loc.where(table, target), loc.account(), err)}
		case err != nil:
			return info, fmt.Errorf("check %s: %w", loc.where(table, target), err)
		}
		return info, nil
	}
	s, err := describe(src, t.Table, false)
	if err != nil {
		return s, tablesync.TableInfo{}, err
	}
	d, err := describe(dst, t.TargetTable, true)
	if err != nil {
		return s, d, err
	}
	if rs.IsIdentity() && !s.SameKey(d) {
		hint := ""
		if !slices.Equal(s.Keys, d.Keys) {
			hint = "; if the copy is made with a rule set that re-keys it, pass it with --rules FILE"
		}
		return s, d, &awsError{err: fmt.Errorf("check key schema: %w: %s has key %s, %s has key %s%s",
			tablesync.ErrKeySchema, loc.where(t.Table, false), s.KeyString(), loc.where(t.TargetTable, true), d.KeyString(), hint)}
	}
	if !rs.IsIdentity() {
		if err := tablesync.CheckTargetKey(s, d, rs); err != nil {
			return s, d, &awsError{err: fmt.Errorf("check key schema: %s is not keyed as --rules %s makes the copy: %w", loc.where(t.TargetTable, true), rs.Source, err)}
		}
	}
	if d.StreamEnabled && !w.AllowTargetStream {
		reason := fmt.Sprintf("target table %s has a stream (%s), as the replicated source has", t.TargetTable, d.StreamViewType)
		hint := suggest(cmd, t, t.Table, t.TargetTable, "--allow-target-stream")
		if !s.StreamEnabled {
			reason += fmt.Sprintf(", and source table %s has none: are --table and --target-table swapped?", t.Table)
			hint = suggest(cmd, t, t.TargetTable, t.Table)
		}
		return s, d, refused(reason+" Pass --allow-target-stream if the target really has a stream of its own", hint)
	}
	return s, d, nil
}

// suggest renders a ddbsync command line for a hint: cmd (e.g. "verify
// --repair") with the user's --endpoint-url, --region, --target-region,
// target role and attribute names, the two tables, then extra.
func suggest(cmd string, t tableFlags, table, target string, extra ...string) string {
	args := []string{"ddbsync", cmd}
	add := func(flag, v, def string) {
		if v != "" && v != def {
			args = append(args, flag, shellQuote(v))
		}
	}
	add("--profile", t.Profile, "")
	add("--endpoint-url", t.Endpoint, "")
	add("--region", t.Region, "")
	add("--target-region", t.TargetRegion, "")
	// Without the role the command would read or write a table of the
	// caller's own account instead of the target's.
	add("--target-role-arn", t.TargetRoleARN, "")
	add("--target-external-id", t.TargetExternalID, "")
	add("--seq-attribute", t.SeqAttribute, replattr.DefaultSeq)
	add("--tombstone-attribute", t.TombstoneAttribute, replattr.DefaultDeleted)
	add("--tombstone-ttl-attribute", t.TombstoneTTLAttribute, replattr.DefaultExpires)
	args = append(args, "--table", shellQuote(table), "--target-table", shellQuote(target))
	return strings.Join(append(args, extra...), " ")
}

// shellQuote quotes v for a POSIX shell if it needs it.
func shellQuote(v string) string {
	if v != "" && strings.IndexFunc(v, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:/=@%+,", r))
	}) < 0 {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// interrupted reports whether err comes from the end of ctx (Ctrl-C).
func interrupted(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, context.Canceled)
}

// sameTableError is the error of --target-table naming --table in the
// same region, unless a writing command allows it.
func sameTableError(t tableFlags, w writeFlags, writes bool) error {
	switch {
	case !t.sameTable():
		return nil
	case !writes:
		return &FlagError{Flag: "target-table", Err: errors.New("must differ from --table (or be in another --target-region)")}
	case w.AllowSameTable:
		return nil
	}
	return &FlagError{Flag: "target-table", Err: errors.New("must differ from --table (or be in another --target-region); --allow-same-table writes a table onto itself")}
}
