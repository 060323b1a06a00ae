package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/documentcloud/crowd/action"
	"github.com/documentcloud/crowd/assets"
	"github.com/documentcloud/crowd/client"
	"github.com/documentcloud/crowd/wire"
)

// abandonAfter is how long a cancelled action may take to return before the
// slot stops waiting for it and goes on (a Go action that ignores its
// context keeps running, unwatched).
const abandonAfter = 2 * time.Second

// process runs one attempt at u and returns its result. finished is false
// when the attempt was cut short: by the end of the grace period (hard), or
// by a signal that killed its action once the worker is stopping (ctx done;
// systemd signals the whole cgroup). Such an attempt is not reported, and
// the check-out gives the unit back without counting it.
func (w *Worker) process(ctx, hard context.Context, s *slot, u *wire.WorkUnit) (res client.Result, finished bool) {
	start := time.Now()
	out, err := w.attempt(hard, s, u)
	res = client.Result{Succeeded: err == nil, Output: out, Time: time.Since(start)}
	if err != nil {
		var by string
		switch {
		case hard.Err() != nil:
			by = "the end of the grace period"
		case ctx.Err() != nil && action.StoppedBySignal(err):
			by = "a signal while the worker stops"
		}
		if by != "" {
			w.log.Info("unit cut short by "+by+"; it goes back to the queue",
				"worker", s.name, "unit", u.ID, "job", u.JobID, "action", u.Action)
			return res, false
		}
		msg := failure(u.Action, err)
		res.Output = jsonString(msg)
		w.log.Warn("unit failed", "worker", s.name, "unit", u.ID, "job", u.JobID, "action", u.Action,
			"attempts", u.Attempts, "time", res.Time.Round(time.Millisecond), "err", msg)
	} else if w.log.Enabled(hard, slog.LevelDebug) {
		w.log.Debug("unit done", "worker", s.name, "unit", u.ID, "job", u.JobID, "action", u.Action,
			"status", u.Status, "time", res.Time.Round(time.Microsecond))
	}
	return res, true
}

// failure is the output of a failed attempt: "action <name> failed: <why>".
func failure(name string, err error) string {
	msg := strings.TrimPrefix(err.Error(), "action "+name+" ")
	return "action " + name + " failed: " + msg
}

// attempt runs the action on u in an empty work directory, and returns its
// output.
func (w *Worker) attempt(hard context.Context, s *slot, u *wire.WorkUnit) (json.RawMessage, error) {
	phase, ok := action.PhaseOf(u.Status)
	if !ok {
		return nil, fmt.Errorf("work units must specify their status: %d is not splitting, processing or merging", u.Status)
	}
	if !action.ValidName(u.Action) {
		return nil, fmt.Errorf("%q is not an action name", u.Action)
	}
	opts, err := enhancedOptions(u)
	if err != nil {
		return nil, err
	}
	dir, err := w.workDir(s, u.Action)
	if err != nil {
		return nil, fmt.Errorf("making the work directory: %w", err)
	}
	abandoned, start := false, time.Now()
	defer func() { w.releaseDir(s, u.Action, dir, start, abandoned) }()

	ctx := hard
	if t := w.cfg.UnitTimeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(hard, t)
		defer cancel()
	}
	unit := &action.Unit{
		Input:    action.ParseInput(u.Input),
		Options:  opts,
		WorkDir:  dir.path,
		JobID:    u.JobID,
		UnitID:   u.ID,
		Attempts: u.Attempts,
		Action:   u.Action,
		Save: func(ctx context.Context, path string) (string, error) {
			return w.store.Save(ctx, path, assets.Key(u.Action, u.JobID, u.ID, filepath.Base(path)))
		},
		Download: w.download,
	}
	var out json.RawMessage
	out, abandoned, err = w.run(ctx, phase, unit)
	if err != nil && hard.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil, fmt.Errorf("timed out after %v (unit_timeout)", w.cfg.UnitTimeout)
	}
	return out, err
}

// run downloads the unit's input if it is a URL, then runs the action.
// With a unit_timeout it runs them on a goroutine of their own and returns
// soon after ctx is done even if the action goes on (abandoned is then
// set), so that an action that ignores its context cannot hold the slot.
// Without one it calls them on the slot's goroutine, which saves a
// goroutine switch or two per unit; an action still running at the end of
// the grace period is then abandoned by Run.
func (w *Worker) run(ctx context.Context, phase action.Phase, unit *action.Unit) (out json.RawMessage, abandoned bool, err error) {
	if w.cfg.UnitTimeout <= 0 {
		out, err = w.call(ctx, phase, unit)
		return out, false, err
	}
	type result struct {
		out json.RawMessage
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := w.call(ctx, phase, unit)
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		return r.out, false, r.err
	case <-ctx.Done():
	}
	t := time.NewTimer(abandonAfter)
	defer t.Stop()
	select {
	case r := <-done:
		return r.out, false, r.err
	case <-t.C:
		return nil, true, fmt.Errorf("did not stop within %v of being cancelled: %w", abandonAfter, ctx.Err())
	}
}

// call downloads the unit's input if it is a URL, then runs the action; a
// panic becomes an error.
func (w *Worker) call(ctx context.Context, phase action.Phase, unit *action.Unit) (out json.RawMessage, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("panicked: %v", r)
		}
	}()
	if s, ok := unit.Input.(string); ok && urlScheme(s) != "" {
		p := filepath.Join(unit.WorkDir, SafeFilename(s))
		if err := w.dl.download(ctx, s, p); err != nil {
			return nil, err
		}
		unit.InputPath = p
	}
	return w.catalog.Run(ctx, unit.Action, phase, unit)
}

// enhancedOptions is the unit's options plus job_id, work_unit_id and
// attempts.
func enhancedOptions(u *wire.WorkUnit) (map[string]any, error) {
	var opts map[string]any
	if raw := u.Options; len(raw) > 0 && string(raw) != "{}" && string(raw) != "null" {
		if err := json.Unmarshal(raw, &opts); err != nil {
			return nil, fmt.Errorf("the unit's options are not a JSON object: %w", err)
		}
	}
	if opts == nil {
		opts = make(map[string]any, 3)
	}
	opts["job_id"] = u.JobID
	opts["work_unit_id"] = u.ID
	opts["attempts"] = u.Attempts
	return opts, nil
}
