//go:build unix

package action

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the command in a process group of its own and makes
// cancellation kill the whole group.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd) }
}

// killGroup kills the started command's process group: the command, if it
// still runs, and whatever it started that did not leave the group.
func killGroup(cmd *exec.Cmd) error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
