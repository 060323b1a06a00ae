package worker

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Work directories.
//
// Every unit runs in an empty scratch directory, and what it leaves there
// is removed afterwards. CloudCrowd made <temp>/<action>/unit_<id> for each
// unit and removed it; here each slot keeps one directory per action,
// <temp_storage_path>/<action>/<slot>.<pid>.<n>, and reuses it while units
// leave it empty. Creating and removing a directory are among the slowest
// things a file system does (on an ext4 disk of a VM, mkdir and rmdir take
// 60 µs and 290 µs, serialized on the parent directory, which caps a
// worker at about 1,500 units per second whatever its slots), whereas
// checking that a kept directory is still empty takes one fstat of a
// descriptor kept open: a directory whose modification time has not
// changed since it was last seen empty has had no entry added. For that
// the time must be well in the past, so that the file system's timestamp
// granularity cannot hide a change: the worker sets it an hour back when
// it makes the directory (where it cannot, the entries are read until the
// time is old enough). A directory a unit left files in is removed, and
// the slot's next unit of that action gets a new one (n + 1), as does the
// next unit after an action that was abandoned while still running, so
// that nothing an earlier unit does can show in a later one's directory.
// The slots' directories are removed when the worker stops.

// mtimeMargin is how far in the past an empty directory's modification
// time must be for an unchanged time to prove that nothing was added: more
// than the coarsest timestamps of the usual file systems (FAT's 2 s).
const mtimeMargin = 3 * time.Second

// slotDir is a slot's work directory for one action.
type slotDir struct {
	path  string
	f     *os.File  // open on path, to test that it is empty
	mtime time.Time // its modification time when last seen empty
}

// workDir returns s's empty work directory for action, making it if need be.
func (w *Worker) workDir(s *slot, action string) (*slotDir, error) {
	if d := s.dirs[action]; d != nil {
		return d, nil
	}
	if s.dirs == nil {
		s.dirs = make(map[string]*slotDir)
	}
	s.gen++
	path := filepath.Join(w.cfg.TempStoragePath, action, s.dirPrefix+strconv.Itoa(s.gen))
	err := os.Mkdir(path, 0o755)
	switch {
	case errors.Is(err, fs.ErrExist):
		// Left by a worker of the same pid that died on this machine.
		if err = os.RemoveAll(path); err == nil {
			err = os.Mkdir(path, 0o755)
		}
	case errors.Is(err, fs.ErrNotExist):
		// The first unit of this action, or the parent was removed since.
		err = os.MkdirAll(path, 0o755)
	}
	if err != nil {
		return nil, err
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(path, old, old) // see mtimeMargin; an error only costs speed
	f, err := os.Open(path)
	var fi os.FileInfo
	if err == nil {
		if fi, err = f.Stat(); err != nil {
			f.Close()
		}
	}
	if err != nil {
		os.RemoveAll(path)
		return nil, err
	}
	d := &slotDir{path: path, f: f, mtime: fi.ModTime()}
	s.dirs[action] = d
	return d, nil
}

// releaseDir is called after each unit, which started at start: a
// directory that is still empty is kept for the next unit of its action;
// one that is not (or whose unit's action may still be running, when
// abandoned is set) is removed.
func (w *Worker) releaseDir(s *slot, action string, d *slotDir, start time.Time, abandoned bool) {
	if !abandoned && d.empty(start) {
		return
	}
	d.f.Close()
	os.RemoveAll(d.path)
	delete(s.dirs, action)
}

// removeDirs removes the slot's work directories (at shutdown).
func (w *Worker) removeDirs(s *slot) {
	for action, d := range s.dirs {
		d.f.Close()
		os.RemoveAll(d.path)
		delete(s.dirs, action)
	}
}

// empty reports whether the directory holds nothing, after a unit that
// started at start.
func (d *slotDir) empty(start time.Time) bool {
	fi, err := d.f.Stat()
	if err != nil {
		return false
	}
	mtime := fi.ModTime()
	if mtime.Equal(d.mtime) && start.Sub(mtime) > mtimeMargin {
		return true // nothing was added or removed since it was empty
	}
	if _, err := d.f.Seek(0, io.SeekStart); err != nil {
		return false
	}
	if _, err := d.f.Readdirnames(1); err != io.EOF {
		return false
	}
	// Empty, but entries came and went: set the time back again.
	old := time.Now().Add(-time.Hour)
	if os.Chtimes(d.path, old, old) == nil {
		if fi, err := d.f.Stat(); err == nil {
			mtime = fi.ModTime()
		}
	}
	d.mtime = mtime
	return true
}
