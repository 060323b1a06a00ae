package action

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// maxExecOutput bounds what an exec action may print: it becomes the unit's
// output, which the coordinator keeps.
const maxExecOutput = 64 << 20

// stderrTail is how much of the end of a failed command's standard error
// becomes its message: the end is where the reason usually is.
const stderrTail = 2 << 10

// execWaitDelay bounds how long a run waits, after its process ended or was
// killed, for its pipes to close (a background child may hold them open).
const execWaitDelay = time.Second

// ExitError is an exec action that exited non-zero (or was killed by a
// signal). Its message is the end of the action's standard error.
type ExitError struct {
	Path   string // the action's file
	Phase  Phase
	Code   int            // the exit status; -1 when killed by a signal
	Signal syscall.Signal // the signal, when Code is -1
	Stderr string         // the last 2 KiB of standard error, trimmed
}

func (e *ExitError) Error() string {
	if e.Stderr != "" {
		return e.Stderr
	}
	if e.Code < 0 {
		return fmt.Sprintf("%s %s: killed by a signal", filepath.Base(e.Path), e.Phase)
	}
	return fmt.Sprintf("%s %s: exit status %d", filepath.Base(e.Path), e.Phase, e.Code)
}

// StoppedBySignal reports whether err says that an action's process died of
// a signal that stops a process (SIGTERM, SIGINT, SIGHUP, SIGKILL), not
// sent by its run's context (which gives a context error instead): an exec
// action's *ExitError, or a tool's *exec.ExitError that a built-in
// action's error wraps. A crash (SIGSEGV, SIGABRT) is not such a death.
func StoppedBySignal(err error) bool {
	var e *ExitError
	var ee *exec.ExitError
	switch {
	case errors.As(err, &e):
		return isStopSignal(e.Signal)
	case errors.As(err, &ee):
		return isStopSignal(signalOf(ee))
	}
	return false
}

func isStopSignal(s syscall.Signal) bool {
	return s == syscall.SIGTERM || s == syscall.SIGINT || s == syscall.SIGHUP || s == syscall.SIGKILL
}

// signalOf is the signal that killed the process ee tells of, 0 if none.
func signalOf(ee *exec.ExitError) syscall.Signal {
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return ws.Signal()
	}
	return 0
}

// has reports whether the phases include phase.
func (p Phases) has(phase Phase) bool {
	switch phase {
	case PhaseSplit:
		return p.Split
	case PhaseProcess:
		return true
	case PhaseMerge:
		return p.Merge
	}
	return false
}

// Run runs the phase of action name on u and returns its output as JSON: a Go
// action's method (a panic becomes an error) or an exec action's file. An
// unknown action, or a phase the action does not have, is an error.
func (c *Catalog) Run(ctx context.Context, name string, phase Phase, u *Unit) (json.RawMessage, error) {
	if phase != PhaseSplit && phase != PhaseProcess && phase != PhaseMerge {
		return nil, fmt.Errorf("unknown phase %q", phase)
	}
	c.Lookup(name) // may find an exec action installed after start
	e, ok := c.snap.Load().all[name]
	switch {
	case !ok:
		return nil, fmt.Errorf("unknown action %q", name)
	case !e.phases.has(phase):
		return nil, fmt.Errorf("action %q has no %s phase", name, phase)
	case e.path != "":
		return runExec(ctx, e.path, phase, u)
	case e.impl != nil:
		return runGo(ctx, name, e.impl, phase, u)
	}
	return nil, fmt.Errorf("action %q is registered by its phases only and cannot run here", name)
}

// runGo calls a Go action's method; e.impl's phases were derived from its
// interfaces, so the assertions hold.
func runGo(ctx context.Context, name string, a Processor, phase Phase, u *Unit) (out json.RawMessage, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("action %s panicked in %s: %v", name, phase, r)
		}
	}()
	var v any
	switch phase {
	case PhaseSplit:
		var list []any
		list, err = a.(Splitter).Split(ctx, u)
		if list == nil {
			list = []any{} // an array, not null: the coordinator expects one
		}
		v = list
	case PhaseProcess:
		v, err = a.Process(ctx, u)
	case PhaseMerge:
		v, err = a.(Merger).Merge(ctx, u)
	}
	if err != nil {
		return nil, err
	}
	out, err = json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("action %s %s: output is not JSON: %w", name, phase, err)
	}
	return out, nil
}

