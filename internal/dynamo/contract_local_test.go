package dynamo_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/require"

	"github.com/ddbsync/ddbsync/internal/dynamo"
	"github.com/ddbsync/ddbsync/internal/dynamo/dynamotest"
	"github.com/ddbsync/ddbsync/internal/localaws/ddblocal"
	"github.com/ddbsync/ddbsync/internal/localaws/testkit"
	"github.com/ddbsync/ddbsync/internal/replattr"
	"github.com/ddbsync/ddbsync/internal/replicate"
	"github.com/ddbsync/ddbsync/internal/replicate/replicatetest"
	"github.com/ddbsync/ddbsync/internal/retry"
)

// contractTable returns a new database's table "target" keyed like the
// contract suites' tables (pk S, sk N), and its client.
func contractTable(t *testing.T) *dynamodb.Client {
	t.Helper()
	db := testkit.DDB(t).DynamoDB(testkit.NewAccessKeyID(t))
	_, err := ddblocal.CreateTable(t.Context(), db, ddblocal.TableSpec{Name: "target", HashKey: "pk", RangeKey: "sk", RangeType: types.ScalarAttributeTypeN})
	require.NoError(t, err)
	return db
}

// localTarget is a contract Target writing through w to db's "target",
// read back with consistent GetItem calls through names.Visible.
func localTarget(db *dynamodb.Client, w replicate.Writer) replicatetest.Target {
	return replicatetest.Target{Writer: w, Get: func(t *testing.T, key replicatetest.Item) replicatetest.Item {
		t.Helper()
		out, err := db.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String("target"), Key: key, ConsistentRead: aws.Bool(true)})
		require.NoError(t, err)
		return replattr.Names{}.Visible(out.Item)
	}}
}

var contractRetry = retry.Policy{MaxAttempts: 3, BaseDelay: time.Millisecond}

// TestTable_Contract_DynamoDBLocal holds dynamo.Table, with raw and typed
// writes, to the Writer contract that replicatetest.MemWriter keeps.
func TestTable_Contract_DynamoDBLocal(t *testing.T) {
	for name, typed := range map[string]bool{"raw": false, "typed": true} {
		t.Run(name, func(t *testing.T) {
			replicatetest.RunWriterContract(t, func(t *testing.T) replicatetest.Target {
				db := contractTable(t)
				tbl := dynamo.NewTable(db, "target", dynamo.Options{Retry: contractRetry, Typed: typed})
				require.Equal(t, !typed, tbl.Raw())
				return localTarget(db, tbl)
			})
		})
	}
}

// TestSeqGuard_Contract_DynamoDBLocal holds dynamo.SeqGuard to the Writer
// and guard contracts that the guarded replicatetest.MemWriter keeps.
func TestSeqGuard_Contract_DynamoDBLocal(t *testing.T) {
	newTarget := func(t *testing.T) replicatetest.Target {
		db := contractTable(t)
		return localTarget(db, dynamo.NewSeqGuard(dynamo.NewTable(db, "target", dynamo.Options{Retry: contractRetry}), replattr.Names{}, dynamo.GuardOptions{}))
	}
	replicatetest.RunWriterContract(t, newTarget)
	replicatetest.RunGuardContract(t, newTarget)
}

// TestAPI_Contract_DynamoDBLocal holds DynamoDB Local to the API contract
// that dynamotest.MemTable keeps.
func TestAPI_Contract_DynamoDBLocal(t *testing.T) {
	dynamotest.RunAPIContract(t, func(t *testing.T) dynamotest.Target {
		return dynamotest.Target{API: contractTable(t), Table: "target"}
	})
}

var _ dynamo.API = (*dynamotest.MemTable)(nil)

// memTarget is a contract Target writing through w to the in-memory
// table, read back through names.Visible.
func memTarget(m *dynamotest.MemTable, w replicate.Writer) replicatetest.Target {
	return replicatetest.Target{Writer: w, Get: func(_ *testing.T, key replicatetest.Item) replicatetest.Item {
		return replattr.Names{}.Visible(m.Get(key))
	}}
}

// TestTable_Contract_MemTable runs the Writer and guard contracts on
// dynamo.Table and dynamo.SeqGuard over dynamotest.MemTable, as the unit
// tests use them.
func TestTable_Contract_MemTable(t *testing.T) {
	t.Run("table", func(t *testing.T) {
		replicatetest.RunWriterContract(t, func(*testing.T) replicatetest.Target {
			m := dynamotest.NewMemTable("target", "pk", "sk")
			return memTarget(m, dynamo.NewTable(m, "target", dynamo.Options{Retry: contractRetry}))
		})
	})
	t.Run("guard", func(t *testing.T) {
		newTarget := func(*testing.T) replicatetest.Target {
			m := dynamotest.NewMemTable("target", "pk", "sk")
			return memTarget(m, dynamo.NewSeqGuard(dynamo.NewTable(m, "target", dynamo.Options{Retry: contractRetry}), replattr.Names{}, dynamo.GuardOptions{}))
		}
		replicatetest.RunWriterContract(t, newTarget)
		replicatetest.RunGuardContract(t, newTarget)
	})
}

// usersTarget returns a contract Target writing through newWriter to a new
// database's table "target" keyed by pk (S), the target of
// replicatetest.UsersRules.
func usersTarget(t *testing.T, newWriter func(db *dynamodb.Client) replicate.Writer) replicatetest.Target {
	t.Helper()
	db := testkit.DDB(t).DynamoDB(testkit.NewAccessKeyID(t))
	_, err := ddblocal.CreateTable(t.Context(), db, ddblocal.TableSpec{Name: "target", HashKey: "pk"})
	require.NoError(t, err)
	return localTarget(db, newWriter(db))
}

// TestTable_RulesKeySwap_DynamoDBLocal runs the key-swap cases of a rule
// set with a key rule (two items swapping target keys both survive; a
// REMOVE or a filter leave keeps the item that took its key) through the
// replicator on dynamo.Table, raw and typed, and dynamo.SeqGuard, on
// DynamoDB Local: the deletes the rules make are conditioned on the
// source key the target item holds.
func TestTable_RulesKeySwap_DynamoDBLocal(t *testing.T) {
	for name, typed := range map[string]bool{"raw": false, "typed": true} {
		t.Run(name, func(t *testing.T) {
			replicatetest.RunKeySwapContract(t, func(t *testing.T) replicatetest.Target {
				return usersTarget(t, func(db *dynamodb.Client) replicate.Writer {
					return dynamo.NewTable(db, "target", dynamo.Options{Retry: contractRetry, Typed: typed})
				})
			})
		})
	}
	t.Run("guard", func(t *testing.T) {
		replicatetest.RunKeySwapContract(t, func(t *testing.T) replicatetest.Target {
			return usersTarget(t, func(db *dynamodb.Client) replicate.Writer {
				return dynamo.NewSeqGuard(dynamo.NewTable(db, "target", dynamo.Options{Retry: contractRetry}), replattr.Names{}, dynamo.GuardOptions{})
			})
		})
	})
}
