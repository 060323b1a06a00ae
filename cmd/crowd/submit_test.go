package main

// Tests of `crowd submit` run as a real process against real `crowd server`
// processes (the helpers of server_test.go): --wait through a restart of the
// coordinator, giving up after --unreachable-timeout, and the exit codes.

import (
	"encoding/json"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/documentcloud/crowd/internal/crowdbin"
)

// submitProc is one `crowd submit` process.
type submitProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdout *crowdbin.Output
	stderr *crowdbin.Output
	done   chan struct{}
}

// startSubmit runs `crowd submit args...` and returns at once.
func startSubmit(t *testing.T, args ...string) *submitProc {
	t.Helper()
	cmd := exec.Command(crowdbin.Path(t), append([]string{"submit"}, args...)...)
	cmd.Dir = t.TempDir()
	cmd.Env = crowdbin.Env()
	p := &submitProc{t: t, cmd: cmd, stdout: &crowdbin.Output{}, stderr: &crowdbin.Output{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("crowd submit: start: %v", err)
	}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("crowd submit %s:\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), p.stdout, tail(p.stderr.String(), logTail))
		}
	})
	return p
}

// runSubmit runs `crowd submit args...` to its end.
func runSubmit(t *testing.T, args ...string) *submitProc {
	t.Helper()
	p := startSubmit(t, args...)
	p.exitCode(30 * time.Second)
	return p
}

// exitCode waits for the process to end (failing the test after timeout)
// and returns its exit code.
func (p *submitProc) exitCode(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("crowd submit still runs after %v", timeout)
	}
	return p.cmd.ProcessState.ExitCode()
}

// waitFor waits until cond holds, failing the test if the process ends
// first or after 20 s.
func (p *submitProc) waitFor(what string, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		select {
		case <-p.done:
			p.t.Fatalf("crowd submit exited (%v) before %s", p.cmd.ProcessState, what)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("crowd submit: still no %s after 20s", what)
		}
	}
}

// job waits for the job's line on stdout and returns the job.
func (p *submitProc) job() jobDoc {
	p.t.Helper()
	p.waitFor("job line on stdout", func() bool { return strings.Contains(p.stdout.String(), "\n") })
	line, _, _ := strings.Cut(p.stdout.String(), "\n")
	j, err := decode[jobDoc]("crowd", "submit", []byte(line))
	if err != nil || j.ID == 0 {
		p.t.Fatalf("crowd submit's first line %q is not a job (%v)", line, err)
	}
	return j
}

// lines is stdout's lines.
func (p *submitProc) lines() []string {
	return strings.Split(strings.TrimSuffix(p.stdout.String(), "\n"), "\n")
}

// A `crowd submit --wait` that is polling when the coordinator stops
// (SIGTERM) keeps retrying, and once a coordinator runs again on the same
// data dir and port, it follows the job (which survived) to its end.
func TestSubmitWaitSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, "life 1", dir, serverConfig{}) // no workers: the job waits
	p := startSubmit(t, "--server", s.url(), "--action", wc, "--poll", "20ms", "--wait", "hello big world", "two words")
	j := p.job()
	p.waitFor("progress bar", func() bool { return strings.Contains(p.stderr.String(), "processing") })
	s.stopOK()
	p.waitFor("unreachable line on stderr", func() bool {
		return strings.Contains(p.stderr.String(), "the coordinator is unreachable")
	})
	time.Sleep(300 * time.Millisecond) // a few retries while it is down

	s2 := launchServer(t, "life 2", dir, s.addr, serverConfig{args: []string{"--workers", "1"}})
	if err := s2.waitReady(); err != nil {
		t.Fatalf("life 2: %v", err)
	}
	if code := p.exitCode(60 * time.Second); code != 0 {
		t.Fatalf("crowd submit --wait exited %d, want 0", code)
	}
	lines := p.lines()
	if len(lines) != 2 || lines[1] != "[5]" {
		t.Fatalf("stdout = %q, want the job's line then [5]", p.stdout)
	}
	if j.Status != "processing" || j.WorkUnits != 2 {
		t.Fatalf("job line %q", lines[0])
	}
	errOut := p.stderr.String()
	if n := strings.Count(errOut, "the coordinator is unreachable"); n != 1 {
		t.Fatalf("stderr tells %d times that the coordinator is unreachable, want once", n)
	}
	if !strings.Contains(errOut, "the coordinator answers again") {
		t.Fatalf("stderr does not tell that the coordinator answers again")
	}
	s2.stopOK()
}

