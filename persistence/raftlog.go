package persistence

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"github.com/tidwall/wal"
)

// RaftLog is the log of a replicated coordinator (cluster mode): a
// raft.LogStore and raft.StableStore on tidwall/wal. Each raft entry is one
// framed record, checksummed as the journal's are, and a torn tail is cut
// on open the same way. The stable keys (the current term, the vote) and
// the log's base live in a small file beside the log, replaced atomically.
//
// tidwall/wal numbers its entries from 1 without gaps, while a raft log
// may start anywhere after a snapshot is installed: an entry's raft index
// is its wal index plus the base. RaftLog is a raft.MonotonicLogStore, so
// raft never leaves a gap in it: after a snapshot it deletes every entry,
// and the next entry stored sets the base anew.
type RaftLog struct {
	dir  string
	lock *os.File
	log  *wal.Log
	tail segmentTail

	mu     sync.Mutex
	base   uint64            // raft index = wal index + base
	stable map[string][]byte // the stable keys, as last written
	batch  wal.Batch

	stats logStats
}

// RaftLogOptions configures OpenRaftLog.
type RaftLogOptions struct {
	Dir         string // created if missing
	SegmentSize int    // default 16 MiB
	Logger      *slog.Logger
	// OnBatch and OnSync, when set, are told of every batch of entries
	// written (its count) and every fsync (its duration), for metrics, as
	// the WAL's are. They run inside raft's StoreLogs: keep them quick.
	OnBatch func(entries int)
	OnSync  func(took time.Duration)
}

const (
	raftLogDir     = "log"
	raftStableFile = "stable"
	raftBaseKey    = "crowd.base" // raft's own keys are CurrentTerm, LastVoteTerm, LastVoteCand
)

var (
	_ raft.LogStore          = (*RaftLog)(nil)
	_ raft.StableStore       = (*RaftLog)(nil)
	_ raft.MonotonicLogStore = (*RaftLog)(nil)
)

