//go:build race

package main

// Under -race the server binary is built with -race as well, and a data race
// it reports fails the test (server.checkLog).
func init() { raceEnabled = true }
