package samtemplate

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

const (
	workflowFile  = ".github/workflows/deploy.yml"
	ciFile        = ".github/workflows/ci.yml"
	buildspecFile = "buildspec.yml"
	samconfigEnv  = "scripts/samconfig-env.py"
	testRequires  = "scripts/test-requirements.txt"
	testSHA       = "0123456789abcdef0123456789abcdef01234567"
)

// storedKeys are signs of long-lived AWS keys in a pipeline.
var storedKeys = regexp.MustCompile(`(?i)aws-access-key-id|aws-secret-access-key|aws_access_key_id|aws_secret_access_key|secrets\.aws`)

// step is one GitHub Actions step.
type step struct {
	name, uses, run string
	with            *yaml.Node
}

func steps(job *yaml.Node) []step {
	var out []step
	for _, s := range field(job, "steps").Content {
		st := step{with: field(s, "with")}
		if n := field(s, "name"); n != nil {
			st.name = n.Value
		}
		if n := field(s, "uses"); n != nil {
			st.uses = n.Value
		}
		if n := field(s, "run"); n != nil {
			st.run = n.Value
		}
		out = append(out, st)
	}
	return out
}

// index returns the first step whose name, run or uses contains s, or -1.
func index(steps []step, s string) int {
	for i, st := range steps {
		if strings.Contains(st.name, s) || strings.Contains(st.run, s) || strings.Contains(st.uses, s) {
			return i
		}
	}
	return -1
}

func TestWorkflow_Deploy(t *testing.T) {
	wf := loadYAML(t, workflowFile)
	text, err := os.ReadFile(filepath.Join(root, workflowFile))
	require.NoError(t, err)

	assert.Contains(t, scalars(field(wf, "on", "push", "branches")), "main")
	assert.Contains(t, scalars(field(wf, "on", "push", "tags")), "v*")
	assert.NotRegexp(t, storedKeys, string(text), "OIDC only: no stored AWS keys")

	jobNames, jobs := entries(field(wf, "jobs"))
	deployAt := -1
	for i, j := range jobs {
		if index(steps(j), "sam deploy") >= 0 {
			deployAt = i
		}
	}
	require.GreaterOrEqual(t, deployAt, 0, "a job runs sam deploy")
	deploy, st := jobs[deployAt], steps(jobs[deployAt])

	t.Run("make test before deploy", func(t *testing.T) {
		before := map[string]bool{}
		var add func(job string)
		add = func(job string) {
			for i, name := range jobNames {
				if name == job && !before[name] {
					before[name] = true
					for _, n := range scalars(field(jobs[i], "needs")) {
						add(n)
					}
				}
			}
		}
		for _, n := range scalars(field(deploy, "needs")) {
			add(n)
		}
		tested := index(st, "make test") >= 0 && index(st, "make test") < index(st, "sam deploy")
		for i, name := range jobNames {
			tested = tested || (before[name] && index(steps(jobs[i]), "make test") >= 0)
		}
		assert.True(t, tested, "make test runs in a job the deploy job needs, or before sam deploy")
	})
	t.Run("OIDC role", func(t *testing.T) {
		perm := field(deploy, "permissions", "id-token")
		if perm == nil {
			perm = field(wf, "permissions", "id-token")
		}
		require.NotNil(t, perm, "permissions: id-token")
		assert.Equal(t, "write", perm.Value)
		creds := index(st, "aws-actions/configure-aws-credentials@")
		require.GreaterOrEqual(t, creds, 0)
		assert.Regexp(t, `^\$\{\{ vars\.[A-Z0-9_]+ \}\}$`, expr(field(st[creds].with, "role-to-assume")), "the role comes from a repository variable")
		keys, _ := entries(st[creds].with)
		for _, k := range keys {
			assert.NotRegexp(t, storedKeys, k)
		}
		assert.Less(t, creds, index(st, "sam deploy"))
	})
	t.Run("build, deploy with the commit, then code-status", func(t *testing.T) {
		build, dep, status := index(st, "sam build"), index(st, "sam deploy"), index(st, "code-status")
		assert.True(t, build >= 0 && build < dep && dep < status, "sam build, sam deploy, code-status in order")
		assert.Contains(t, st[dep].run, "CommitSha=${{ github.sha }}")
		assert.Equal(t, "${{ github.sha }}", expr(field(deploy, "env", "VERSION")), "the binary carries the commit too")
	})
	t.Run("environments", func(t *testing.T) {
		env := expr(field(deploy, "env", "SAM_ENV"))
		assert.Equal(t, "${{ startsWith(github.ref, 'refs/tags/v') && 'prod' || 'dev' }}", env, "v* tags deploy prod, main deploys dev")
		assert.Equal(t, env, expr(field(deploy, "environment")))
	})
	t.Run("the deploy steps run", func(t *testing.T) {
		tests := map[string]struct {
			samEnv, samconfig string
			want              []string
		}{
			"dev": {samEnv: "dev", want: []string{
				"sam [build] [--config-env] [dev] ARCH= VERSION=" + testSHA,
				"sam [deploy] [--config-env] [dev] [--no-progressbar] [--parameter-overrides] [LogRetentionInDays=14] [IteratorAgeAlarmMs=300000] [CommitSha=" + testSHA + "]",
				"go [run] [./cmd/ddbsync] [code-status] [--stack] [ddbsync-dev] [--region] [us-east-1]",
			}},
			"prod": {samEnv: "prod", want: []string{
				"sam [build] [--config-env] [prod] ARCH= VERSION=" + testSHA,
				"sam [deploy] [--config-env] [prod] [--no-progressbar] [--parameter-overrides] [SourceStreamArn=arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000] [TargetTableName=orders-replica] [TargetRegion=us-west-2] [MemorySize=512] [Timeout=120] [BatchSize=500] [MaximumRecordAgeInSeconds=3600] [LogRetentionInDays=90] [AlarmEmail=oncall@example.com] [CommitSha=" + testSHA + "]",
				"go [run] [./cmd/ddbsync] [code-status] [--stack] [ddbsync-prod] [--region] [us-east-1]",
			}},
			// No ARCH from the pipeline: the Makefile reads the Architecture sam build resolved.
			"x86_64": {samEnv: "x", samconfig: "version = 0.1\n[x.global.parameters]\nstack_name = \"s\"\nparameter_overrides = [\"Architecture=x86_64\"]\n[x.deploy.parameters]\nregion = \"eu-west-1\"\n", want: []string{
				"sam [build] [--config-env] [x] ARCH= VERSION=" + testSHA,
				"sam [deploy] [--config-env] [x] [--no-progressbar] [--parameter-overrides] [Architecture=x86_64] [CommitSha=" + testSHA + "]",
				"go [run] [./cmd/ddbsync] [code-status] [--stack] [s] [--region] [eu-west-1]",
			}},
		}
		for name, tt := range tests {
			t.Run(name, func(t *testing.T) {
				sh := newShell(t, tt.samconfig)
				env := []string{"SAM_ENV=" + tt.samEnv, "VERSION=" + testSHA, "COMMIT=" + testSHA}
				first := index(st, "Read samconfig.toml")
				require.GreaterOrEqual(t, first, 0, "a step reads samconfig.toml")
				for _, s := range st[first:] {
					if s.run == "" {
						continue
					}
					env = sh.runGitHubStep(t, s.run, env)
				}
				assert.Equal(t, tt.want, sh.calls(t))
			})
		}
	})
}

