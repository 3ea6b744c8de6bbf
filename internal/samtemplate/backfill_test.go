package samtemplate

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/exportload/worker"
	"github.com/ddbsync/ddbsync/internal/localaws/proc"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
)

// The optional backfill stack (issue 14) and its state machine.
const (
	backfillTemplateFile = "template-backfill.yaml"
	backfillASLFile      = "statemachine/backfill.asl.json"
	// aslValidatorVersion is the npm asl-validator pinned for the check.
	aslValidatorVersion = "4.0.0"
)

func TestBackfillTemplate_CfnLint(t *testing.T) {
	lint := testkit.NeedTool(t, "cfn-lint", "pip install cfn-lint")
	cmd := exec.CommandContext(t.Context(), lint, "--", backfillTemplateFile)
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	assert.NoError(t, err, "cfn-lint %s:\n%s", backfillTemplateFile, out)
}

// substituted returns the state machine definition with the template's
// DefinitionSubstitutions filled in as CloudFormation would.
func substituted(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(root, backfillASLFile))
	require.NoError(tb, err)
	tmpl := loadYAML(tb, backfillTemplateFile)
	keys, _ := entries(field(tmpl, "Resources", "BackfillStateMachine", "Properties", "DefinitionSubstitutions"))
	sort.Strings(keys)
	require.Equal(tb, []string{"MaxConcurrency", "WorkerArn"}, keys)
	s := strings.NewReplacer(
		"${WorkerArn}", "arn:aws:lambda:us-east-1:123456789012:function:ddbsync-export-worker",
		"${MaxConcurrency}", "40",
	).Replace(string(b))
	require.NotContains(tb, s, "${", "every substitution is declared")
	return []byte(s)
}

// installASLValidator installs the pinned npm asl-validator once into
// <repo>/.local-aws/asl-validator (git-ignored) and returns its program.
func installASLValidator(tb testing.TB) string {
	tb.Helper()
	testkit.NeedTool(tb, "npm", "install Node.js and npm")
	dir, err := filepath.Abs(filepath.Join(root, ".local-aws", "asl-validator-"+aslValidatorVersion))
	require.NoError(tb, err)
	bin := filepath.Join(dir, "node_modules", ".bin", "asl-validator")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	require.NoError(tb, os.MkdirAll(filepath.Dir(dir), 0o755))
	unlock, err := proc.LockFile(tb.Context(), dir+".lock")
	require.NoError(tb, err)
	defer unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := exec.CommandContext(tb.Context(), "npm", "install", "--no-audit", "--no-fund", "--prefix", dir, "asl-validator@"+aslValidatorVersion)
	out, err := cmd.CombinedOutput()
	require.NoError(tb, err, "npm install asl-validator:\n%s", out)
	return bin
}

// TestBackfillStateMachine_ASLValidator validates the definition, with its
// substitutions made, with npm asl-validator.
func TestBackfillStateMachine_ASLValidator(t *testing.T) {
	bin := installASLValidator(t)
	def := filepath.Join(t.TempDir(), "backfill.asl.json")
	require.NoError(t, os.WriteFile(def, substituted(t), 0o644))
	out, err := exec.CommandContext(t.Context(), bin, "--json-path", def).CombinedOutput()
	assert.NoError(t, err, "asl-validator:\n%s", out)
}

