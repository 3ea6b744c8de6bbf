package ddblocal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"
	"unicode/utf8"
)

// TB is the part of testing.TB that the test helpers use. The package does
// not import testing, so that the CLI (ddbsync demo, ddbsync local ddb)
// can start a server without linking the test framework; a *testing.T or
// *testing.B is a TB.
type TB interface {
	Helper()
	Name() string
	Context() context.Context
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatal(args ...any)
}

// StartTB starts a server with default [Options] for a test and closes it
// in tb.Cleanup. It calls tb.Fatal if the server cannot start: these tests
// must run everywhere, CI included, so it never skips.
func StartTB(tb TB) *Server {
	tb.Helper()
	s, err := Start(tb.Context(), Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("%v\nserver output:\n%s", err, s.Logs())
		}
	})
	return s
}

// AccessKeyID returns an access key id unique to the test tb, for the
// client helpers: the letters and digits of tb.Name() (at most 40) followed
// by 8 hex digits of its hash. Raw test names do not work: DynamoDB Local
// rejects ids with some characters ("_", "-", ".") and cuts ids at "/", so
// the subtests "TestX/a" and "TestX/b" would share one database.
func AccessKeyID(tb TB) string {
	tb.Helper()
	name := tb.Name()
	var b strings.Builder
	for _, r := range name {
		if b.Len() == maxKeyIDPrefix {
			break
		}
		if r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
		}
	}
	sum := sha256.Sum256([]byte(name))
	return b.String() + hex.EncodeToString(sum[:4])
}
