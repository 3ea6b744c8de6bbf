package tablesync_test

import (
	"testing"

	"github.com/ddbsync/ddbsync/internal/tablesync/tablesynctest"
)

// TestReadStub_Contract holds the read stand-in of the benchmarks and
// backfill tests to the read contract that DynamoDB Local keeps.
func TestReadStub_Contract(t *testing.T) {
	tablesynctest.RunReaderContract(t, func(t *testing.T, items []tablesynctest.Item) tablesynctest.Reader {
		stub := newReadStub(t, 0)
		stub.load(t, "src", items)
		return tablesynctest.Reader{API: stub.client(t), Table: "src"}
	})
}

// TestReader_Contract_DynamoDBLocal runs the read contract on DynamoDB
// Local.
func TestReader_Contract_DynamoDBLocal(t *testing.T) {
	tablesynctest.RunReaderContract(t, func(t *testing.T, items []tablesynctest.Item) tablesynctest.Reader {
		db := localDB(t)
		createTables(t, db, "", "src")
		seed(t, db, "src", items)
		return tablesynctest.Reader{API: db, Table: "src"}
	})
}