// When the coordinator does not come back within --unreachable-timeout,
// `crowd submit --wait` gives up with exit code 3 (not 1, a failed job).
func TestSubmitWaitGivesUp(t *testing.T) {
	s := startServer(t, "server", t.TempDir(), serverConfig{})
	p := startSubmit(t, "--server", s.url(), "--action", wc, "--poll", "20ms", "--unreachable-timeout", "1s", "--wait", "a b")
	p.job()
	p.waitFor("progress bar", func() bool { return strings.Contains(p.stderr.String(), "processing") })
	stopping := time.Now() // the outage begins after this
	s.stopOK()
	if code := p.exitCode(30 * time.Second); code != exitNoOutcome {
		t.Fatalf("crowd submit --wait exited %d with the coordinator gone, want %d", code, exitNoOutcome)
	}
	if d := time.Since(stopping); d < time.Second || d > 15*time.Second {
		t.Fatalf("crowd submit --wait gave up %v after the coordinator began to stop, want about 1s", d)
	}
	if lines := p.lines(); len(lines) != 1 {
		t.Fatalf("stdout = %q, want only the job's line", p.stdout)
	}
	errOut := p.stderr.String()
	for _, want := range []string{"the coordinator is unreachable", "retrying for up to 1s", "has been unavailable for"} {
		if !strings.Contains(errOut, want) {
			t.Fatalf("stderr lacks %q", want)
		}
	}

	// --unreachable-timeout 0: at the first error while waiting, no retry.
	s = startServer(t, "server for no retry", t.TempDir(), serverConfig{})
	p = startSubmit(t, "--server", s.url(), "--action", wc, "--poll", "20ms", "--unreachable-timeout", "0", "--wait", "a b")
	p.job()
	p.waitFor("progress bar", func() bool { return strings.Contains(p.stderr.String(), "processing") })
	s.stopOK()
	if code := p.exitCode(30 * time.Second); code != exitNoOutcome {
		t.Fatalf("crowd submit --wait --unreachable-timeout 0 exited %d with the coordinator gone, want %d", code, exitNoOutcome)
	}
	if strings.Contains(p.stderr.String(), "retrying for up to") {
		t.Fatalf("with --unreachable-timeout 0 it retried:\n%s", p.stderr.String())
	}
}

// The exit codes: 0 done, 1 the job failed, 2 a usage error, 3 no outcome.
func TestSubmitExitCodes(t *testing.T) {
	s := startServer(t, "server", t.TempDir(), serverConfig{env: []string{"CROWD_WORK_UNIT_RETRIES=1"}})
	api := newAPIClient(s.url())
	defer api.close()
	srv := []string{"--server", s.url()}

	check := func(what string, p *submitProc, want int) {
		t.Helper()
		if code := p.cmd.ProcessState.ExitCode(); code != want {
			t.Fatalf("%s: exit code %d, want %d", what, code, want)
		}
	}
	check("submitted", runSubmit(t, append(srv, "--action", gm, "a")...), 0)
	check("a bad flag", runSubmit(t, append(srv, "--action", gm, "--bogus", "a")...), exitUsage)
	check("no --action", runSubmit(t, append(srv, "a")...), exitUsage)
	check("a negative --unreachable-timeout", runSubmit(t, append(srv, "--action", gm, "--unreachable-timeout", "-1s", "a")...), exitUsage)
	check("an unknown action", runSubmit(t, append(srv, "--action", "nope", "a")...), exitNoOutcome)
	check("no coordinator", runSubmit(t, "--server", "http://"+crowdbin.FreeAddr(t), "--action", gm, "a"), exitNoOutcome)

	// A failed job: 1, and its outputs are printed.
	p := startSubmit(t, append(srv, "--action", gm, "--poll", "20ms", "--wait", "x")...)
	j := p.job()
	var u *unitDoc // job j's unit, once queued; the first job's is done on the way
	for deadline := time.Now().Add(10 * time.Second); u == nil; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no unit of job %d to lease after 10s", j.ID)
		}
		u = work(t, api, "w", gm, func(u *unitDoc) bool { return u.JobID == j.ID })
	}
	path := "/work/" + strconv.FormatInt(u.ID, 10)
	code, body, err := api.do("PUT", path, url.Values{"status": {"failed"}, "output": {`{"output":"boom"}`}, "worker_name": {"w"}, "worker_actions": {gm}})
	if err != nil || code/100 != 2 {
		t.Fatalf("PUT %s failed: %d %s %v", path, code, body, err)
	}
	if code := p.exitCode(30 * time.Second); code != 1 {
		t.Fatalf("a failed job: exit code %d, want 1", code)
	}
	lines := p.lines()
	if len(lines) != 2 || !json.Valid([]byte(lines[1])) || !strings.Contains(lines[1], "boom") {
		t.Fatalf("a failed job: stdout %q, want the job's line and its outputs", p.stdout)
	}

	// A job deleted while waiting: 3 at once.
	p = startSubmit(t, append(srv, "--action", gm, "--poll", "20ms", "--wait", "y")...)
	j = p.job()
	if code, body, err := api.do("DELETE", "/jobs/"+strconv.FormatInt(j.ID, 10), nil); err != nil || code/100 != 2 {
		t.Fatalf("DELETE /jobs/%d: %d %s %v", j.ID, code, body, err)
	}
	if code := p.exitCode(10 * time.Second); code != exitNoOutcome {
		t.Fatalf("a deleted job: exit code %d, want %d", code, exitNoOutcome)
	}
	if !strings.Contains(p.stderr.String(), "no longer exists") {
		t.Fatalf("a deleted job: stderr does not say the job no longer exists")
	}
	s.stopOK()
}
