package persistence

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/documentcloud/crowd/core"
	"github.com/tidwall/wal"
)

// SyncMode says when the log fsyncs.
type SyncMode uint8

const (
	SyncGroup    SyncMode = iota // every Append's done runs after the batch holding it is fsynced (group commit)
	SyncInterval                 // done runs after the write; a timer fsyncs every Interval (a crash loses at most that window)
	SyncOff                      // done runs after the write; the OS flushes
)

// ParseSyncMode reads "group", "interval" or "off".
func ParseSyncMode(s string) (SyncMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "group":
		return SyncGroup, nil
	case "interval":
		return SyncInterval, nil
	case "off":
		return SyncOff, nil
	}
	return 0, fmt.Errorf("persistence: unknown fsync mode %q (want group, interval or off)", s)
}

func (m SyncMode) String() string {
	switch m {
	case SyncGroup:
		return "group"
	case SyncInterval:
		return "interval"
	case SyncOff:
		return "off"
	}
	return fmt.Sprintf("SyncMode(%d)", uint8(m))
}

// WALOptions configures OpenWAL.
type WALOptions struct {
	Dir         string        // created if missing
	Sync        SyncMode      //
	Interval    time.Duration // for SyncInterval; default 50ms
	SegmentSize int           // default 16 MiB
	Logger      *slog.Logger  // repairs are logged here (Warn), with what was cut; default slog.Default()
	// OnBatch and OnSync, when set, are told of every batch written (its
	// record count) and every fsync (its duration), for metrics. They run
	// on the writer goroutine: keep them quick.
	OnBatch func(records int)
	OnSync  func(took time.Duration)
}

const (
	defaultInterval    = 50 * time.Millisecond
	defaultSegmentSize = 16 << 20
	queueSize          = 8192    // Append blocks only when this many records wait
	maxBatchRecords    = 4096    // records per WriteBatch at most
	maxBatchBytes      = 4 << 20 // bytes per WriteBatch at most (a bigger record goes alone)
	maxPooledBuffer    = 64 << 10
	gatherYields       = 2 // yields before a batch's write while records keep coming
)

// WAL is a Journal on tidwall/wal: framed, checksummed records in segment
// files in one directory, written by one goroutine that batches whatever
// is queued into one write and (in SyncGroup) one fsync.
type WAL struct {
	dir    string
	mode   SyncMode
	segSz  int
	log    *wal.Log
	lock   *os.File
	logger *slog.Logger

	mu     sync.RWMutex // held shared while sending on ch, exclusively to close it
	closed bool
	ch     chan request
	exited chan struct{}

	failed atomic.Pointer[error] // the first write or sync error: the log takes nothing after it
	first  atomic.Uint64

	stats       logStats
	bytesOnDisk atomic.Int64

	// Owned by the writer goroutine (and by OpenWAL before it starts).
	next       uint64 // index of the next record
	batch      wal.Batch
	tail       segmentTail
	dirty      bool  // written since the last fsync of the file
	dirDirty   bool  // a segment file was created since the last fsync of the directory
	segCreated int   // segment files the writer created (for tests)
	closeErr   error // the final fsync's error
}

// request is an Append (frame set) or a control (ctl set).
type request struct {
	frame []byte
	buf   *[]byte // pooled buffer holding frame
	done  func(error)
	ctl   *control
}

type control struct {
	truncate bool   // TruncateFront(index); else Barrier
	index    uint64 //
	reply    chan controlResult
}