func TestBuildspec(t *testing.T) {
	bs := loadYAML(t, buildspecFile)
	text, err := os.ReadFile(filepath.Join(root, buildspecFile))
	require.NoError(t, err)
	assert.Equal(t, "0.2", field(bs, "version").Value)
	assert.NotRegexp(t, storedKeys, string(text), "the project's service role deploys: no stored keys")

	phases := field(bs, "phases")
	commands := func(phase string) []string { return scalars(field(phases, phase, "commands")) }
	joined := func(phase string) string { return strings.Join(commands(phase), "\n") }
	assert.Contains(t, joined("pre_build"), "make test", "tests run before the build phase deploys")
	build := joined("build")
	for _, want := range []string{"sam build", "sam deploy", "CommitSha=$COMMIT", "code-status"} {
		assert.Contains(t, build, want)
	}
	assert.Less(t, strings.Index(build, "sam deploy"), strings.Index(build, "code-status"))
	assert.NotContains(t, joined("post_build"), "code-status", "post_build runs even when the build failed")

	sh := newShell(t, "")
	script := "set -e\nexport SAM_ENV=prod CODEBUILD_RESOLVED_SOURCE_VERSION=" + testSHA + "\n" + build
	sh.run(t, script, nil)
	assert.Equal(t, []string{
		"sam [build] [--config-env] [prod] ARCH= VERSION=" + testSHA,
		"sam [deploy] [--config-env] [prod] [--no-progressbar] [--parameter-overrides] [SourceStreamArn=arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2026-01-01T00:00:00.000] [TargetTableName=orders-replica] [TargetRegion=us-west-2] [MemorySize=512] [Timeout=120] [BatchSize=500] [MaximumRecordAgeInSeconds=3600] [LogRetentionInDays=90] [AlarmEmail=oncall@example.com] [CommitSha=" + testSHA + "]",
		"go [run] [./cmd/ddbsync] [code-status] [--stack] [ddbsync-prod] [--region] [us-east-1]",
	}, sh.calls(t))
}

