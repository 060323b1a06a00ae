package persistence

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/documentcloud/crowd/core"
)

var _ Journal = (*WAL)(nil)

func TestParseSyncMode(t *testing.T) {
	for s, want := range map[string]SyncMode{"group": SyncGroup, "interval": SyncInterval, "off": SyncOff, "Group": SyncGroup} {
		got, err := ParseSyncMode(s)
		if err != nil || got != want {
			t.Errorf("ParseSyncMode(%q) = %v, %v; want %v", s, got, err, want)
		}
		if want.String() != strings.ToLower(s) {
			t.Errorf("%v.String() = %q", want, want.String())
		}
	}
	if _, err := ParseSyncMode("always"); err == nil {
		t.Error(`ParseSyncMode("always") succeeded`)
	}
}

func TestWALReopenAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	const n = 600
	w := openWAL(t, WALOptions{Dir: dir, SegmentSize: 2048})
	if got := replayed(t, w); len(got) != 0 {
		t.Fatalf("new log replays %d records", len(got))
	}
	for i := 0; i < n; i += 50 { // several batches
		appendRange(t, w, i, i+50)
	}
	if idx, err := w.Barrier(); err != nil || idx != n {
		t.Fatalf("Barrier = %d, %v; want %d", idx, err, n)
	}
	segs := segments(t, dir)
	if len(segs) < 5 {
		t.Fatalf("only %d segments; the test wants several", len(segs))
	}
	// The writer knows when wal starts a new file (it fsyncs the directory
	// then): its count must match the files (the first came with Open).
	if w.segCreated != len(segs)-1 {
		t.Errorf("writer saw %d new segments, dir has %d files", w.segCreated, len(segs))
	}
	var total int64
	for _, s := range segs {
		total += fileSize(t, filepath.Join(dir, s))
	}
	st := w.Stats()
	if st.BytesOnDisk != total || st.Records != n || st.Batches == 0 || st.Syncs < st.Batches {
		t.Errorf("stats %+v; want BytesOnDisk %d, Records %d, Syncs >= Batches > 0", st, total, n)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	var err error
	w.Append(testEvent(0), func(e error) { err = e })
	if !errors.Is(err, errClosed) {
		t.Fatalf("Append after Close: %v", err)
	}

	w = openWAL(t, WALOptions{Dir: dir, SegmentSize: 2048})
	sameRecords(t, replayed(t, w), wantRange(0, n))
	if w.FirstIndex() != 1 {
		t.Errorf("FirstIndex = %d", w.FirstIndex())
	}
	if st := w.Stats(); st.BytesOnDisk != total {
		t.Errorf("BytesOnDisk after reopen = %d, want %d", st.BytesOnDisk, total)
	}
	appendRange(t, w, n, n+1)
	if idx, err := w.Barrier(); err != nil || idx != n+1 {
		t.Fatalf("Barrier after reopen = %d, %v; want %d", idx, err, n+1)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = openWAL(t, WALOptions{Dir: dir, SegmentSize: 2048})
	defer w.Close()
	sameRecords(t, replayed(t, w), wantRange(0, n+1))
	var idx []uint64
	if err := w.ReplayFrom(n, func(i uint64, ev core.Event) error { idx = append(idx, i); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(idx) != fmt.Sprint([]uint64{n, n + 1}) {
		t.Errorf("ReplayFrom(%d) gave indices %v", n, idx)
	}
	if err := w.ReplayFrom(n+3, func(uint64, core.Event) error { return nil }); err == nil {
		t.Error("ReplayFrom past the end of the log succeeded")
	}
}

func TestWALSyncModes(t *testing.T) {
	for _, mode := range []SyncMode{SyncGroup, SyncInterval, SyncOff} {
		t.Run(mode.String(), func(t *testing.T) {
			w := openWAL(t, WALOptions{Dir: t.TempDir(), Sync: mode, Interval: 5 * time.Millisecond})
			defer w.Close()
			const goroutines, each = 32, 40
			var calls [goroutines * each]atomic.Int32
			var unsynced atomic.Int32 // done calls that ran before their batch was fsynced
			var wg sync.WaitGroup
			for g := 0; g < goroutines; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var acks sync.WaitGroup
					for i := 0; i < each; i++ {
						k := g*each + i
						acks.Add(1)
						w.Append(testEvent(k), func(err error) {
							if err != nil {
								t.Error(err)
							}
							// Batches counts the write holding this record;
							// Syncs counts fsyncs done so far.
							if st := w.Stats(); st.Syncs < st.Batches {
								unsynced.Add(1)
							}
							calls[k].Add(1)
							acks.Done()
						})
					}
					acks.Wait()
				}()
			}
			wg.Wait()
			for k := range calls {
				if c := calls[k].Load(); c != 1 {
					t.Fatalf("done of append %d ran %d times", k, c)
				}
			}
			switch mode {
			case SyncGroup:
				if u := unsynced.Load(); u != 0 {
					t.Errorf("%d done calls ran before the fsync", u)
				}
			case SyncOff:
				if st := w.Stats(); st.Syncs != 0 || unsynced.Load() != goroutines*each {
					t.Errorf("off mode: %d syncs, %d of %d acks before a sync", st.Syncs, unsynced.Load(), goroutines*each)
				}
			case SyncInterval:
				deadline := time.Now().Add(5 * time.Second)
				for w.Stats().Syncs == 0 && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
				if w.Stats().Syncs == 0 {
					t.Error("interval mode never fsynced")
				}
			}
			idx, err := w.Barrier()
			if err != nil || idx != goroutines*each {
				t.Fatalf("Barrier = %d, %v; want %d", idx, err, goroutines*each)
			}
			if mode == SyncOff && w.Stats().Syncs != 1 {
				t.Errorf("Barrier in off mode: %d syncs, want 1", w.Stats().Syncs)
			}
			var got []string
			if err := w.Replay(func(ev core.Event) error { got = append(got, enc(ev)); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(got) != goroutines*each {
				t.Fatalf("replayed %d records", len(got))
			}
		})
	}
}

func TestWALBarrierOnEmptyLog(t *testing.T) {
	w := openWAL(t, WALOptions{Dir: t.TempDir()})
	defer w.Close()
	if idx, err := w.Barrier(); err != nil || idx != 0 {
		t.Fatalf("Barrier on a new log = %d, %v; want 0", idx, err)
	}
}

// lastSegment returns the path of the last segment file and the offsets of
// its entries.
func lastSegment(t *testing.T, dir string) (string, []int) {
	segs := segments(t, dir)
	path := filepath.Join(dir, segs[len(segs)-1])
	return path, entryOffsets(t, path)
}

func TestWALTornTail(t *testing.T) {
	dir := t.TempDir()
	const n = 300
	w := openWAL(t, WALOptions{Dir: dir, SegmentSize: 4096})
	appendRange(t, w, 0, n)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path, offs := lastSegment(t, dir)
	size := fileSize(t, path)
	last := offs[len(offs)-1]
	if int64(last+entrySize(testEvent(n-1))) != size {
		t.Fatalf("last entry at %d of %d bytes does not end the file (%d)", last, entrySize(testEvent(n-1)), size)
	}
	cutTo := int64(last) + int64(entrySize(testEvent(n-1)))/2
	if err := os.Truncate(path, cutTo); err != nil {
		t.Fatal(err)
	}

	var logs logBuffer
	w = openWAL(t, WALOptions{Dir: dir, SegmentSize: 4096, Logger: logs.logger()})
	sameRecords(t, replayed(t, w), wantRange(0, n-1))
	out := logs.String()
	for _, want := range []string{"level=WARN", "torn tail", "file=" + filepath.Base(path),
		fmt.Sprintf("offset=%d", last), fmt.Sprintf("bytes=%d", cutTo-int64(last))} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if got := fileSize(t, path); got != int64(last) {
		t.Errorf("segment is %d bytes after the repair, want %d", got, last)
	}
	// Appends go on from the cut.
	appendRange(t, w, n, n+2)
	if idx, err := w.Barrier(); err != nil || idx != n+1 {
		t.Fatalf("Barrier = %d, %v; want %d", idx, err, n+1)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	logs = logBuffer{}
	w = openWAL(t, WALOptions{Dir: dir, SegmentSize: 4096, Logger: logs.logger()})
	defer w.Close()
	sameRecords(t, replayed(t, w), append(wantRange(0, n-1), wantRange(n, n+2)...))
	if out := logs.String(); out != "" {
		t.Errorf("a clean open logged:\n%s", out)
	}
}

func TestWALTornTailEmptiesLastSegment(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, WALOptions{Dir: dir, SegmentSize: 1024})
	appendRange(t, w, 0, 100)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Leave only half of the last segment's first entry.
	path, offs := lastSegment(t, dir)
	if len(offs) == 0 {
		t.Fatal("last segment is empty")
	}
	lost := len(offs)
	if err := os.Truncate(path, 3); err != nil {
		t.Fatal(err)
	}
	w = openWAL(t, WALOptions{Dir: dir, SegmentSize: 1024})
	defer w.Close()
	sameRecords(t, replayed(t, w), wantRange(0, 100-lost))
	if fileSize(t, path) != 0 {
		t.Error("the torn segment was not emptied")
	}
	appendRange(t, w, 100, 101)
	if idx, err := w.Barrier(); err != nil || idx != uint64(100-lost+1) {
		t.Fatalf("Barrier = %d, %v; want %d", idx, err, 100-lost+1)
	}
}

func TestWALZeroFilledTail(t *testing.T) {
	dir := t.TempDir()
	const n = 200
	w := openWAL(t, WALOptions{Dir: dir, SegmentSize: 4096})
	appendRange(t, w, 0, n)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path, _ := lastSegment(t, dir)
	size := fileSize(t, path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	f.Close()

	var logs logBuffer
	w = openWAL(t, WALOptions{Dir: dir, SegmentSize: 4096, Logger: logs.logger()})
	defer w.Close()
	sameRecords(t, replayed(t, w), wantRange(0, n))
	if got := fileSize(t, path); got != size {
		t.Errorf("segment is %d bytes, want %d (zeros cut)", got, size)
	}
	if out := logs.String(); !strings.Contains(out, fmt.Sprintf("offset=%d bytes=64 zeros=true", size)) {
		t.Errorf("log does not tell the cut:\n%s", out)
	}
	if idx, err := w.Barrier(); err != nil || idx != n {
		t.Fatalf("Barrier = %d, %v; want %d", idx, err, n)
	}
}

// A record with a bad checksum at the very end is a torn write too (its
// length was written, its body not all): cut.
func TestWALBadLastRecordIsCut(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, WALOptions{Dir: dir})
	appendRange(t, w, 0, 50)
	w.Close()
	path, offs := lastSegment(t, dir)
	flipByte(t, path, int64(offs[49]+8))
	w = openWAL(t, WALOptions{Dir: dir})
	defer w.Close()
	sameRecords(t, replayed(t, w), wantRange(0, 49))
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	editFile(t, path, func(b []byte) { b[off] ^= 0x10 })
}

// editFile rewrites the file at path after edit changed its bytes in place.
func editFile(t *testing.T, path string, edit func(b []byte)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edit(b)
	if err := os.WriteFile(path, b, 0o640); err != nil {
		t.Fatal(err)
	}
}

func TestWALCorruptMiddleOfLastSegment(t *testing.T) {
	for _, c := range []struct {
		name string
		at   int // byte of the entry to damage
	}{{"body", 9}, {"crc", 2}, {"length", 0}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			w := openWAL(t, WALOptions{Dir: dir, SegmentSize: 1 << 20})
			appendRange(t, w, 0, 100)
			w.Close()
			path, offs := lastSegment(t, dir)
			bad := offs[60]
			if c.name == "length" {
				// A length that runs past the end of the file must not hide
				// the good records after it.
				editFile(t, path, func(b []byte) { b[bad], b[bad+1], b[bad+2] = 0xff, 0xff, 0x7f })
			} else {
				flipByte(t, path, int64(bad+c.at))
			}
			before := dirFiles(t, dir)
			_, err := OpenWAL(WALOptions{Dir: dir})
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("OpenWAL = %v; want a CorruptError", err)
			}
			if ce.File != filepath.Base(path) || ce.Offset != int64(bad) {
				t.Errorf("error names %s at %d; want %s at %d", ce.File, ce.Offset, filepath.Base(path), bad)
			}
			if msg := err.Error(); !strings.Contains(msg, filepath.Base(path)) || !strings.Contains(msg, fmt.Sprint(bad)) {
				t.Errorf("message %q lacks the file or the offset", msg)
			}
			after := dirFiles(t, dir)
			if fmt.Sprint(before) != fmt.Sprint(after) {
				t.Error("a refused open changed the files")
			}
			// The lock was released: a second attempt gives the same answer.
			if _, err2 := OpenWAL(WALOptions{Dir: dir}); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("second OpenWAL = %v", err2)
			}
		})
	}
}

