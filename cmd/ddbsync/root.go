package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// envPrefix starts the environment variable of every flag: --max-wcu is
// DDBSYNC_MAX_WCU.
const envPrefix = "DDBSYNC_"

// Output formats of --output.
const (
	outputText  = "text"
	outputJSON  = "json"
	outputJSONL = "jsonl"
)

// globalFlags are the flags of every command, as the AWS CLI names them.
type globalFlags struct {
	Profile  string
	Region   string
	Endpoint string
	Output   string
	Quiet    bool
	NoColor  bool
}

func (g *globalFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&g.Profile, "profile", "", "use the `NAME`d profile of the AWS shared config and credentials files (default:\nAWS_PROFILE, else the default profile)")
	fs.StringVar(&g.Region, "region", "", "AWS `REGION` (default: AWS_REGION or the profile's region)")
	fs.StringVar(&g.Endpoint, "endpoint-url", "", "`URL` of DynamoDB and DynamoDB Streams, e.g. DynamoDB Local's http://127.0.0.1:8000\n(default: AWS, or AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_DYNAMODB_STREAMS)")
	fs.StringVar(&g.Output, "output", outputText, "`FORMAT` of the report on stdout: text, json (one JSON object) or jsonl (JSON lines)")
	fs.BoolVar(&g.Quiet, "quiet", false, "print no progress, only warnings, errors and results")
	fs.BoolVar(&g.NoColor, "no-color", false, "never color the output (NO_COLOR is honoured too; ddbsync prints no color codes today)")
}

func (g globalFlags) validate() error {
	switch g.Output {
	case outputText, outputJSON, outputJSONL:
		return nil
	}
	return &FlagError{Flag: "output", Err: fmt.Errorf("%q must be text, json or jsonl", g.Output)}
}

// exitStatusHelp is the exit status section of every command's help; one
// says what exit status 1 means for the command.
func exitStatusHelp(one string) string {
	return `Exit status (the same for every command):
  0    done
  1    ` + one + `
  2    usage error: a wrong command line, a refusal, or a write without --yes
       and without a terminal
  3    AWS, permission or configuration error: no credentials or region, a
       missing table or stack, access denied, throttling, an unreachable endpoint
  130  interrupted (Ctrl-C, SIGTERM): what was printed is partial and says so
`
}

// commandBuilder makes a command's cobra.Command, bound to the global
// flags g.
type commandBuilder func(g *globalFlags) *cobra.Command

// newRoot returns the ddbsync command with the given subcommands.
func newRoot(stdout, stderr io.Writer, subs ...commandBuilder) (*cobra.Command, *globalFlags) {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:                        "ddbsync",
		Short:                      "keep a copy of a DynamoDB table in step with the table's stream",
		Version:                    cliVersion(),
		SilenceErrors:              true,
		SilenceUsage:               true,
		SuggestionsMinimumDistance: 2,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			hint := "ddbsync help"
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				hint = "ddbsync " + s[0] + " --help (did you mean " + strings.Join(s, " or ") + "?)"
			}
			return &usageError{err: fmt.Errorf("unknown command %q", args[0]), hint: hint}
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			Usage(stderr)
			return errNoCommand
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd); err != nil {
				return err
			}
			if err := g.validate(); err != nil {
				return &usageError{err: err, hint: "ddbsync " + cmd.Name() + " --help"}
			}
			return nil
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetVersionTemplate("ddbsync {{.Version}}\n")
	root.CompletionOptions.HiddenDefaultCmd = false
	g.bind(root.PersistentFlags())
	root.SetHelpFunc(func(cmd *cobra.Command, _ []string) {
		if cmd == root {
			Usage(cmd.OutOrStdout())
			return
		}
		if h, ok := cmd.Annotations[annotationHelp]; ok {
			fmt.Fprint(cmd.OutOrStdout(), h)
		} else {
			fmt.Fprintf(cmd.OutOrStdout(), "Usage: %s\n\n%s\n", cmd.UseLine(), strings.TrimSpace(cmd.Long))
		}
		printCommandFlags(cmd.OutOrStdout(), cmd)
		markHelped(cmd)
	})
	root.SetFlagErrorFunc(flagError)
	for _, sub := range subs {
		root.AddCommand(sub(g))
	}
	root.AddCommand(newVersionCommand(g))
	root.SetGlobalNormalizationFunc(awsFlagNames)
	var longs func(*cobra.Command)
	longs = func(c *cobra.Command) {
		if h, ok := c.Annotations[annotationHelp]; ok && c.Long == "" {
			// The man pages' description: the help without its usage line.
			if _, rest, found := strings.Cut(h, "\n\n"); found {
				c.Long = rest
			}
		}
		for _, sub := range c.Commands() {
			longs(sub)
		}
	}
	longs(root)
	return root, g
}

// annotationHelp is the cobra annotation holding a command's help text,
// printed above its flags.
const annotationHelp = "ddbsync-help"