// shell runs pipeline scripts in a scratch directory holding a copy of
// samconfig.toml, with stand-ins for sam and go that log their arguments.
type shell struct {
	dir, bin, log string
}

func newShell(tb testing.TB, samconfig string) *shell {
	tb.Helper()
	testkit.NeedTool(tb, "bash", "apt-get install bash")
	testkit.NeedTool(tb, "python3", "apt-get install python3 (3.11+, for tomllib)")
	s := &shell{dir: tb.TempDir(), bin: tb.TempDir()}
	s.log = filepath.Join(s.bin, "calls.log")
	if samconfig == "" {
		b, err := os.ReadFile(filepath.Join(root, "samconfig.toml"))
		require.NoError(tb, err)
		samconfig = string(b)
	}
	require.NoError(tb, os.WriteFile(filepath.Join(s.dir, "samconfig.toml"), []byte(samconfig), 0o644))
	script, err := os.ReadFile(filepath.Join(root, samconfigEnv))
	require.NoError(tb, err)
	require.NoError(tb, os.MkdirAll(filepath.Join(s.dir, "scripts"), 0o755))
	require.NoError(tb, os.WriteFile(filepath.Join(s.dir, samconfigEnv), script, 0o755))
	for _, tool := range []string{"sam", "go"} {
		extra := ""
		if tool == "sam" {
			extra = `if [ "$1" = build ]; then line="$line ARCH=$ARCH VERSION=$VERSION"; fi` + "\n"
		}
		script := "#!/usr/bin/env bash\nline=" + tool + "\nfor a in \"$@\"; do line=\"$line [$a]\"; done\n" + extra +
			"printf '%s\\n' \"$line\" >> " + s.log + "\n"
		require.NoError(tb, os.WriteFile(filepath.Join(s.bin, tool), []byte(script), 0o755))
	}
	return s
}