// TestBackfillStateMachine_Shape checks what the backfill's promises rest
// on: a Distributed Map reading manifest-files.json as JSON Lines, no
// tolerated failure, a bounded concurrency, an ItemSelector whose output
// is exactly the worker's Input, retries of throttling but not of a
// refused file, and a loop until the file is done.
func TestBackfillStateMachine_Shape(t *testing.T) {
	var def struct {
		States map[string]json.RawMessage
	}
	require.NoError(t, json.Unmarshal(substituted(t), &def))
	var m struct {
		Type       string
		ItemReader struct {
			Resource     string
			ReaderConfig struct{ InputType string }
		}
		ItemSelector               map[string]any
		MaxConcurrencyPath         string
		ToleratedFailurePercentage *float64
		ToleratedFailureCount      *float64
		ItemProcessor              struct {
			ProcessorConfig struct{ Mode, ExecutionType string }
			StartAt         string
			States          map[string]json.RawMessage
		}
		ResultWriter map[string]any
	}
	require.NoError(t, json.Unmarshal(def.States["LoadFiles"], &m))
	assert.Equal(t, "Map", m.Type)
	assert.Equal(t, "DISTRIBUTED", m.ItemProcessor.ProcessorConfig.Mode)
	assert.Equal(t, "arn:aws:states:::s3:getObject", m.ItemReader.Resource)
	assert.Equal(t, "JSONL", m.ItemReader.ReaderConfig.InputType)
	require.NotNil(t, m.ToleratedFailurePercentage)
	require.NotNil(t, m.ToleratedFailureCount)
	assert.Zero(t, *m.ToleratedFailurePercentage)
	assert.Zero(t, *m.ToleratedFailureCount)
	assert.Equal(t, "$.MaxConcurrency", m.MaxConcurrencyPath)
	assert.NotEmpty(t, m.ResultWriter, "a result summary")

	// The ItemSelector's fields are worker.Input's JSON names.
	var selected []string
	for k := range m.ItemSelector {
		selected = append(selected, strings.TrimSuffix(k, ".$"))
	}
	sort.Strings(selected)
	assert.Equal(t, jsonNames(reflect.TypeOf(worker.Input{})), selected)
	assert.Equal(t, "$$.Map.Item.Value", m.ItemSelector["File.$"])

	var task struct {
		Resource   string
		Parameters map[string]any
		Retry      []struct{ ErrorEquals []string }
		Next       string
	}
	require.NoError(t, json.Unmarshal(m.ItemProcessor.States[m.ItemProcessor.StartAt], &task))
	assert.Equal(t, "arn:aws:states:::lambda:invoke", task.Resource)
	assert.Equal(t, "$", task.Parameters["Payload.$"], "the child's input is the worker's input as is")
	var retried []string
	for _, r := range task.Retry {
		retried = append(retried, r.ErrorEquals...)
	}
	assert.Contains(t, retried, reflect.TypeOf(worker.RetryableError{}).Name())
	assert.Contains(t, retried, "Lambda.TooManyRequestsException")
	for _, never := range []any{worker.VerifyError{}, worker.InputError{}, worker.LoadError{}} {
		assert.NotContains(t, retried, reflect.TypeOf(never).Name())
	}
	assert.NotContains(t, retried, "States.ALL")

	var again struct{ Parameters map[string]any }
	require.NoError(t, json.Unmarshal(m.ItemProcessor.States["Continue"], &again))
	assert.Equal(t, "$.Result.LinesDone", again.Parameters["LinesDone.$"], "an unfinished file goes on from its watermark")
}

// jsonNames returns the sorted JSON names of a struct's fields.
func jsonNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// TestBackfillTemplate_Worker checks the worker's build, timeout and the
// permissions it and the state machine need, and no more.
func TestBackfillTemplate_Worker(t *testing.T) {
	tmpl := loadYAML(t, backfillTemplateFile)
	fn := field(tmpl, "Resources", "ExportWorkerFunction")
	assert.Equal(t, "makefile", plain(field(fn, "Metadata", "BuildMethod")))
	assert.Equal(t, "900", plain(field(fn, "Properties", "Timeout")))
	assert.Equal(t, "bootstrap", plain(field(fn, "Properties", "Handler")))
	var actions []string
	stmts := field(field(tmpl, "Resources", "ExportWorkerRole", "Properties", "Policies").Content[0], "PolicyDocument", "Statement")
	for _, st := range stmts.Content {
		actions = append(actions, scalars(field(st, "Action"))...)
	}
	assert.NotContains(t, actions, "dynamodb:DeleteItem", "a load only puts")
	assert.NotContains(t, actions, "s3:PutObject")
	assert.Contains(t, actions, "dynamodb:BatchWriteItem")
}
