package persistence

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// tidwall/wal keeps its entries in segment files named by the index of their
// first entry (%020d), each entry being uvarint(len) ‖ data, with no
// checksum. It cannot open a log whose last entry is torn, reads a
// zero-filled tail as empty entries and a flipped bit as good data. So
// before wal.Open the WAL scans every segment itself, checks every frame,
// cuts a torn tail off the last segment and refuses to open a log damaged
// anywhere else.

// CorruptError is a damaged log that OpenWAL will not repair: a bad entry
// followed by good ones, or one in a segment before the last. Nothing on
// disk was changed.
type CorruptError struct {
	File   string // base name of the segment file
	Offset int64  // byte offset of the bad entry in the file
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("persistence: wal segment %s is corrupt at byte %d: %s", e.File, e.Offset, e.Reason)
}

// segmentFile is one file that holds live entries once tidwall/wal has
// finished any truncation that a crash interrupted.
type segmentFile struct {
	index uint64 // first index
	name  string // base name: %020d, or %020d.START / %020d.END before wal.Open renames it
}

// listSegments returns the live segment files of dir in order, as
// tidwall/wal's load will see them (its rules, mirrored), and the temp files
// of a truncation that never got renamed, which wal never removes.
func listSegments(dir string) (live []segmentFile, temps []string, err error) {
	ents, err := os.ReadDir(dir) // sorted by name, like wal's ioutil.ReadDir
	if err != nil {
		return nil, nil, err
	}
	startIdx, endIdx := -1, -1
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || len(name) < 20 {
			continue
		}
		index, err := strconv.ParseUint(name[:20], 10, 64)
		if err != nil || index == 0 {
			continue
		}
		isStart := len(name) == 26 && strings.HasSuffix(name, ".START")
		isEnd := len(name) == 24 && strings.HasSuffix(name, ".END")
		switch {
		case len(name) == 20 || isStart || isEnd:
			if isStart {
				startIdx = len(live)
			} else if isEnd && endIdx == -1 {
				endIdx = len(live)
			}
			live = append(live, segmentFile{index: index, name: name})
		case strings.HasSuffix(name, ".TEMP"):
			temps = append(temps, name)
		}
	}
	if startIdx != -1 && endIdx != -1 {
		return nil, nil, fmt.Errorf("persistence: wal dir %s holds both a START and an END segment", dir)
	}
	if startIdx != -1 {
		live = live[startIdx:] // wal deletes the segments before START
	}
	if endIdx != -1 {
		live = live[:endIdx+1] // and those after END
		if n := len(live); n > 1 && live[n-2].index == live[n-1].index {
			live = append(live[:n-2], live[n-1])
		}
	}
	return live, temps, nil
}

// scanEntries walks the entries of a segment and checks each frame. It
// returns the number of good entries before the first bad one, and the
// offset of that bad entry (-1 if all are good) with what is wrong.
func scanEntries(data []byte) (count int, bad int, reason string) {
	off := 0
	for off < len(data) {
		size, n := binary.Uvarint(data[off:])
		if n == 0 {
			return count, off, "entry header runs past the end of the file"
		}
		if n < 0 {
			return count, off, "entry length overflows"
		}
		if size > uint64(len(data)-off-n) {
			return count, off, fmt.Sprintf("entry of %d bytes runs past the end of the file", size)
		}
		if _, err := decodeFrame(data[off+n : off+n+int(size)]); err != nil {
			return count, off, err.Error()
		}
		off += n + int(size)
		count++
	}
	return count, -1, ""
}

// validEntryAfter looks for a good entry starting anywhere at or after from,
// byte by byte, so that a damaged length cannot hide the good entries that
// follow it. It returns the entry's offset, or -1.
func validEntryAfter(data []byte, from int) int {
	for p := from; p+frameMinLen < len(data); p++ {
		size, n := binary.Uvarint(data[p:])
		if n <= 0 || size < frameMinLen || size > uint64(len(data)-p-n) {
			continue
		}
		if _, err := decodeFrame(data[p+n : p+n+int(size)]); err == nil {
			return p
		}
	}
	return -1
}

// tailCut is a torn tail to cut off the last segment.
type tailCut struct {
	name   string
	offset int64
	bytes  int64
	zeros  bool // the cut bytes are all zero
	reason string
}

// inspect scans the live segments of dir and decides what Open must do:
// cut a torn tail (cut != nil) or refuse (a *CorruptError). It changes
// nothing on disk.
func inspect(dir string, live []segmentFile) (cut *tailCut, err error) {
	for i, s := range live {
		data, err := os.ReadFile(filepath.Join(dir, s.name))
		if err != nil {
			return nil, err
		}
		count, bad, reason := scanEntries(data)
		last := i == len(live)-1
		if bad >= 0 {
			if !last {
				return nil, &CorruptError{File: s.name, Offset: int64(bad),
					Reason: reason + " (in a segment before the last)"}
			}
			if p := validEntryAfter(data, bad+1); p >= 0 {
				return nil, &CorruptError{File: s.name, Offset: int64(bad),
					Reason: fmt.Sprintf("%s, and a good entry follows at byte %d", reason, p)}
			}
			cut = &tailCut{name: s.name, offset: int64(bad), bytes: int64(len(data) - bad),
				zeros: allZero(data[bad:]), reason: reason}
		}
		if !last {
			if want := live[i+1].index - s.index; uint64(count) != want {
				return nil, &CorruptError{File: s.name, Offset: int64(len(data)),
					Reason: fmt.Sprintf("segment holds %d entries but the next segment starts %d entries later", count, want)}
			}
		}
	}
	return cut, nil
}

func allZero(b []byte) bool {
	return len(bytes.Trim(b, "\x00")) == 0
}

// repair makes dir openable by tidwall/wal: it scans the segments, and only
// if the log is sound but for a torn tail does it cut that tail and remove
// the temp files of an interrupted truncation.
func repair(dir string, logger *slog.Logger) error {
	live, temps, err := listSegments(dir)
	if err != nil {
		return err
	}
	cut, err := inspect(dir, live)
	if err != nil {
		return err
	}
	for _, name := range temps {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return err
		}
		logger.Warn("wal: removed the temp file of an interrupted truncation", "dir", dir, "file", name)
	}
	if cut != nil {
		if err := truncateFile(filepath.Join(dir, cut.name), cut.offset); err != nil {
			return fmt.Errorf("persistence: cutting the torn tail of wal segment %s: %w", cut.name, err)
		}
		logger.Warn("wal: cut a torn tail off the last segment", "dir", dir, "file", cut.name,
			"offset", cut.offset, "bytes", cut.bytes, "zeros", cut.zeros, "reason", cut.reason)
	}
	if len(temps) > 0 || cut != nil {
		return syncDir(dir)
	}
	return nil
}

// truncateFile cuts path to size bytes and fsyncs it.
func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir fsyncs a directory, making the creation, removal and renaming of
// its files durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// segmentSizes returns the size of the last plain segment file in dir
// (the one with the highest first index), and the total size of all of
// them.
func segmentSizes(dir string) (tailSize, total int64, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, err
	}
	for _, e := range ents { // in name order: by first index
		name := e.Name()
		if len(name) != 20 || e.IsDir() {
			continue
		}
		if index, err := strconv.ParseUint(name, 10, 64); err != nil || index == 0 {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return 0, 0, err
		}
		tailSize = info.Size()
		total += info.Size()
	}
	return tailSize, total, nil
}