// OpenRaftLog locks o.Dir, repairs a torn tail of its log and opens it.
func OpenRaftLog(o RaftLogOptions) (*RaftLog, error) {
	if o.Dir == "" {
		return nil, errors.New("persistence: RaftLogOptions.Dir is empty")
	}
	if o.SegmentSize <= 0 {
		o.SegmentSize = defaultSegmentSize
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	dir, lock, err := claimDir(o.Dir)
	if err != nil {
		return nil, err
	}
	logDir := filepath.Join(dir, raftLogDir)
	if err := makeDir(logDir); err != nil {
		lock.Close()
		return nil, err
	}
	r, err := openRaftLog(dir, logDir, o)
	if err != nil {
		lock.Close()
		return nil, err
	}
	r.lock = lock
	return r, nil
}

func openRaftLog(dir, logDir string, o RaftLogOptions) (*RaftLog, error) {
	if err := repair(logDir, o.Logger); err != nil {
		return nil, err
	}
	stable, err := readStable(dir)
	if err != nil {
		return nil, err
	}
	log, err := wal.Open(logDir, &wal.Options{
		NoSync:      true, // StoreLogs fsyncs
		SegmentSize: o.SegmentSize,
		AllowEmpty:  true, // raft deletes every entry after it installs a snapshot
		DirPerms:    0o750,
		FilePerms:   0o640,
	})
	if err != nil {
		return nil, fmt.Errorf("persistence: opening the raft log in %s: %w", logDir, err)
	}
	tailSize, _, err := segmentSizes(logDir)
	if err != nil {
		log.Close()
		return nil, err
	}
	r := &RaftLog{dir: dir, log: log, stable: stable, tail: segmentTail{size: tailSize, limit: int64(o.SegmentSize)},
		stats: logStats{onBatch: o.OnBatch, onSync: o.OnSync}}
	if b := stable[raftBaseKey]; len(b) == 8 {
		r.base = binary.LittleEndian.Uint64(b)
	}
	return r, nil
}

// IsMonotonic tells raft that the log has no gaps (raft.MonotonicLogStore).
func (r *RaftLog) IsMonotonic() bool { return true }

// span is the wal's first and last index; first > last when it is empty.
func (r *RaftLog) span() (first, last uint64, err error) {
	if first, err = r.log.FirstIndex(); err != nil {
		return 0, 0, err
	}
	if last, err = r.log.LastIndex(); err != nil {
		return 0, 0, err
	}
	return first, last, nil
}

// FirstIndex is the raft index of the first entry; 0 for none.
func (r *RaftLog) FirstIndex() (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	first, last, err := r.span()
	if err != nil || first > last {
		return 0, err
	}
	return first + r.base, nil
}

// LastIndex is the raft index of the last entry; 0 for none.
func (r *RaftLog) LastIndex() (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	first, last, err := r.span()
	if err != nil || first > last {
		return 0, err
	}
	return last + r.base, nil
}

// GetLog reads the entry at a raft index; raft.ErrLogNotFound when the log
// does not hold it.
func (r *RaftLog) GetLog(index uint64, l *raft.Log) error {
	r.mu.Lock()
	base := r.base
	r.mu.Unlock()
	if index <= base {
		return raft.ErrLogNotFound
	}
	data, err := r.log.Read(index - base)
	if errors.Is(err, wal.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return fmt.Errorf("persistence: reading raft entry %d: %w", index, err)
	}
	body, err := decodeFrame(data)
	if err != nil {
		return &RecordError{Index: int64(index), Err: err}
	}
	if err := decodeRaftEntry(body, l); err != nil {
		return &RecordError{Index: int64(index), Err: err}
	}
	if l.Index != index {
		return &RecordError{Index: int64(index), Err: fmt.Errorf("the entry says it is %d", l.Index)}
	}
	return nil
}

// StoreLog stores one entry.
func (r *RaftLog) StoreLog(l *raft.Log) error { return r.StoreLogs([]*raft.Log{l}) }

// StoreLogs writes entries that follow the last one (or start an empty
// log) in one batch, and returns once they are fsynced.
func (r *RaftLog) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	first, last, err := r.span()
	if err != nil {
		return err
	}
	if first > last && logs[0].Index != last+1+r.base {
		// An empty log starts wherever raft says (after a snapshot): the
		// base moves, durably, before the first entry is written.
		if logs[0].Index <= last {
			return fmt.Errorf("persistence: raft entry %d cannot start a log whose wal is past %d", logs[0].Index, last)
		}
		if err := r.setStable(raftBaseKey, binary.LittleEndian.AppendUint64(nil, logs[0].Index-last-1)); err != nil {
			return err
		}
		r.base = logs[0].Index - last - 1
	}
	r.batch.Clear()
	created := r.tail.begin()
	var buf []byte
	for i, l := range logs {
		if want := last + 1 + r.base + uint64(i); l.Index != want {
			return fmt.Errorf("persistence: raft entry %d stored where %d comes next", l.Index, want)
		}
		buf = appendFrame(buf[:0], appendRaftEntry(nil, l))
		r.batch.Write(l.Index-r.base, buf) // copies
		_, c := r.tail.add(len(buf))
		created += c
	}
	if err := r.log.WriteBatch(&r.batch); err != nil {
		return fmt.Errorf("persistence: writing raft entries %d to %d: %w", logs[0].Index, logs[len(logs)-1].Index, err)
	}
	r.stats.wrote(len(logs))
	start := time.Now()
	if err := r.log.Sync(); err != nil {
		return fmt.Errorf("persistence: fsync of the raft log: %w", err)
	}
	if created > 0 {
		if err := syncDir(filepath.Join(r.dir, raftLogDir)); err != nil {
			return err
		}
	}
	r.stats.synced(time.Since(start))
	return nil
}

// Stats counts the entries written and the fsyncs since open, as the
// journal's WAL does (the console and /metrics show them).
func (r *RaftLog) Stats() WALStats {
	_, total, _ := segmentSizes(filepath.Join(r.dir, raftLogDir)) // 0 if the folder cannot be read
	return r.stats.read(total)
}

// DeleteRange deletes the entries from lo to hi, inclusive: a prefix
// (after a snapshot), a suffix (entries a new leader overrode) or all.
func (r *RaftLog) DeleteRange(lo, hi uint64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	first, last, err := r.span()
	if err != nil || first > last {
		return err
	}
	head, end := first+r.base, last+r.base
	lo, hi = max(lo, head), min(hi, end)
	switch {
	case lo > hi:
		return nil
	case lo == head && hi == end: // all: the wal stays where it is, empty
		err = r.log.TruncateBack(first - 1)
	case lo == head:
		err = r.log.TruncateFront(hi - r.base + 1)
	case hi == end:
		err = r.log.TruncateBack(lo - r.base - 1)
	default:
		return fmt.Errorf("persistence: cannot delete raft entries %d to %d from the middle of %d to %d", lo, hi, head, end)
	}
	if err != nil {
		return fmt.Errorf("persistence: deleting raft entries %d to %d: %w", lo, hi, err)
	}
	logDir := filepath.Join(r.dir, raftLogDir)
	if r.tail.size, _, err = segmentSizes(logDir); err != nil {
		return err
	}
	return syncDir(logDir)
}