// execStdin is the JSON object an exec action reads on standard input.
type execStdin struct {
	Input         any            `json:"input"`
	InputPath     *string        `json:"input_path"`
	Options       map[string]any `json:"options"`
	WorkDirectory string         `json:"work_directory"`
	JobID         int64          `json:"job_id"`
	WorkUnitID    int64          `json:"work_unit_id"`
	Attempts      int            `json:"attempts"`
}

// runExec runs `<path> <phase>` in u.WorkDir with the unit on standard input
// and parses standard output as the output.
func runExec(ctx context.Context, path string, phase Phase, u *Unit) (json.RawMessage, error) {
	in := execStdin{
		Input: u.Input, Options: u.Options, WorkDirectory: u.WorkDir,
		JobID: u.JobID, WorkUnitID: u.UnitID, Attempts: u.Attempts,
	}
	if u.InputPath != "" {
		in.InputPath = &u.InputPath
	}
	if in.Options == nil {
		in.Options = map[string]any{} // an object, so that actions need not test for null
	}
	stdin, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("action %s %s: encoding its input: %w", filepath.Base(path), phase, err)
	}
	cmd := command(ctx, u.WorkDir, path, string(phase))
	cmd.Stdin = bytes.NewReader(stdin)
	stdout := limitedBuffer{limit: maxExecOutput}
	var stderr tailBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = runGroup(cmd)
	var ee *exec.ExitError
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, fmt.Errorf("action %s %s: %w", filepath.Base(path), phase, ctx.Err())
	case errors.As(err, &ee):
		return nil, &ExitError{Path: path, Phase: phase, Code: ee.ExitCode(), Signal: signalOf(ee), Stderr: stderr.String()}
	case err != nil && !errors.Is(err, exec.ErrWaitDelay): // a child holding stdout after a clean exit is fine
		return nil, fmt.Errorf("action %s %s: %w", filepath.Base(path), phase, err)
	case stdout.truncated:
		return nil, fmt.Errorf("action %s %s: printed more than %d bytes", filepath.Base(path), phase, maxExecOutput)
	}
	out := bytes.TrimSpace(stdout.Bytes())
	if !json.Valid(out) {
		return nil, fmt.Errorf("action %s %s: standard output is not one JSON value: %q", filepath.Base(path), phase, clip(out, 200))
	}
	return out, nil
}

// runTool runs a command-line tool for a built-in action in dir. Its error
// carries the end of what the tool printed.
func runTool(ctx context.Context, dir, name string, args ...string) error {
	cmd := command(ctx, dir, name, args...)
	var msg tailBuffer
	cmd.Stdout, cmd.Stderr = &msg, &msg // tools explain failures on either
	err := runGroup(cmd)
	switch {
	case err == nil || errors.Is(err, exec.ErrWaitDelay):
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", name, ctx.Err())
	case msg.String() != "":
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg.String())
	}
	return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
}

// command prepares name to run in dir with runGroup; cancelling ctx kills
// it and, where the system has process groups, every process it started
// (setProcessGroup): a shell's children, or the ghostscript that gm runs,
// would otherwise live on and hold the pipes open.
func command(ctx context.Context, dir, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.WaitDelay = execWaitDelay
	setProcessGroup(cmd)
	return cmd
}

// runGroup runs a command made by command and then kills its process group,
// so that nothing it started in the background (`sleep 300 &`) outlives the
// run, even after a clean exit.
func runGroup(cmd *exec.Cmd) error {
	err := cmd.Run()
	if cmd.Process != nil {
		killGroup(cmd)
	}
	return err
}

// tailBuffer keeps about the last stderrTail bytes written to it.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 2*stderrTail { // trim now and then, not on every write
		t.b = append(t.b[:0], t.b[len(t.b)-stderrTail:]...)
	}
	return len(p), nil
}

// String returns the last stderrTail bytes, from the first whole character,
// trimmed.
func (t *tailBuffer) String() string {
	b := t.b
	if len(b) > stderrTail {
		b = b[len(b)-stderrTail:]
		for len(b) > 0 && !utf8.RuneStart(b[0]) {
			b = b[1:]
		}
	}
	return strings.TrimSpace(string(b))
}

// clip shortens b for an error message.
func clip(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