func TestWALCorruptEarlierSegment(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, WALOptions{Dir: dir, SegmentSize: 2048})
	appendRange(t, w, 0, 300)
	w.Close()
	segs := segments(t, dir)
	if len(segs) < 3 {
		t.Fatalf("%d segments", len(segs))
	}
	// Damage the last entry of the second segment: were it the last
	// segment, this would be cut as torn.
	path := filepath.Join(dir, segs[1])
	offs := entryOffsets(t, path)
	bad := offs[len(offs)-1]
	flipByte(t, path, int64(bad+7))
	before := dirFiles(t, dir)
	_, err := OpenWAL(WALOptions{Dir: dir})
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.File != segs[1] || ce.Offset != int64(bad) {
		t.Fatalf("OpenWAL = %v; want corruption in %s at %d", err, segs[1], bad)
	}
	if !strings.Contains(err.Error(), segs[1]) {
		t.Errorf("message %q does not name %s", err, segs[1])
	}
	if fmt.Sprint(before) != fmt.Sprint(dirFiles(t, dir)) {
		t.Error("a refused open changed the files")
	}
}

func TestWALMissingEntriesInEarlierSegment(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, WALOptions{Dir: dir, SegmentSize: 2048})
	appendRange(t, w, 0, 300)
	w.Close()
	segs := segments(t, dir)
	path := filepath.Join(dir, segs[0])
	offs := entryOffsets(t, path)
	if err := os.Truncate(path, int64(offs[len(offs)-1])); err != nil { // a whole entry gone
		t.Fatal(err)
	}
	_, err := OpenWAL(WALOptions{Dir: dir})
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.File != segs[0] {
		t.Fatalf("OpenWAL = %v; want corruption in %s", err, segs[0])
	}
}