// Set stores a stable key, durably.
func (r *RaftLog) Set(key, val []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.setStable(string(key), val)
}

// Get returns a stable key's value, empty when it has none.
func (r *RaftLog) Get(key []byte) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.stable[string(key)]...), nil
}

// SetUint64 stores a stable key holding a number.
func (r *RaftLog) SetUint64(key []byte, val uint64) error {
	return r.Set(key, binary.LittleEndian.AppendUint64(nil, val))
}

// GetUint64 returns a stable key's number, 0 when it has none.
func (r *RaftLog) GetUint64(key []byte) (uint64, error) {
	v, err := r.Get(key)
	if err != nil || len(v) == 0 {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("persistence: stable key %q holds %d bytes, not a number", key, len(v))
	}
	return binary.LittleEndian.Uint64(v), nil
}

// setStable writes every stable key with key set to val: a temp file,
// fsynced, renamed over the old one, and the directory fsynced.
func (r *RaftLog) setStable(key string, val []byte) error {
	next := make(map[string][]byte, len(r.stable)+1)
	for k, v := range r.stable {
		next[k] = v
	}
	next[key] = append([]byte(nil), val...)
	if err := writeStable(r.dir, next); err != nil {
		return err
	}
	r.stable = next
	return nil
}

// Close closes the log and releases its directory.
func (r *RaftLog) Close() error {
	err := r.log.Close()
	if cerr := r.lock.Close(); err == nil {
		err = cerr
	}
	return err
}

// A raft entry's record: uvarint index, uvarint term, type, then data,
// extensions (each uvarint length and bytes) and the time appended (Unix
// nanoseconds, varint; 0 for none).
func appendRaftEntry(dst []byte, l *raft.Log) []byte {
	dst = binary.AppendUvarint(dst, l.Index)
	dst = binary.AppendUvarint(dst, l.Term)
	dst = append(dst, byte(l.Type))
	dst = appendBytes(dst, l.Data)
	dst = appendBytes(dst, l.Extensions)
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	return binary.AppendVarint(dst, at)
}

func decodeRaftEntry(b []byte, l *raft.Log) error {
	d := decoder{b: b}
	l.Index = d.uvarint()
	l.Term = d.uvarint()
	l.Type = raft.LogType(d.byte())
	l.Data = nilIfEmpty(d.bytes())
	l.Extensions = nilIfEmpty(d.bytes())
	at := d.varint()
	if d.err == nil && len(d.b) != 0 {
		d.fail(errors.New("trailing bytes"))
	}
	if d.err != nil {
		return fmt.Errorf("raft entry: %w", d.err)
	}
	l.AppendedAt = time.Time{}
	if at != 0 {
		l.AppendedAt = time.Unix(0, at)
	}
	return nil
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// The stable file: one frame whose body is the keys in order, each a
// uvarint length and bytes, then its value the same way.
func writeStable(dir string, keys map[string][]byte) error {
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	body := []byte{1} // the format's version: a frame's body is never empty
	for _, k := range names {
		body = appendBytes(appendBytes(body, []byte(k)), keys[k])
	}
	path := filepath.Join(dir, raftStableFile)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(appendFrame(nil, body))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("persistence: writing the raft stable file: %w", err)
	}
	return nil
}

func readStable(dir string) (map[string][]byte, error) {
	path := filepath.Join(dir, raftStableFile)
	keys := make(map[string][]byte)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return keys, nil
	}
	if err != nil {
		return nil, err
	}
	body, err := decodeFrame(data)
	if err != nil || body[0] != 1 {
		return nil, &CorruptError{File: raftStableFile, Reason: "the raft stable file is damaged"}
	}
	d := decoder{b: body[1:]}
	for len(d.b) > 0 && d.err == nil {
		k, v := d.string(), d.bytes()
		keys[k] = v
	}
	if d.err != nil {
		return nil, &CorruptError{File: raftStableFile, Reason: "the raft stable file is damaged: " + d.err.Error()}
	}
	return keys, nil
}