type controlResult struct {
	index uint64
	err   error
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

var frameHeaderSpace [frameMaxHeader]byte

// OpenWAL locks o.Dir, repairs a torn tail, opens the log and starts its
// writer. Replay it before the first Append.
func OpenWAL(o WALOptions) (*WAL, error) {
	if o.Dir == "" {
		return nil, errors.New("persistence: WALOptions.Dir is empty")
	}
	if o.Sync > SyncOff {
		return nil, fmt.Errorf("persistence: bad fsync mode %v", o.Sync)
	}
	if o.Interval <= 0 {
		o.Interval = defaultInterval
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
	w, err := openLocked(dir, o)
	if err != nil {
		lock.Close()
		return nil, err
	}
	w.lock = lock
	go w.run(o.Interval)
	return w, nil
}

func openLocked(dir string, o WALOptions) (*WAL, error) {
	if err := repair(dir, o.Logger); err != nil {
		return nil, err
	}
	log, err := wal.Open(dir, &wal.Options{
		NoSync:      true, // the writer fsyncs
		SegmentSize: o.SegmentSize,
		NoCopy:      true, // Replay decodes and drops each record at once
		AllowEmpty:  true, // TruncateFront may drop every record; always open the same way
		DirPerms:    0o750,
		FilePerms:   0o640,
	})
	if err != nil {
		return nil, fmt.Errorf("persistence: opening the wal in %s: %w", dir, err)
	}
	w := &WAL{dir: dir, mode: o.Sync, segSz: o.SegmentSize, log: log, logger: o.Logger,
		ch: make(chan request, queueSize), exited: make(chan struct{}), stats: logStats{onBatch: o.OnBatch, onSync: o.OnSync}}
	fail := func(err error) (*WAL, error) {
		log.Close()
		return nil, err
	}
	first, err := log.FirstIndex()
	if err != nil {
		return fail(err)
	}
	last, err := log.LastIndex()
	if err != nil {
		return fail(err)
	}
	w.first.Store(first)
	w.next = last + 1
	// wal may have created the first segment or finished a truncation.
	if err := syncDir(dir); err != nil {
		return fail(err)
	}
	if err := w.measure(); err != nil {
		return fail(err)
	}
	return w, nil
}

// makeDir creates dir if missing, durably.
func makeDir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

// claimDir makes dir (durably) if it is missing and locks it, for a log
// that keeps its files there; it returns dir made absolute.
func claimDir(dir string) (abs string, lock *os.File, err error) {
	if abs, err = filepath.Abs(dir); err != nil {
		return "", nil, err
	}
	if err := makeDir(abs); err != nil {
		return "", nil, err
	}
	if lock, err = lockDir(abs); err != nil {
		return "", nil, err
	}
	return abs, lock, nil
}

// measure reads the size of the segment files: the last one's decides when
// wal starts a new file (the writer fsyncs the directory then).
func (w *WAL) measure() error {
	tailSize, total, err := segmentSizes(w.dir)
	if err != nil {
		return err
	}
	w.tail = segmentTail{size: tailSize, limit: int64(w.segSz)}
	w.bytesOnDisk.Store(total)
	return nil
}

// Append encodes and frames ev in the caller's goroutine and queues it for
// the writer; it blocks only while the queue is full. done runs once: in
// SyncGroup after the record is fsynced, in the other modes after it is
// written. After a write or sync error, or Close, done gets an error. done
// runs on the writer goroutine (or the caller's, for an error found at
// once): it must be short and must not call Append, Barrier, TruncateFront
// or Close, which wait for the writer.
func (w *WAL) Append(ev core.Event, done func(error)) {
	if done == nil {
		done = func(error) {}
	}
	bp := bufPool.Get().(*[]byte)
	buf := Encode(append((*bp)[:0], frameHeaderSpace[:]...), ev)
	*bp = buf
	frame := frameHeader(buf)

	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		putBuf(bp)
		done(errClosed)
		return
	}
	if err := w.err(); err != nil {
		w.mu.RUnlock()
		putBuf(bp)
		done(err)
		return
	}
	w.ch <- request{frame: frame, buf: bp, done: done}
	w.mu.RUnlock()
}

func putBuf(bp *[]byte) {
	if cap(*bp) <= maxPooledBuffer {
		bufPool.Put(bp)
	}
}

func (w *WAL) err() error {
	if p := w.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// fail makes err fatal for the log.
func (w *WAL) fail(err error) {
	if w.failed.CompareAndSwap(nil, &err) {
		w.logger.Error("wal: write or fsync failed; the log accepts no more records", "dir", w.dir, "err", err)
	}
}

// Barrier blocks until every record appended before the call is written
// and fsynced, whatever the mode, and returns the index of the last such
// record (0 if the log never had one).
func (w *WAL) Barrier() (index uint64, err error) {
	r := w.control(&control{})
	return r.index, r.err
}

// TruncateFront drops every record before index (index itself stays). It
// runs on the writer, after the records appended before the call, so it is
// safe while appends go on; it fsyncs the directory after. An index at or
// before FirstIndex drops nothing; LastIndex+1 drops every record.
func (w *WAL) TruncateFront(index uint64) error {
	return w.control(&control{truncate: true, index: index}).err
}

func (w *WAL) control(c *control) controlResult {
	c.reply = make(chan controlResult, 1)
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return controlResult{err: errClosed}
	}
	w.ch <- request{ctl: c}
	w.mu.RUnlock()
	return <-c.reply
}

// Mode is the log's sync mode.
func (w *WAL) Mode() SyncMode { return w.mode }

// FirstIndex is the index of the first record kept; on an empty log, the
// index the next record gets.
func (w *WAL) FirstIndex() uint64 { return w.first.Load() }

// Stats returns the log's counters.
func (w *WAL) Stats() WALStats { return w.stats.read(w.bytesOnDisk.Load()) }

// Close waits for the writer to write and fsync everything appended, closes
// the log and releases the data dir. It returns the log's fatal error, if
// it had one. Appends after Close fail.
func (w *WAL) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	close(w.ch)
	w.mu.Unlock()
	<-w.exited

	err := w.err()
	if err == nil {
		err = w.closeErr
	}
	if cerr := w.log.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("persistence: closing the wal: %w", cerr)
	}
	if cerr := w.lock.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

