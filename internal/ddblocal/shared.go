package ddblocal

import (
	"context"
	"fmt"
	"os"
	"sync"
)

// Shared is one DynamoDB Local for all the tests of a test binary, started
// by the first test that needs it. Each test keeps its own database by
// using its own access key id ([AccessKeyID]). Use it as
//
//	var shared ddblocal.Shared
//
//	func TestMain(m *testing.M) { shared.Main(m) }
//
// and call shared.Get(t) in the tests.
type Shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Get returns the server, starting it on first use. It fails tb (never
// skips) if the server cannot start: these tests run everywhere, CI
// included.
func (s *Shared) Get(tb TB) *Server {
	tb.Helper()
	s.once.Do(func() { s.srv, s.err = Start(context.Background(), Options{}) })
	if s.err != nil {
		tb.Fatal(s.err)
	}
	return s.srv
}

// Main runs the tests (m is the *testing.M of TestMain), stops the server if a test started it, and exits;
// a server that does not stop cleanly fails the run.
func (s *Shared) Main(m interface{ Run() int }) {
	code := m.Run()
	if s.srv != nil {
		if err := s.srv.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}
