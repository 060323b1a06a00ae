package action

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// phasesTimeout bounds one run of `<file> phases`.
const phasesTimeout = 5 * time.Second

// maxPhasesOutput bounds the standard output and the kept standard error of
// `<file> phases`; its real output is a few words.
const maxPhasesOutput = 4 << 10

// scanParallelism bounds how many `phases` runs a Scan does at once.
const scanParallelism = 8

// FileError is a problem with one file of the actions directory; the file is
// skipped.
type FileError struct {
	Path string // the file
	Err  error
}

func (e *FileError) Error() string { return "action " + e.Path + ": " + e.Err.Error() }

func (e *FileError) Unwrap() error { return e.Err }

// candidate is a file of the actions directory that names an action.
type candidate struct {
	name string // action name
	path string
}

// actionName returns the action name a file name gives: the name without its
// last extension, if that is a valid action name.
func actionName(file string) (string, bool) {
	name := strings.TrimSuffix(file, filepath.Ext(file))
	return name, ValidName(name)
}

// candidates lists, in file-name order, the executable regular files of dir
// whose names give an action name (only want, if want is not ""). Directories,
// non-executable files and files with other names are ignored silently.
func candidates(dir, want string) ([]candidate, error) {
	ents, err := os.ReadDir(dir) // sorted by file name
	if err != nil {
		return nil, err
	}
	var out []candidate
	for _, ent := range ents {
		name, ok := actionName(ent.Name())
		if !ok || (want != "" && name != want) || ent.IsDir() {
			continue
		}
		path := filepath.Join(dir, ent.Name())
		fi, err := os.Stat(path) // follows a symbolic link
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			continue
		}
		out = append(out, candidate{name: name, path: path})
	}
	return out, nil
}

// Scan (re)reads dir; it returns the problems it skipped over (each error, a
// *FileError, names the file). A file whose `phases` fails, prints an unknown
// word or times out is skipped. When two files give the same action name, the
// first in file-name order is the action and the others are problems. If dir
// cannot be read at all, the exec actions known so far are kept and the error
// is returned.
func (c *Catalog) Scan() []error {
	if c.dir == "" {
		return nil
	}
	c.scanMu.Lock()
	defer c.scanMu.Unlock()

	cands, err := candidates(c.dir, "")
	if err != nil {
		problems := []error{&FileError{Path: c.dir, Err: err}}
		c.setProblems(problems)
		return problems
	}

	// Assign each name to its first file; the rest are duplicates.
	problems := make([]error, len(cands)) // by candidate, to keep file order
	var run []int
	first := make(map[string]string, len(cands))
	for i, cand := range cands {
		if p, dup := first[cand.name]; dup {
			problems[i] = &FileError{Path: cand.path, Err: fmt.Errorf("action %q is already given by %s", cand.name, filepath.Base(p))}
			continue
		}
		first[cand.name] = cand.path
		run = append(run, i)
	}

	results := make([]Phases, len(cands))
	var wg sync.WaitGroup
	sem := make(chan struct{}, scanParallelism)
	for _, i := range run {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p, err := c.runPhases(cands[i].path)
			if err != nil {
				problems[i] = &FileError{Path: cands[i].path, Err: err}
				return
			}
			results[i] = p
		}()
	}
	wg.Wait()

	found := make(map[string]entry, len(run))
	for _, i := range run {
		if problems[i] == nil {
			found[cands[i].name] = entry{phases: results[i], path: cands[i].path}
		}
	}
	c.setExec(found)

	var out []error
	for _, p := range problems {
		if p != nil {
			out = append(out, p)
		}
	}
	c.setProblems(out)
	return out
}

func (c *Catalog) setProblems(p []error) {
	c.problemsMu.Lock()
	c.problems = p
	c.problemsMu.Unlock()
}

// relook searches dir for the one action name, which Lookup did not know, and
// adds it if a file gives it.
func (c *Catalog) relook(name string) (Phases, bool) {
	c.scanMu.Lock()
	defer c.scanMu.Unlock()
	// A Scan that held scanMu may have found it meanwhile.
	if e, ok := c.snap.Load().all[name]; ok {
		return e.phases, true
	}
	cands, err := candidates(c.dir, name)
	if err != nil || len(cands) == 0 {
		return Phases{}, false
	}
	p, err := c.runPhases(cands[0].path) // the first in file-name order, as Scan
	if err != nil {
		return Phases{}, false
	}
	c.addExec(name, entry{phases: p, path: cands[0].path})
	c.relookMu.Lock()
	delete(c.relooked, name)
	c.relookMu.Unlock()
	return p, true
}

// runPhases runs `<path> phases` in the file's directory with an empty
// standard input and parses what it prints.
func (c *Catalog) runPhases(path string) (Phases, error) {
	timeout := c.phasesTimeout
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := command(ctx, filepath.Dir(path), path, "phases")
	cmd.Stdin = nil // the null device
	stdout, stderr := limitedBuffer{limit: maxPhasesOutput}, limitedBuffer{limit: maxPhasesOutput}
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := runGroup(cmd)
	if ctx.Err() != nil {
		return Phases{}, fmt.Errorf("`phases` timed out after %v", timeout)
	}
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return Phases{}, fmt.Errorf("`phases` failed: %w: %s", err, msg)
		}
		return Phases{}, fmt.Errorf("`phases` failed: %w", err)
	}
	if stdout.truncated {
		return Phases{}, fmt.Errorf("`phases` printed more than %d bytes", maxPhasesOutput)
	}
	return parsePhases(stdout.String())
}

// parsePhases parses the output of `phases`: whitespace-separated words, each
// split, process or merge. No words means process only.
func parsePhases(out string) (Phases, error) {
	var p Phases
	for _, w := range strings.Fields(out) {
		switch w {
		case "split":
			p.Split = true
		case "merge":
			p.Merge = true
		case "process":
		default:
			if len(w) > 40 {
				w = w[:40] + "…"
			}
			return Phases{}, fmt.Errorf("`phases` printed %q: want split, process or merge", w)
		}
	}
	return p, nil
}

// limitedBuffer keeps the first limit bytes written to it and notes whether
// more came; it never fails a write, so the process is not killed by a broken
// pipe.
type limitedBuffer struct {
	bytes.Buffer
	limit     int
	truncated bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := b.limit - b.Len(); len(p) > room {
		p = p[:max(room, 0)]
		b.truncated = true
	}
	b.Buffer.Write(p)
	return n, nil
}