// A bad frame that the scan could not see (the file changed after Open)
// stops Replay with the record's index.
func TestWALReplayReportsBadRecord(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, WALOptions{Dir: dir, SegmentSize: 2048})
	appendRange(t, w, 0, 300)
	w.Close()
	w = openWAL(t, WALOptions{Dir: dir, SegmentSize: 2048})
	defer w.Close()
	segs := segments(t, dir)
	path := filepath.Join(dir, segs[1])
	offs := entryOffsets(t, path)
	flipByte(t, path, int64(offs[3]+8))
	var first uint64
	fmt.Sscan(strings.TrimLeft(segs[1], "0"), &first)
	err := w.Replay(func(core.Event) error { return nil })
	var re *RecordError
	if !errors.As(err, &re) || re.Index != int64(first)+3 {
		t.Fatalf("Replay = %v; want a RecordError at %d", err, first+3)
	}
}

func TestWALLock(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, WALOptions{Dir: dir})
	_, err := OpenWAL(WALOptions{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "another crowd server uses the data dir") {
		t.Fatalf("second OpenWAL = %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = openWAL(t, WALOptions{Dir: dir})
	w.Close()
}

const lockChildEnv = "CROWD_WAL_LOCK_CHILD"

// TestWALLockChild is the child process of TestWALLockAcrossProcesses: it
// holds the WAL until its stdin closes.
func TestWALLockChild(t *testing.T) {
	dir := os.Getenv(lockChildEnv)
	if dir == "" {
		t.Skip("runs as the child of TestWALLockAcrossProcesses")
	}
	w, err := OpenWAL(WALOptions{Dir: dir})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("locked")
	var b [1]byte
	os.Stdin.Read(b[:]) // until the parent closes the pipe
	w.Close()
	os.Exit(0)
}

func TestWALLockAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	child := startLockChild(t, dir)
	_, err := OpenWAL(WALOptions{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "another crowd server uses the data dir") {
		t.Fatalf("OpenWAL while another process holds the dir = %v", err)
	}
	child.stop(t)
	w := openWAL(t, WALOptions{Dir: dir})
	w.Close()
}

func TestWALTruncateFrontWhileAppending(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, WALOptions{Dir: dir, SegmentSize: 4096})
	const goroutines, each = 4, 1500
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				ev := &core.UnitLost{Job: int64(g), Unit: int64(i), Reason: "r"}
				if i%100 == 99 { // wait now and then, so that truncation interleaves
					errc := make(chan error, 1)
					w.Append(ev, func(err error) { errc <- err })
					if err := <-errc; err != nil {
						t.Error(err)
						return
					}
				} else {
					w.Append(ev, func(err error) {
						if err != nil {
							t.Error(err)
						}
					})
				}
			}
		}()
	}
	stop := make(chan struct{})
	truncs := make(chan int, 1)
	go func() {
		n := 0
		defer func() { truncs <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			idx, err := w.Barrier()
			if err != nil {
				t.Error(err)
				return
			}
			if idx > 1000 {
				if err := w.TruncateFront(idx - 1000); err != nil {
					t.Error(err)
					return
				}
				if w.FirstIndex() < idx-1000 {
					t.Errorf("FirstIndex %d after TruncateFront(%d)", w.FirstIndex(), idx-1000)
				}
				n++
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	wg.Wait()
	close(stop)
	if n := <-truncs; n == 0 {
		t.Error("no truncation ran while appending")
	}
	last, err := w.Barrier()
	if err != nil || last != goroutines*each {
		t.Fatalf("Barrier = %d, %v", last, err)
	}
	keep := last - 333
	if err := w.TruncateFront(keep); err != nil {
		t.Fatal(err)
	}
	if w.FirstIndex() != keep {
		t.Fatalf("FirstIndex = %d, want %d", w.FirstIndex(), keep)
	}
	var total int64
	for _, s := range segments(t, dir) {
		total += fileSize(t, filepath.Join(dir, s))
	}
	if got := w.Stats().BytesOnDisk; got != total {
		t.Errorf("BytesOnDisk = %d, files hold %d", got, total)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	w = openWAL(t, WALOptions{Dir: dir, SegmentSize: 4096})
	defer w.Close()
	if w.FirstIndex() != keep {
		t.Fatalf("FirstIndex after reopen = %d, want %d", w.FirstIndex(), keep)
	}
	// What remains is the last 334 records: for each goroutine a suffix of
	// its appends, in order.
	next := map[int64]int64{}
	count := 0
	err = w.ReplayFrom(0, func(i uint64, ev core.Event) error {
		if i != keep+uint64(count) {
			return fmt.Errorf("index %d after %d records", i, count)
		}
		count++
		u := ev.(*core.UnitLost)
		if want, ok := next[u.Job]; ok && u.Unit != want {
			return fmt.Errorf("goroutine %d: unit %d after %d", u.Job, u.Unit, want-1)
		}
		next[u.Job] = u.Unit + 1
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if uint64(count) != last-keep+1 {
		t.Fatalf("replayed %d records, want %d", count, last-keep+1)
	}
	for g, n := range next {
		if n != each {
			t.Errorf("goroutine %d: last replayed unit %d, want %d", g, n-1, each-1)
		}
	}
	if err := w.ReplayFrom(keep-1, func(uint64, core.Event) error { return nil }); err == nil {
		t.Error("ReplayFrom before the first record succeeded")
	}
}

func TestWALTruncateAll(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, WALOptions{Dir: dir, SegmentSize: 1024})
	appendRange(t, w, 0, 100)
	if err := w.TruncateFront(5); err != nil {
		t.Fatal(err)
	}
	if err := w.TruncateFront(3); err != nil { // before the first: nothing to do
		t.Fatal(err)
	}
	if err := w.TruncateFront(102); err == nil {
		t.Fatal("TruncateFront past LastIndex+1 succeeded")
	}
	if err := w.TruncateFront(101); err != nil {
		t.Fatal(err)
	}
	if w.FirstIndex() != 101 {
		t.Fatalf("FirstIndex = %d", w.FirstIndex())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = openWAL(t, WALOptions{Dir: dir, SegmentSize: 1024})
	if got := replayed(t, w); len(got) != 0 || w.FirstIndex() != 101 {
		t.Fatalf("emptied log replays %d records, FirstIndex %d", len(got), w.FirstIndex())
	}
	appendRange(t, w, 100, 300)
	if idx, err := w.Barrier(); err != nil || idx != 300 {
		t.Fatalf("Barrier = %d, %v; want 300", idx, err)
	}
	w.Close()
	w = openWAL(t, WALOptions{Dir: dir, SegmentSize: 1024})
	defer w.Close()
	sameRecords(t, replayed(t, w), wantRange(100, 300))
}

// A crash in the middle of wal's TruncateFront leaves a START file (and
// maybe its temp file); Open finishes the truncation, and the scan looks at
// the files that will be live, not at those wal deletes.
func TestWALFinishesInterruptedTruncation(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, WALOptions{Dir: dir, SegmentSize: 2048})
	appendRange(t, w, 0, 300)
	w.Close()
	segs := segments(t, dir)
	if len(segs) < 4 {
		t.Fatalf("%d segments", len(segs))
	}
	// Truncate before the 5th record of the third segment.
	var first uint64
	fmt.Sscan(strings.TrimLeft(segs[2], "0"), &first)
	data, err := os.ReadFile(filepath.Join(dir, segs[2]))
	if err != nil {
		t.Fatal(err)
	}
	offs := entryOffsets(t, filepath.Join(dir, segs[2]))
	index := first + 4
	start := fmt.Sprintf("%020d.START", index)
	if err := os.WriteFile(filepath.Join(dir, start), data[offs[4]:], 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, start+".TEMP"), []byte("half"), 0o640); err != nil {
		t.Fatal(err)
	}
	// The first segment is about to be deleted: damage in it does not count.
	flipByte(t, filepath.Join(dir, segs[0]), 20)
	os.Remove(filepath.Join(dir, segs[1])) // deleted before the crash

	w = openWAL(t, WALOptions{Dir: dir, SegmentSize: 2048})
	defer w.Close()
	if w.FirstIndex() != index {
		t.Fatalf("FirstIndex = %d, want %d", w.FirstIndex(), index)
	}
	sameRecords(t, replayed(t, w), wantRange(int(index)-1, 300))
	for name := range dirFiles(t, dir) {
		if strings.Contains(name, ".START") || strings.Contains(name, ".TEMP") || name == segs[0] || name == segs[2] {
			t.Errorf("%s is left", name)
		}
	}
}

func TestWALWriteErrorIsFatal(t *testing.T) {
	dir := t.TempDir()
	var logs logBuffer
	w := openWAL(t, WALOptions{Dir: dir, Logger: logs.logger()})
	appendRange(t, w, 0, 10)
	w.log.Close() // the next write fails
	errc := make(chan error, 1)
	w.Append(testEvent(10), func(err error) { errc <- err })
	if err := <-errc; err == nil {
		t.Fatal("append to a broken log succeeded")
	}
	w.Append(testEvent(11), func(err error) { errc <- err })
	if err := <-errc; err == nil {
		t.Fatal("append after a write error succeeded")
	}
	if _, err := w.Barrier(); err == nil {
		t.Fatal("Barrier after a write error succeeded")
	}
	if !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("the failure was not logged at Error:\n%s", logs.String())
	}
	if err := w.Close(); err == nil {
		t.Error("Close hid the write error")
	}
	w = openWAL(t, WALOptions{Dir: dir})
	defer w.Close()
	sameRecords(t, replayed(t, w), wantRange(0, 10))
}

// Appenders that each wait for their record, as request handlers do, share
// fsyncs in SyncGroup: the writer gathers what they append while it works.
func TestGroupCommitSharesFsyncs(t *testing.T) {
	w := openWAL(t, WALOptions{Dir: t.TempDir(), Sync: SyncGroup})
	defer w.Close()
	const appenders, each = 32, 50
	var wg sync.WaitGroup
	for g := 0; g < appenders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				acked := make(chan error, 1)
				w.Append(testEvent(g*each+i), func(err error) { acked <- err })
				if err := <-acked; err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	st := w.Stats()
	if st.Records != appenders*each {
		t.Fatalf("%d records written, want %d", st.Records, appenders*each)
	}
	if st.Records < 2*st.Syncs {
		t.Errorf("%d records took %d fsyncs: want at least 2 records per fsync from %d concurrent appenders", st.Records, st.Syncs, appenders)
	}
}
