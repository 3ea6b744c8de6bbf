package main

import "runtime/debug"

// Version is the build's version, set with -ldflags "-X main.Version=…" by
// the Makefile; otherwise it falls back to the module version.
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "dev"
}
