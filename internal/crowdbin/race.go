//go:build race

package crowdbin

// Under -race the crowd command is built with -race as well, so that a data
// race in the server fails the test that runs it.
func init() { race = true }
