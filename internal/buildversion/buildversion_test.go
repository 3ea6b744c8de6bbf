package buildversion

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestOf(t *testing.T) {
	assert.Equal(t, "v1.2.3-4-gabc", Of("v1.2.3-4-gabc"), "the stamp wins")
	// A test binary has no module version: "(devel)" or empty.
	assert.Equal(t, "dev", Of(""))
}
