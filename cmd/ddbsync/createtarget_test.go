package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/retry"
)

// localExtras stands in, over a DynamoDB Local client, for what DynamoDB
// Local lacks: point-in-time recovery (DescribeContinuousBackups and
// UpdateContinuousBackups are unknown operations there), tag listing
// ("Tagging is not currently supported"), and the table class and KMS
// encryption in DescribeTable (it accepts them in CreateTable but never
// describes them). It records the CreateTable request and the
// UpdateContinuousBackups calls.
type localExtras struct {
	*dynamodb.Client
	source string
	tags   []types.Tag

	mu      sync.Mutex
	created *dynamodb.CreateTableInput
	pitr    []*dynamodb.UpdateContinuousBackupsInput
	// pitrUnavailable is how many UpdateContinuousBackups calls fail
	// first, as on a new table whose continuous backups are not yet on.
	pitrUnavailable int
}

func (f *localExtras) DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, o ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	out, err := f.Client.DescribeTable(ctx, in, o...)
	if err == nil && aws.ToString(in.TableName) == f.source {
		out.Table.TableClassSummary = &types.TableClassSummary{TableClass: types.TableClassStandardInfrequentAccess}
		out.Table.SSEDescription = &types.SSEDescription{Status: types.SSEStatusEnabled, SSEType: types.SSETypeKms,
			KMSMasterKeyArn: aws.String("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")}
	}
	return out, err
}

func (f *localExtras) DescribeContinuousBackups(_ context.Context, in *dynamodb.DescribeContinuousBackupsInput, _ ...func(*dynamodb.Options)) (*dynamodb.DescribeContinuousBackupsOutput, error) {
	return &dynamodb.DescribeContinuousBackupsOutput{ContinuousBackupsDescription: &types.ContinuousBackupsDescription{
		ContinuousBackupsStatus: types.ContinuousBackupsStatusEnabled,
		PointInTimeRecoveryDescription: &types.PointInTimeRecoveryDescription{
			PointInTimeRecoveryStatus: types.PointInTimeRecoveryStatusEnabled, RecoveryPeriodInDays: aws.Int32(14)},
	}}, nil
}

func (f *localExtras) ListTagsOfResource(_ context.Context, in *dynamodb.ListTagsOfResourceInput, _ ...func(*dynamodb.Options)) (*dynamodb.ListTagsOfResourceOutput, error) {
	return &dynamodb.ListTagsOfResourceOutput{Tags: f.tags}, nil
}

func (f *localExtras) CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, o ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
	f.mu.Lock()
	f.created = in
	f.mu.Unlock()
	return f.Client.CreateTable(ctx, in, o...)
}

func (f *localExtras) UpdateContinuousBackups(_ context.Context, in *dynamodb.UpdateContinuousBackupsInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateContinuousBackupsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pitrUnavailable > 0 {
		f.pitrUnavailable--
		return nil, &types.ContinuousBackupsUnavailableException{Message: aws.String("Backups are being enabled for the table: orders-copy. Please retry later")}
	}
	f.pitr = append(f.pitr, in)
	return &dynamodb.UpdateContinuousBackupsOutput{}, nil
}

