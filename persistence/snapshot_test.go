package persistence

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/documentcloud/crowd/core"
)

func TestSnapshotWriteLoad(t *testing.T) {
	dir := t.TempDir()
	if err := WriteSnapshot(dir, 1, 10, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := WriteSnapshot(dir, 2, 20, []byte("two")); err != nil {
		t.Fatal(err)
	}
	gen, idx, data, err := LoadSnapshot(dir)
	if err != nil || gen != 2 || idx != 20 || string(data) != "two" {
		t.Fatalf("LoadSnapshot = %d, %d, %q, %v; want 2, 20, two", gen, idx, data, err)
	}
	files := dirFiles(t, dir)
	if len(files) != 1 || files["snapshot-00000000000000000002.bin"] == "" {
		t.Fatalf("files after two snapshots: %v", keys(files))
	}
	if err := WriteSnapshot(dir, 3, 30, nil); err != nil {
		t.Fatal(err)
	}
	if gen, idx, data, err := LoadSnapshot(dir); err != nil || gen != 3 || idx != 30 || len(data) != 0 {
		t.Fatalf("empty snapshot: %d, %d, %q, %v", gen, idx, data, err)
	}
}

func keys(m map[string]string) []string {
	var k []string
	for name := range m {
		k = append(k, name)
	}
	return k
}

func TestSnapshotNone(t *testing.T) {
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "missing")} {
		gen, idx, data, err := LoadSnapshot(dir)
		if gen != 0 || idx != 0 || data != nil || err != nil {
			t.Errorf("LoadSnapshot(%s) = %d, %d, %q, %v", filepath.Base(dir), gen, idx, data, err)
		}
	}
}

func captureDefaultLog(t *testing.T) *logBuffer {
	var logs logBuffer
	old := slog.Default()
	slog.SetDefault(logs.logger())
	t.Cleanup(func() { slog.SetDefault(old) })
	return &logs
}

func TestSnapshotFallsBackToOlder(t *testing.T) {
	for _, c := range []struct {
		name string
		at   int // byte to damage in the newest snapshot (negative: from the end)
	}{{"data", -2}, {"logIndex", 17}, {"magic", 0}, {"length", 30}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := WriteSnapshot(dir, 1, 10, []byte("one")); err != nil {
				t.Fatal(err)
			}
			older, err := os.ReadFile(filepath.Join(dir, snapshotName(1)))
			if err != nil {
				t.Fatal(err)
			}
			if err := WriteSnapshot(dir, 2, 20, []byte("two, longer")); err != nil {
				t.Fatal(err)
			}
			// WriteSnapshot removed gen 1: put it back by hand.
			if err := os.WriteFile(filepath.Join(dir, snapshotName(1)), older, 0o640); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, snapshotName(2))
			editFile(t, path, func(b []byte) {
				at := c.at
				if at < 0 {
					at += len(b)
				}
				b[at] ^= 0x04
			})

			logs := captureDefaultLog(t)
			gen, idx, data, err := LoadSnapshot(dir)
			if err != nil || gen != 1 || idx != 10 || string(data) != "one" {
				t.Fatalf("LoadSnapshot = %d, %d, %q, %v; want 1, 10, one", gen, idx, data, err)
			}
			if out := logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, snapshotName(2)) {
				t.Errorf("the damaged snapshot was not logged:\n%s", out)
			}
		})
	}
}

func TestSnapshotAllDamaged(t *testing.T) {
	dir := t.TempDir()
	if err := WriteSnapshot(dir, 5, 1, []byte("five")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, snapshotName(5))
	if err := os.Truncate(path, fileSize(t, path)-1); err != nil {
		t.Fatal(err)
	}
	captureDefaultLog(t)
	if gen, _, _, err := LoadSnapshot(dir); err == nil || !strings.Contains(err.Error(), snapshotName(5)) {
		t.Fatalf("LoadSnapshot of a damaged snapshot = %d, %v", gen, err)
	}
}

func TestSnapshotRemovesTempFiles(t *testing.T) {
	dir := t.TempDir()
	if err := WriteSnapshot(dir, 4, 40, []byte("four")); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, snapshotName(5)+".123456.tmp")
	if err := os.WriteFile(tmp, []byte("CRWDSNP1 half"), 0o640); err != nil {
		t.Fatal(err)
	}
	gen, idx, data, err := LoadSnapshot(dir)
	if err != nil || gen != 4 || idx != 40 || !bytes.Equal(data, []byte("four")) {
		t.Fatalf("LoadSnapshot = %d, %d, %q, %v", gen, idx, data, err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("temp file left: %v", err)
	}
}

// Snapshots and the log share the data dir: neither takes the other's files.
func TestSnapshotBesideWAL(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, WALOptions{Dir: dir})
	appendRange(t, w, 0, 10)
	idx, err := w.Barrier()
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteSnapshot(dir, 1, idx, []byte("state")); err != nil {
		t.Fatal(err)
	}
	if err := w.TruncateFront(idx + 1); err != nil {
		t.Fatal(err)
	}
	appendRange(t, w, 10, 15)
	w.Close()
	gen, snapIdx, data, err := LoadSnapshot(dir)
	if err != nil || gen != 1 || snapIdx != 10 || string(data) != "state" {
		t.Fatalf("LoadSnapshot = %d, %d, %q, %v", gen, snapIdx, data, err)
	}
	w = openWAL(t, WALOptions{Dir: dir})
	defer w.Close()
	var got []string
	if err := w.ReplayFrom(snapIdx+1, func(_ uint64, ev core.Event) error { got = append(got, enc(ev)); return nil }); err != nil {
		t.Fatal(err)
	}
	sameRecords(t, got, wantRange(10, 15))
}

// WriteSnapshotOf streams the very body EncodeSnapshot joins, a few MiB of
// it here, so that the write-behind windows are crossed.
func TestSnapshotOfStreamsTheEncodedBody(t *testing.T) {
	snap := Snapshot{LastJob: 9, LastUnit: 90, LastPause: 2, Paused: []core.Pause{{ID: 2, Action: "a", At: 5}}}
	var jobs [][]byte
	for i := range 30000 {
		jobs = append(jobs, bytes.Repeat([]byte{byte(i)}, 1+i%300))
	}
	dir := t.TempDir()
	if err := WriteSnapshotOf(dir, 4, 40, snap, jobs); err != nil {
		t.Fatal(err)
	}
	gen, idx, data, err := LoadSnapshot(dir)
	if err != nil || gen != 4 || idx != 40 {
		t.Fatalf("LoadSnapshot = %d, %d, %v", gen, idx, err)
	}
	if want := EncodeSnapshot(snap, jobs); !bytes.Equal(data, want) {
		t.Fatalf("the streamed body (%d bytes) differs from the joined one (%d bytes)", len(data), len(want))
	}
	head, parts, err := SplitSnapshot(data)
	if err != nil || head.LastUnit != 90 || len(parts) != len(jobs) || !bytes.Equal(parts[29999], jobs[29999]) {
		t.Fatalf("SplitSnapshot: %+v, %d parts, %v", head, len(parts), err)
	}
}
