package exportload_test

// runChild is replaced by the kill test's child mode.
func runChild() bool { return false }