// createSourceTable creates "orders" on DynamoDB Local: provisioned 5/3,
// key pk (S) and sk (S), a GSI by-g on g (S) including a and b (2/1), an
// LSI by-l on pk and l (N), deletion protection, TTL on exp.
func createSourceTable(tb testing.TB, client *dynamodb.Client) {
	tb.Helper()
	ctx := tb.Context()
	attr := func(n string, t types.ScalarAttributeType) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: t}
	}
	key := func(n string, t types.KeyType) types.KeySchemaElement {
		return types.KeySchemaElement{AttributeName: aws.String(n), KeyType: t}
	}
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:             aws.String("orders"),
		AttributeDefinitions:  []types.AttributeDefinition{attr("pk", "S"), attr("sk", "S"), attr("g", "S"), attr("l", "N")},
		KeySchema:             []types.KeySchemaElement{key("pk", types.KeyTypeHash), key("sk", types.KeyTypeRange)},
		BillingMode:           types.BillingModeProvisioned,
		ProvisionedThroughput: &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(5), WriteCapacityUnits: aws.Int64(3)},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String("by-g"), KeySchema: []types.KeySchemaElement{key("g", types.KeyTypeHash)},
			Projection:            &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: []string{"a", "b"}},
			ProvisionedThroughput: &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(2), WriteCapacityUnits: aws.Int64(1)},
		}},
		LocalSecondaryIndexes: []types.LocalSecondaryIndex{{
			IndexName: aws.String("by-l"), KeySchema: []types.KeySchemaElement{key("pk", types.KeyTypeHash), key("l", types.KeyTypeRange)},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}},
		DeletionProtectionEnabled: aws.Bool(true),
	})
	require.NoError(tb, err)
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String("orders"),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String("exp"), Enabled: aws.Bool(true)}})
	require.NoError(tb, err)
}

// createTargetRun runs create-target with args against DynamoDB Local's
// database of keyID through fake, not a terminal unless tty.
func createTargetRun(tb testing.TB, keyID string, fake *localExtras, stdin string, tty bool, args ...string) (code int, stdout, stderr string) {
	tb.Helper()
	s := testkit.DDB(tb)
	var out, errOut bytes.Buffer
	cmd := &CreateTargetCommand{Stdout: &out, Stderr: &errOut, Stdin: strings.NewReader(stdin),
		stdinTerminal: func() bool { return tty },
		awsConfig:     func(context.Context, string) (aws.Config, error) { return s.AWSConfig(keyID), nil },
		clients:       func(aws.Config, CreateTargetConfig) (createTargetAPI, createTargetAPI) { return fake, fake },
		pitrRetry:     &retry.Policy{MaxAttempts: 5, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond},
	}
	err := cmd.Run(tb.Context(), append([]string{"--endpoint-url", s.Endpoint, "--region", "us-east-1"}, args...))
	return exitCode(&errOut, "create-target", err), out.String(), errOut.String()
}

// newSource gives a test its own database with the source table in it.
func newSource(t *testing.T) (string, *dynamodb.Client, *localExtras) {
	t.Helper()
	keyID := testkit.NewAccessKeyID(t)
	client := testkit.DDB(t).DynamoDB(keyID)
	createSourceTable(t, client)
	return keyID, client, &localExtras{Client: client, source: "orders",
		tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("payments")}, {Key: aws.String("aws:cloudformation:stack-name"), Value: aws.String("s")}}}
}

