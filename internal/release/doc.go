// Package release holds the tests of the release configuration: the
// repository root's .goreleaser.yaml loads with the pinned goreleaser's
// strict configuration loader and names the artifacts the README promises.
// `make release-check` runs that version's full `goreleaser check`.
// It has no code of its own.
package release

// GoreleaserModule is the goreleaser the release is built with.
const GoreleaserModule = "github.com/goreleaser/goreleaser/v2@v2.15.1"
