package dynamotest_test

import (
	"testing"

	"github.com/ddbsync/ddbsync/internal/dynamo/dynamotest"
)

func TestMemTable_Contract(t *testing.T) {
	dynamotest.RunAPIContract(t, func(*testing.T) dynamotest.Target {
		return dynamotest.Target{API: dynamotest.NewMemTable("target", "pk", "sk"), Table: "target"}
	})
}
