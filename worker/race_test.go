//go:build race

package worker_test

// Under -race the crowd binary the tests run is built with -race as well.
func init() { raceEnabled = true }