// annotationHelped marks a command whose help was printed, so that Run
// can return flag.ErrHelp.
const annotationHelped = "ddbsync-helped"

func markHelped(cmd *cobra.Command) {
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	cmd.Annotations[annotationHelped] = "yes"
}

// errNoCommand is `ddbsync` without a command: the usage is printed, exit 2.
var errNoCommand = &usageError{err: errors.New("no command"), hint: "ddbsync help"}

// awsFlagNames accepts the AWS CLI's names of flags that mean the same:
// --table-name is --table.
func awsFlagNames(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	switch name {
	case "table-name":
		name = "table"
	case "target-table-name":
		name = "target-table"
	}
	return pflag.NormalizedName(name)
}

// envName returns the environment variable of a flag.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// applyEnv sets every flag of cmd not given on the command line from its
// DDBSYNC_* environment variable, if set.
func applyEnv(cmd *cobra.Command) error {
	var errs []error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "help" || f.Name == "version" {
			return
		}
		v, ok := os.LookupEnv(envName(f.Name))
		if !ok {
			return
		}
		if err := cmd.Flags().Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("%s (for --%s): %w", envName(f.Name), f.Name, err))
		}
	})
	if len(errs) > 0 {
		return &usageError{err: errors.Join(errs...), hint: "ddbsync " + cmd.Name() + " --help"}
	}
	return nil
}

// flagError turns a flag parsing error into a usage error, suggesting the
// nearest flag name for an unknown one.
func flagError(cmd *cobra.Command, err error) error {
	hint := "ddbsync " + cmd.Name() + " --help"
	var notExist *pflag.NotExistError
	if errors.As(err, &notExist) && notExist.GetSpecifiedName() != "" {
		if s := nearestFlag(cmd, notExist.GetSpecifiedName()); s != "" {
			err = fmt.Errorf("%w (did you mean --%s?)", err, s)
		}
	}
	return &usageError{err: err, hint: hint}
}

// nearestFlag returns the flag of cmd whose name is closest to name, if it
// is close enough to be a typo.
func nearestFlag(cmd *cobra.Command, name string) string {
	best, bestD := "", 3
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if d := distance(name, f.Name); d < bestD || d == bestD && f.Name < best {
			best, bestD = f.Name, d
		}
	})
	if bestD > 2 {
		return ""
	}
	return best
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// noArgs refuses positional arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return &usageError{err: fmt.Errorf("unexpected argument %q", args[0]), hint: "ddbsync " + cmd.Name() + " --help"}
	}
	return nil
}

// printCommandFlags prints cmd's own flags, then the global ones.
func printCommandFlags(w io.Writer, cmd *cobra.Command) {
	local := cmd.LocalNonPersistentFlags()
	if local.HasAvailableFlags() {
		fmt.Fprint(w, "\nFlags:\n")
		printFlags(w, local)
	}
	inherited := cmd.InheritedFlags()
	if inherited.HasAvailableFlags() {
		fmt.Fprint(w, "\nGlobal flags (every flag can also be set as DDBSYNC_<NAME>, e.g. DDBSYNC_REGION):\n")
		printFlags(w, inherited)
	}
}

// printFlags documents every flag of fs in name order, each as "--name
// ARG" with its usage and default.
func printFlags(w io.Writer, fs *pflag.FlagSet) {
	var flags []*pflag.Flag
	fs.VisitAll(func(f *pflag.Flag) {
		if !f.Hidden && f.Name != "help" {
			flags = append(flags, f)
		}
	})
	sort.Slice(flags, func(i, j int) bool { return flags[i].Name < flags[j].Name })
	for _, f := range flags {
		arg, usage := pflag.UnquoteUsage(f)
		switch arg {
		case "":
		case "float64":
			arg = " FLOAT"
		case "stringArray", "stringSlice":
			arg = " VALUE"
		default:
			arg = " " + strings.ToUpper(arg)
		}
		fmt.Fprintf(w, "  --%s%s\n", f.Name, arg)
		for _, line := range strings.Split(usage, "\n") {
			fmt.Fprintf(w, "        %s\n", line)
		}
		switch f.DefValue {
		case "", "0", "0s", "false", "[]":
		default:
			fmt.Fprintf(w, "        (default %s)\n", f.DefValue)
		}
	}
}

// runOne runs the command made by build alone, as `ddbsync NAME args...`:
// the commands' Run methods. It returns the command's error, or
// flag.ErrHelp when it printed its help.
func runOne(ctx context.Context, stdout, stderr io.Writer, build commandBuilder, args []string) error {
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	root, _ := newRoot(stdout, stderr, build)
	var name string
	for _, c := range root.Commands() {
		if c.Name() != "version" && c.Name() != "help" && c.Name() != "completion" {
			name = c.Name()
		}
	}
	root.SetArgs(append([]string{name}, args...))
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil && cmd != nil && cmd.Annotations[annotationHelped] != "" {
		return flag.ErrHelp
	}
	return err
}
