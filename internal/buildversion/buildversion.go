// Package buildversion names the version of a ddbsync binary, the same way
// for the replicator's bootstrap and the CLI: the stamp the build set with
// -ldflags "-X main.Version=…" (the Makefile's VERSION, git describe), else
// the module version recorded by go install (v1.2.3, or a pseudo-version),
// else "dev".
package buildversion

import "runtime/debug"

// Of returns the version for stamp, the binary's main.Version.
func Of(stamp string) string {
	if stamp != "" {
		return stamp
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}
