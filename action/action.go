package action

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
)

// Phase is the method a unit runs.
type Phase string

const (
	PhaseSplit   Phase = "split"
	PhaseProcess Phase = "process"
	PhaseMerge   Phase = "merge"
)

// PhaseOf maps a unit's numeric status (4 splitting, 1 processing, 5
// merging) to its phase.
func PhaseOf(status int) (Phase, bool) {
	switch status {
	case 4:
		return PhaseSplit, true
	case 1:
		return PhaseProcess, true
	case 5:
		return PhaseMerge, true
	}
	return "", false
}

// Unit is what an action gets for one attempt.
type Unit struct {
	Input     any            // the input, parsed: a string, or JSON (object/array) when it starts with [ or { and parses
	InputPath string         // the downloaded input file, "" when the input is not a URL
	Options   map[string]any // the job's options plus job_id, work_unit_id, attempts
	WorkDir   string         // a scratch directory; the action runs with it as its working directory (exec) or should use it (Go)

	JobID, UnitID int64
	Attempts      int
	Action        string

	// Save puts a local file in the asset store and returns its URL (the
	// worker provides it).
	Save func(ctx context.Context, path string) (string, error)
	// Download fetches a URL (http, https, file, s3 when the store is S3)
	// into path (the worker provides it).
	Download func(ctx context.Context, url, path string) error
}

// save and download fail clearly when the worker gave no helper, rather than
// letting the nil call panic.
func (u *Unit) save(ctx context.Context, path string) (string, error) {
	if u.Save == nil {
		return "", errors.New("no asset store: Unit.Save is nil")
	}
	return u.Save(ctx, path)
}

func (u *Unit) download(ctx context.Context, url, path string) error {
	if u.Download == nil {
		return errors.New("cannot download: Unit.Download is nil")
	}
	return u.Download(ctx, url, path)
}

// Processor is every Go action. Splitter and Merger are optional.
type Processor interface {
	Process(ctx context.Context, u *Unit) (any, error)
}

// Splitter is a Go action with a split phase; each element of the result
// becomes a processing unit.
type Splitter interface {
	Split(ctx context.Context, u *Unit) ([]any, error)
}

// Merger is a Go action with a merge phase; its input is the array of every
// process output.
type Merger interface {
	Merge(ctx context.Context, u *Unit) (any, error)
}

// phasesOf derives a Go action's phases from the interfaces it implements.
func phasesOf(a Processor) Phases {
	_, split := a.(Splitter)
	_, merge := a.(Merger)
	return Phases{Split: split, Merge: merge}
}

// builtinActions returns the built-in Go actions, new on every call.
func builtinActions() map[string]Processor {
	return map[string]Processor{
		"word_count":      wordCount{},
		"graphics_magick": graphicsMagick{},
		"process_pdfs":    processPDFs{},
	}
}

// ParseInput parses a unit's input string as a worker must (SPEC §3): JSON
// when it starts with [ or { and parses, the string itself otherwise.
func ParseInput(s string) any {
	if strings.HasPrefix(s, "[") || strings.HasPrefix(s, "{") {
		var v any
		if json.Unmarshal([]byte(s), &v) == nil {
			return v
		}
	}
	return s
}