// Replay calls apply with every record from the first to the last, in
// order. Run it before any Append.
func (w *WAL) Replay(apply func(core.Event) error) error {
	return w.ReplayFrom(0, func(_ uint64, ev core.Event) error { return apply(ev) })
}

// ReplayFrom calls apply with every record from index from (0: the first
// record) to the last, with its index. After a snapshot of logIndex S,
// replay from S+1: the log may still hold records up to S (TruncateFront
// runs after the snapshot is durable), and it is an error if it has lost
// records after S, or ends before S.
func (w *WAL) ReplayFrom(from uint64, apply func(index uint64, ev core.Event) error) error {
	first, err := w.log.FirstIndex()
	if err != nil {
		return err
	}
	last, err := w.log.LastIndex()
	if err != nil {
		return err
	}
	if from == 0 {
		from = first
	}
	if from < first {
		return fmt.Errorf("persistence: replay from record %d, but the wal starts at record %d: records are missing", from, first)
	}
	if from > last+1 {
		return fmt.Errorf("persistence: replay from record %d, but the wal ends at record %d: records are missing", from, last)
	}
	for i := from; i <= last; i++ {
		data, err := w.log.Read(i)
		if err != nil {
			return &RecordError{Index: int64(i), Err: err}
		}
		body, err := decodeFrame(data)
		if err != nil {
			return &RecordError{Index: int64(i), Err: err}
		}
		ev, err := Decode(body[:len(body):len(body)]) // the slice points into wal's buffer
		if err != nil {
			return &RecordError{Index: int64(i), Err: err}
		}
		if err := apply(i, ev); err != nil {
			return &RecordError{Index: int64(i), Err: err}
		}
	}
	return w.log.ClearCache() // the segments read stay cached otherwise
}