// tableShape is what the test compares of a DescribeTable: sorted, no
// ARNs, sizes, dates or statuses.
func tableShape(tb testing.TB, client *dynamodb.Client, name string) map[string]any {
	tb.Helper()
	out, err := client.DescribeTable(tb.Context(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	require.NoError(tb, err)
	t := out.Table
	keys := func(ks []types.KeySchemaElement) []string {
		var s []string
		for _, e := range ks {
			s = append(s, aws.ToString(e.AttributeName)+" "+string(e.KeyType))
		}
		return s
	}
	var defs, gsis, lsis []string
	for _, d := range t.AttributeDefinitions {
		defs = append(defs, aws.ToString(d.AttributeName)+" "+string(d.AttributeType))
	}
	sort.Strings(defs)
	for _, g := range t.GlobalSecondaryIndexes {
		gsis = append(gsis, strings.Join([]string{aws.ToString(g.IndexName), strings.Join(keys(g.KeySchema), ","), string(g.Projection.ProjectionType),
			strings.Join(g.Projection.NonKeyAttributes, ","), capacityString(&types.ProvisionedThroughput{
				ReadCapacityUnits: g.ProvisionedThroughput.ReadCapacityUnits, WriteCapacityUnits: g.ProvisionedThroughput.WriteCapacityUnits})}, " "))
	}
	for _, l := range t.LocalSecondaryIndexes {
		lsis = append(lsis, strings.Join([]string{aws.ToString(l.IndexName), strings.Join(keys(l.KeySchema), ","), string(l.Projection.ProjectionType)}, " "))
	}
	ttl, err := client.DescribeTimeToLive(tb.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	require.NoError(tb, err)
	return map[string]any{
		"key": keys(t.KeySchema), "attributes": defs, "gsi": gsis, "lsi": lsis,
		"capacity":           []int64{aws.ToInt64(t.ProvisionedThroughput.ReadCapacityUnits), aws.ToInt64(t.ProvisionedThroughput.WriteCapacityUnits)},
		"deletionProtection": aws.ToBool(t.DeletionProtectionEnabled), "stream": t.StreamSpecification != nil && aws.ToBool(t.StreamSpecification.StreamEnabled),
		"ttl": string(ttl.TimeToLiveDescription.TimeToLiveStatus) + " " + aws.ToString(ttl.TimeToLiveDescription.AttributeName),
	}
}

func TestCreateTarget_CopiesTheSource(t *testing.T) {
	keyID, client, fake := newSource(t)
	code, stdout, stderr := createTargetRun(t, keyID, fake, "", false, "--table", "orders", "--target-table", "orders-copy", "--yes")
	require.Equal(t, exitOK, code, stderr)

	src, dst := tableShape(t, client, "orders"), tableShape(t, client, "orders-copy")
	assert.Equal(t, src, dst, "key, attributes, GSI, LSI, provisioned capacity, deletion protection, TTL")
	fake.mu.Lock()
	defer fake.mu.Unlock()
	assert.Equal(t, []types.Tag{{Key: aws.String("team"), Value: aws.String("payments")}}, fake.created.Tags, "tags copied, aws: ones left out")
	assert.Equal(t, types.TableClassStandardInfrequentAccess, fake.created.TableClass)
	assert.Equal(t, &types.SSESpecification{Enabled: aws.Bool(true), SSEType: types.SSETypeKms}, fake.created.SSESpecification, "the AWS managed key")
	require.Len(t, fake.pitr, 1, "point-in-time recovery enabled once ACTIVE")
	assert.Equal(t, "orders-copy", aws.ToString(fake.pitr[0].TableName))
	assert.Equal(t, int32(14), aws.ToInt32(fake.pitr[0].PointInTimeRecoverySpecification.RecoveryPeriodInDays))

	for _, want := range []string{"ddbsync create-target plan:", "create table orders-copy, key pk (S, partition), sk (S, sort)",
		"global secondary index by-g, key g (S, partition), projecting INCLUDE a, b, 2 read and 1 write capacity units",
		"local secondary index by-l", "billing PROVISIONED, 5 read and 3 write capacity units", "TTL on attribute exp",
		"stream off", "point-in-time recovery on", "tags team=payments", "table class STANDARD_INFREQUENT_ACCESS, deletion protection on",
		"warning:  the source is encrypted with the KMS key arn:aws:kms:us-east-1:111122223333:key/", "pass --kms-key-id KEY"} {
		assert.Contains(t, stderr, want)
	}
	assert.Contains(t, stdout, "created table orders-copy from orders (ACTIVE)")
	assert.Contains(t, stdout, "next: ddbsync backfill --endpoint-url "+testkit.DDB(t).Endpoint+" --region us-east-1 --table orders --target-table orders-copy")
}

// TestCreateTarget_PITRWhenBackupsAreOn: DynamoDB refuses to enable
// point-in-time recovery on a table that has just become ACTIVE until its
// continuous backups are on (ContinuousBackupsUnavailableException); the
// command retries instead of failing after the table is created.
func TestCreateTarget_PITRWhenBackupsAreOn(t *testing.T) {
	keyID, _, fake := newSource(t)
	fake.pitrUnavailable = 3
	code, stdout, stderr := createTargetRun(t, keyID, fake, "", false, "--table", "orders", "--target-table", "orders-copy", "--yes")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "created table orders-copy from orders (ACTIVE)")
	fake.mu.Lock()
	defer fake.mu.Unlock()
	assert.Zero(t, fake.pitrUnavailable, "retried past the refusals")
	require.Len(t, fake.pitr, 1, "point-in-time recovery enabled")
}

func TestCreateTarget_ReKeyed(t *testing.T) {
	keyID, client, fake := newSource(t)
	rulesFile := filepath.Join(t.TempDir(), "rekey.yaml")
	require.NoError(t, os.WriteFile(rulesFile, []byte(`rules:
  - rename: {exp: expires_at, a: alpha}
  - exclude: [b]
  - key: {tpk: 'pk + "#" + sk'}
`), 0o644))
	code, _, stderr := createTargetRun(t, keyID, fake, "", false, "--table", "orders", "--target-table", "orders-by-t",
		"--rules", rulesFile, "--stream", "NEW_AND_OLD_IMAGES", "--yes")
	require.Equal(t, exitOK, code, stderr)
	got := tableShape(t, client, "orders-by-t")
	assert.Equal(t, []string{"tpk HASH"}, got["key"])
	assert.Equal(t, []string{"g S", "tpk S"}, got["attributes"])
	assert.Equal(t, []string{"by-g g HASH INCLUDE alpha , 2 read and 1 write capacity units"}, got["gsi"], "projection renamed, b dropped")
	assert.Empty(t, got["lsi"])
	assert.Equal(t, "ENABLED expires_at", got["ttl"], "TTL on the renamed attribute")
	assert.Equal(t, true, got["stream"])
	assert.Contains(t, stderr, "warning:  local secondary index by-l left out: its partition key pk is not the target table's partition key tpk")
	assert.Contains(t, stderr, "warning:  index by-g: projected attribute b left out")
}

func TestCreateTarget_DryRun(t *testing.T) {
	keyID, client, fake := newSource(t)
	code, stdout, stderr := createTargetRun(t, keyID, fake, "", false, "--table", "orders", "--target-table", "orders-copy", "--dry-run")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stderr, "ddbsync create-target plan:")
	testkit.Golden(t, "createtarget/dry-run.golden.json", []byte(stdout))
	_, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String("orders-copy")})
	var notFound *types.ResourceNotFoundException
	assert.ErrorAs(t, err, &notFound, "a dry run creates nothing")
	assert.Nil(t, fake.created)
}

