package main

import "github.com/ddbsync/ddbsync/internal/buildversion"

// Version is the build's version, set with -ldflags "-X main.Version=…" by
// the Makefile; otherwise it falls back to the module version.
var Version = ""

func version() string { return buildversion.Of(Version) }