// run is the writer goroutine: it owns the log's tail and its indices.
func (w *WAL) run(interval time.Duration) {
	defer close(w.exited)
	var tick <-chan time.Time
	if w.mode == SyncInterval {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	reqs := make([]request, 0, maxBatchRecords)
	for {
		select {
		case r, ok := <-w.ch:
			if !ok {
				w.finish()
				return
			}
			reqs = append(reqs[:0], r)
			var open bool
			reqs, open = w.gather(reqs, len(r.frame))
			w.process(reqs)
			clear(reqs) // drop the done funcs and buffers
			if !open {
				w.finish()
				return
			}
		case <-tick:
			if w.err() == nil {
				if err := w.sync(); err != nil {
					w.fail(fmt.Errorf("persistence: wal fsync: %w", err))
				}
			}
		}
	}
}

// gather adds to reqs what is queued, up to a batch's limits, and reports
// whether the queue is still open. It then yields the thread while records
// keep coming, so that the goroutines already runnable go first: the
// actors with appends under way, whose records join this batch, and, in
// SyncGroup, the handlers the last batch answered, which were woken on
// this P and would otherwise wait out the fsync behind it. On two cores,
// at 64 connections, group-commit batches grew from 8 records to 18 and
// the PUT /work loop went from 0.49 of the in-memory journal's rate to
// 0.60 (median of 29 paired rounds); interval-mode batches grew from 1
// record to 10, and each request costs 5% less CPU. (An fsync through
// Linux AIO, which frees the thread, did no better: the kernel runs it on
// a workqueue thread that waits for the busy cores, and it took three
// times as long.)
func (w *WAL) gather(reqs []request, size int) ([]request, bool) {
	for yields := 0; ; yields++ {
		got := 0
	drain:
		for len(reqs) < maxBatchRecords && size < maxBatchBytes {
			select {
			case r, ok := <-w.ch:
				if !ok {
					return reqs, false
				}
				reqs = append(reqs, r)
				size += len(r.frame)
				got++
			default:
				break drain
			}
		}
		full := len(reqs) >= maxBatchRecords || size >= maxBatchBytes
		if full || yields == gatherYields || (yields > 0 && got == 0) {
			return reqs, true
		}
		runtime.Gosched()
	}
}

// finish fsyncs what is written when the queue is closed.
func (w *WAL) finish() {
	if w.err() == nil {
		w.closeErr = w.sync()
	}
}

// process writes the records of reqs in order; a control request runs after
// the records before it are written.
func (w *WAL) process(reqs []request) {
	start := 0
	for i, r := range reqs {
		if r.ctl != nil {
			w.commit(reqs[start:i])
			r.ctl.reply <- w.runControl(r.ctl)
			start = i + 1
		}
	}
	w.commit(reqs[start:])
}

// commit writes recs as one batch and, in SyncGroup, fsyncs it, then calls
// their done funcs.
func (w *WAL) commit(recs []request) {
	if len(recs) == 0 {
		return
	}
	if err := w.err(); err != nil {
		for _, r := range recs {
			putBuf(r.buf)
			r.done(err)
		}
		return
	}
	w.batch.Clear()
	created := w.tail.begin()
	var bytes int64
	for _, r := range recs {
		w.batch.Write(w.next, r.frame) // copies the frame
		w.next++
		putBuf(r.buf)
		n, c := w.tail.add(len(r.frame))
		bytes += n
		created += c
	}
	err := w.log.WriteBatch(&w.batch)
	if err == nil {
		w.stats.wrote(len(recs))
		w.bytesOnDisk.Add(bytes)
		w.dirty = true
		if created > 0 {
			w.dirDirty = true
			w.segCreated += created
		}
		if w.mode == SyncGroup {
			err = w.sync()
		}
	}
	if err != nil {
		err = fmt.Errorf("persistence: wal write: %w", err)
		w.fail(err)
	}
	for _, r := range recs {
		r.done(err)
	}
}

// sync fsyncs the tail segment if it was written, and the directory if a
// segment file was created, since the last sync.
func (w *WAL) sync() error {
	if !w.dirty && !w.dirDirty {
		return nil
	}
	start := time.Now()
	if w.dirty {
		if err := w.log.Sync(); err != nil {
			return err
		}
		w.dirty = false
	}
	if w.dirDirty {
		if err := syncDir(w.dir); err != nil {
			return err
		}
		w.dirDirty = false
	}
	took := time.Since(start)
	w.stats.synced(took)
	return nil
}

func (w *WAL) runControl(c *control) controlResult {
	if err := w.err(); err != nil {
		return controlResult{err: err}
	}
	if !c.truncate {
		if err := w.sync(); err != nil {
			err = fmt.Errorf("persistence: wal fsync: %w", err)
			w.fail(err)
			return controlResult{err: err}
		}
		return controlResult{index: w.next - 1}
	}
	if c.index <= w.first.Load() {
		return controlResult{}
	}
	if c.index > w.next {
		return controlResult{err: fmt.Errorf("persistence: cannot truncate the wal before record %d: its last record is %d", c.index, w.next-1)}
	}
	if err := w.log.TruncateFront(c.index); err != nil {
		err = fmt.Errorf("persistence: truncating the wal before record %d: %w", c.index, err)
		if _, ferr := w.log.FirstIndex(); ferr != nil {
			w.fail(err) // wal marked itself corrupt: its files need a reopen
		}
		return controlResult{err: err}
	}
	w.first.Store(c.index)
	if err := syncDir(w.dir); err != nil {
		err = fmt.Errorf("persistence: wal fsync: %w", err)
		w.fail(err)
		return controlResult{err: err}
	}
	w.dirDirty = false
	if err := w.measure(); err != nil {
		return controlResult{err: err}
	}
	return controlResult{}
}