func TestCreateTarget_Refusals(t *testing.T) {
	keyID, client, fake := newSource(t)
	_, err := client.CreateTable(t.Context(), &dynamodb.CreateTableInput{TableName: aws.String("taken"), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: "N"}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}}})
	require.NoError(t, err)
	dynKey := filepath.Join(t.TempDir(), "dyn.yaml")
	require.NoError(t, os.WriteFile(dynKey, []byte("rules:\n  - key: {id: item.g}\n"), 0o644))
	lostKey := filepath.Join(t.TempDir(), "lost.yaml")
	require.NoError(t, os.WriteFile(lostKey, []byte("rules:\n  - include: [pk, g, a]\n"), 0o644))
	tests := map[string]struct {
		args       []string
		tty        bool
		stdin      string
		wantCode   int
		wantStderr []string
	}{
		"target exists": {args: []string{"--target-table", "taken", "--yes"}, wantCode: exitUsage,
			wantStderr: []string{"refused: target table taken in region us-east-1", "already exists", "changed nothing"}},
		"target is the source": {args: []string{"--target-table", "orders", "--yes"}, wantCode: exitUsage,
			wantStderr: []string{"--target-table: must differ from --table"}},
		"no terminal, no --yes": {args: []string{"--target-table", "new1"}, wantCode: exitUsage,
			wantStderr: []string{"ddbsync create-target plan:", "stdin is not a terminal; pass --yes", "Try: ddbsync create-target --endpoint-url"}},
		"declined": {args: []string{"--target-table", "new2"}, tty: true, stdin: "n\n", wantCode: exitError,
			wantStderr: []string{"Proceed? [y/N]", "cancelled: nothing written"}},
		"dyn key": {args: []string{"--target-table", "new3", "--rules", dynKey, "--yes"}, wantCode: exitUsage,
			wantStderr: []string{"key id = item.g is of type dyn", "--key-type id=S|N|B", "Try: ddbsync create-target"}},
		"bad stream": {args: []string{"--target-table", "new4", "--stream", "NEW"}, wantCode: exitUsage,
			wantStderr: []string{`--stream: "NEW" must be NEW_AND_OLD_IMAGES`}},
		"key type of no key attribute": {args: []string{"--target-table", "new6", "--key-type", "pkk=S"}, wantCode: exitUsage,
			wantStderr: []string{"--key-type: pkk is not an attribute of the target's key (pk, sk)"}},
		"bad key type": {args: []string{"--target-table", "new5", "--key-type", "id=X"}, wantCode: exitUsage,
			wantStderr: []string{`--key-type: "id=X": the type must be S, N or B`}},
		"the rules drop a key attribute": {args: []string{"--target-table", "new8", "--rules", lostKey, "--yes"}, wantCode: exitUsage,
			wantStderr: []string{"the rules drop, move or change the source key attribute sk", "re-key the target with a key rule"}},
		"the hint keeps the target role": {args: []string{"--target-table", "new7", "--target-region", "eu-west-1",
			"--target-role-arn", "arn:aws:iam::222222222222:role/ddbsync-target", "--target-external-id", "ext-1"}, wantCode: exitUsage,
			wantStderr: []string{"--target-region eu-west-1 --target-role-arn arn:aws:iam::222222222222:role/ddbsync-target " +
				"--target-external-id ext-1 --table orders --target-table new7 --yes",
				"target:   table new7, region eu-west-1, endpoint ", ", as role arn:aws:iam::222222222222:role/ddbsync-target (its account; written)"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := createTargetRun(t, keyID, fake, tt.stdin, tt.tty, append([]string{"--table", "orders"}, tt.args...)...)
			assert.Equal(t, tt.wantCode, code, stderr)
			for _, want := range tt.wantStderr {
				assert.Contains(t, stderr, want)
			}
		})
	}
	out, err := client.ListTables(t.Context(), &dynamodb.ListTablesInput{})
	require.NoError(t, err)
	assert.Equal(t, []string{"orders", "taken"}, out.TableNames, "nothing created")
	desc, err := client.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: aws.String("taken")})
	require.NoError(t, err)
	assert.Equal(t, "id", aws.ToString(desc.Table.KeySchema[0].AttributeName), "the existing table is unchanged")
}

