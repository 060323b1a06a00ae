package persistence

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/documentcloud/crowd/core"
)

// The WAL treats records as opaque bytes, so these tests compare events by
// their encoding and never look at event fields.

// testEvent is record i of a test log; sizes vary with i.
func testEvent(i int) core.Event {
	return &core.UnitLost{Job: int64(i), Unit: int64(i) * 3, Reason: strings.Repeat("r", i%41), At: int64(i) * 7}
}

func enc(ev core.Event) string { return string(Encode(nil, ev)) }

// entrySize is the size of the wal entry holding ev: uvarint(len) ‖ frame.
func entrySize(ev core.Event) int {
	frame := appendFrame(nil, Encode(nil, ev))
	return uvarintLen(uint64(len(frame))) + len(frame)
}

// logBuffer collects slog output from any goroutine.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func openWAL(t testing.TB, o WALOptions) *WAL {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	w, err := OpenWAL(o)
	if err != nil {
		t.Fatalf("OpenWAL: %v", err)
	}
	return w
}

// appendRange appends testEvent(from) ... testEvent(to-1) in order and waits
// for every done.
func appendRange(t testing.TB, w *WAL, from, to int) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i := from; i < to; i++ {
		wg.Add(1)
		w.Append(testEvent(i), func(err error) {
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("append: %v", firstErr)
	}
}

// replayed returns the encodings of every record Replay gives.
func replayed(t testing.TB, w *WAL) []string {
	t.Helper()
	var got []string
	if err := w.Replay(func(ev core.Event) error { got = append(got, enc(ev)); return nil }); err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return got
}

// wantRange is the encodings of testEvent(from) ... testEvent(to-1).
func wantRange(from, to int) []string {
	var want []string
	for i := from; i < to; i++ {
		want = append(want, enc(testEvent(i)))
	}
	return want
}

func sameRecords(t testing.TB, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("record %d differs:\n got %x\nwant %x", i, got[i], want[i])
		}
	}
}

// segments lists the segment files of dir (20-digit names), sorted.
func segments(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if len(e.Name()) == 20 && strings.Trim(e.Name(), "0123456789") == "" {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// dirFiles reads every file of dir, by name.
func dirFiles(t testing.TB, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = string(b)
	}
	return files
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Size()
}

// entryOffsets returns the offset of every entry of a segment file, parsed
// with wal's own format (uvarint(len) ‖ data) and nothing of ours.
func entryOffsets(t testing.TB, path string) []int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int
	for off := 0; off < len(data); {
		size, n := uvarint(data[off:])
		if n <= 0 {
			t.Fatalf("%s: bad entry at %d", path, off)
		}
		offs = append(offs, off)
		off += n + int(size)
	}
	return offs
}

func uvarint(b []byte) (uint64, int) {
	var x uint64
	for i, c := range b {
		if i == 10 {
			return 0, -1
		}
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return x, i + 1
		}
	}
	return 0, 0
}