// run runs a bash script as GitHub Actions does (bash -eo pipefail).
func (s *shell) run(tb testing.TB, script string, env []string) {
	tb.Helper()
	cmd := exec.CommandContext(tb.Context(), "bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script)
	cmd.Dir = s.dir
	cmd.Env = append(append(os.Environ(), "PATH="+s.bin+string(os.PathListSeparator)+os.Getenv("PATH")), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(tb, err, "script:\n%s\noutput:\n%s", script, out)
}

// runGitHubStep runs one step's script with env, and returns env plus what
// the step appended to $GITHUB_ENV.
func (s *shell) runGitHubStep(tb testing.TB, script string, env []string) []string {
	tb.Helper()
	script = strings.ReplaceAll(script, "${{ github.sha }}", testSHA)
	require.NotContains(tb, script, "${{", "an expression the test does not evaluate")
	ghEnv := filepath.Join(tb.TempDir(), "github_env")
	require.NoError(tb, os.WriteFile(ghEnv, nil, 0o644))
	s.run(tb, script, append(env, "GITHUB_ENV="+ghEnv))
	f, err := os.Open(ghEnv)
	require.NoError(tb, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			require.Contains(tb, line, "=", "GITHUB_ENV lines are NAME=value")
			env = append(env, line)
		}
	}
	return env
}

// calls returns the logged sam and go invocations.
func (s *shell) calls(tb testing.TB) []string {
	tb.Helper()
	b, err := os.ReadFile(s.log)
	require.NoError(tb, err)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// actionPin is a step's uses: an action pinned by a full commit SHA.
var actionPin = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+@[0-9a-f]{40}$`)

// TestWorkflows_Hygiene checks both GitHub workflows and the buildspec:
// actions pinned by commit, every tool make test needs installed before
// it, and samconfig.toml read by the one script, never inline.
func TestWorkflows_Hygiene(t *testing.T) {
	reqs, err := os.ReadFile(filepath.Join(root, testRequires))
	require.NoError(t, err)
	assert.Regexp(t, `(?m)^cfn-lint==[0-9.]+\s`, string(reqs), "cfn-lint, pinned")
	assert.Regexp(t, `(?m)^moto\[server\]==[0-9.]+\s`, string(reqs), "moto_server (internal/queue's SNS/SQS), pinned")
	install := "pip install -r " + testRequires

	for _, file := range []string{workflowFile, ciFile} {
		t.Run(file, func(t *testing.T) {
			wf := loadYAML(t, file)
			text, err := os.ReadFile(filepath.Join(root, file))
			require.NoError(t, err)
			assert.NotContains(t, string(text), "tomllib", "samconfig.toml is read by %s only", samconfigEnv)
			_, jobs := entries(field(wf, "jobs"))
			for _, j := range jobs {
				st := steps(j)
				for _, s := range st {
					if s.uses != "" {
						assert.Regexp(t, actionPin, s.uses, "pinned by commit SHA")
					}
				}
				if at := index(st, "make "); at >= 0 && strings.Contains(st[at].run, "test") {
					i := index(st, install)
					assert.True(t, i >= 0 && i < at, "%s installs %s before make test", file, testRequires)
				}
				if at := index(st, "Read samconfig.toml"); at >= 0 {
					assert.Contains(t, st[at].run, "python3 "+samconfigEnv)
				}
			}
		})
	}
	t.Run(ciFile, func(t *testing.T) {
		wf := loadYAML(t, ciFile)
		assert.NotNil(t, field(wf, "on", "pull_request"), "every pull request")
		_, jobs := entries(field(wf, "jobs"))
		require.Len(t, jobs, 1)
		st := steps(jobs[0])
		assert.GreaterOrEqual(t, index(st, "make lint test"), 0)
		assert.Equal(t, -1, index(st, "configure-aws-credentials"), "no AWS access on pull requests")
		assert.Nil(t, field(wf, "permissions", "id-token"))
	})
	t.Run(buildspecFile, func(t *testing.T) {
		bs := loadYAML(t, buildspecFile)
		cmds := strings.Join(scalars(field(bs, "phases", "install", "commands")), "\n")
		assert.Contains(t, cmds, install)
		text, err := os.ReadFile(filepath.Join(root, buildspecFile))
		require.NoError(t, err)
		assert.NotContains(t, string(text), "tomllib")
		assert.Contains(t, strings.Join(scalars(field(bs, "phases", "build", "commands")), "\n"), "python3 "+samconfigEnv)
	})
}

// TestSamconfigEnv runs scripts/samconfig-env.py on small samconfig files.
func TestSamconfigEnv(t *testing.T) {
	testkit.NeedTool(t, "python3", "apt-get install python3 (3.11+, for tomllib)")
	script, err := filepath.Abs(filepath.Join(root, samconfigEnv))
	require.NoError(t, err)
	base := "version = 0.1\n[e.global.parameters]\nstack_name = \"st\"\n[e.deploy.parameters]\nregion = \"eu-west-1\"\n"
	tests := map[string]struct {
		samconfig, env string
		out, overrides string
		failure        string
	}{
		"no overrides": {samconfig: base, env: "e", out: "SAM_STACK=st\nSAM_REGION=eu-west-1\nSAM_TEMPLATE=template.yaml\n"},
		"global list": {samconfig: strings.Replace(base, "stack_name = \"st\"\n", "stack_name = \"st\"\nparameter_overrides = [\"A=1\", \"B=x\"]\n", 1), env: "e",
			out: "SAM_STACK=st\nSAM_REGION=eu-west-1\nSAM_TEMPLATE=template.yaml\n", overrides: "A=1\nB=x\n"},
		"deploy string, queue template": {samconfig: base + "parameter_overrides = \"A=1 B=2\"\n[e.build.parameters]\ntemplate_file = \"template-queue.yaml\"\n", env: "e",
			out: "SAM_STACK=st\nSAM_REGION=eu-west-1\nSAM_TEMPLATE=template-queue.yaml\n", overrides: "A=1\nB=2\n"},
		"CommitSha refused":   {samconfig: base + "parameter_overrides = [\"CommitSha=abc\"]\n", env: "e", failure: "CommitSha is the pipeline's"},
		"unknown environment": {samconfig: base, env: "prod", failure: "no environment 'prod'"},
		"no region":           {samconfig: "version = 0.1\n[e.global.parameters]\nstack_name = \"st\"\n", env: "e", failure: "e has no region"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "samconfig.toml"), []byte(tt.samconfig), 0o644))
			cmd := exec.CommandContext(t.Context(), "python3", script, tt.env)
			cmd.Dir = dir
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if tt.failure != "" {
				require.Error(t, err)
				assert.Contains(t, stderr.String(), tt.failure)
				return
			}
			require.NoError(t, err, stderr.String())
			assert.Equal(t, tt.out, stdout.String())
			b, err := os.ReadFile(filepath.Join(dir, ".aws-sam", "parameter-overrides.txt"))
			require.NoError(t, err)
			assert.Equal(t, tt.overrides, string(b))
		})
	}
}
