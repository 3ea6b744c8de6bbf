package queuetest_test

import (
	"testing"

	"github.com/ddbsync/ddbsync/internal/queue/queuetest"
)

func TestFakeSNS_Contract(t *testing.T) {
	queuetest.RunSNSContract(t, func(*testing.T) queuetest.Topic {
		return queuetest.Topic{API: &queuetest.FakeSNS{}, ARN: "arn:aws:sns:us-east-1:1:t.fifo"}
	})
}