func TestCreateTargetCommand_Help(t *testing.T) {
	code, stdout, _ := runMain(t, "help", "create-target")
	require.Equal(t, exitOK, code)
	testkit.Golden(t, "createtarget/help.golden", []byte(stdout))
	fs := pflag.NewFlagSet("create-target", pflag.ContinueOnError)
	(&CreateTargetConfig{}).flags(fs)
	fs.VisitAll(func(f *pflag.Flag) {
		assert.Contains(t, stdout, "\n  --"+f.Name, "flag %s", f.Name)
	})
}

// TestAWSCLI_HintCarriesFlags: the aws CLI command of a hint names the
// target table where create-target made it: the target region, the
// endpoint, the profile, and the role's account when there is one.
func TestAWSCLI_HintCarriesFlags(t *testing.T) {
	cfg := CreateTargetConfig{tableFlags: tableFlags{Table: "orders", TargetTable: "orders copy", Endpoint: "http://127.0.0.1:8000",
		Region: "us-east-1", TargetRegion: "eu-west-1", Profile: "ops"}}
	assert.Equal(t, "aws dynamodb update-time-to-live --table-name 'orders copy' --time-to-live-specification Enabled=true,AttributeName=exp "+
		"--endpoint-url http://127.0.0.1:8000 --region eu-west-1 --profile ops",
		awsCLI(cfg, "update-time-to-live", "--time-to-live-specification", "Enabled=true,AttributeName=exp"))
	cfg.TargetRoleARN = "arn:aws:iam::222222222222:role/ddbsync-target"
	assert.Contains(t, awsCLI(cfg, "update-continuous-backups"),
		"--profile ops (with credentials of role arn:aws:iam::222222222222:role/ddbsync-target: the table is in its account)")
}
