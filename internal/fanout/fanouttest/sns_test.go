package fanouttest_test

import (
	"testing"

	"github.com/ddbsync/ddbsync/internal/fanout/fanouttest"
)

func TestFakeSNS_Contract(t *testing.T) {
	fanouttest.RunSNSContract(t, func(*testing.T) fanouttest.Topic {
		return fanouttest.Topic{API: &fanouttest.FakeSNS{}, ARN: "arn:aws:sns:us-east-1:1:t.fifo"}
	})
}
