//go:build !unix

package action

import "os/exec"

// setProcessGroup does nothing where there are no process groups:
// cancellation kills the command alone.
func setProcessGroup(*exec.Cmd) {}

// killGroup does nothing where there are no process groups.
func killGroup(*exec.Cmd) error { return nil }
