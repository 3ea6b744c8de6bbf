// Package release holds the tests of the release configuration: the
// repository root's .goreleaser.yaml passes `goreleaser check` of the
// pinned goreleaser version, and names the artifacts the README promises.
// It has no code of its own.
package release

// GoreleaserModule is the goreleaser the release is built with.
const GoreleaserModule = "github.com/goreleaser/goreleaser/v2@v2.15.1"
