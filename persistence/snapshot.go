package persistence

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// A snapshot file, snapshot-<gen %020d>.bin, is
//
//	magic "CRWDSNP1" ‖ gen (8 bytes LE) ‖ logIndex (8) ‖ crc32c (4) ‖ len(data) (8) ‖ data
//
// where the checksum covers gen, logIndex, len and data (Castagnoli), so a
// damaged header is caught as well as damaged data. It is written to a temp
// file, fsynced and renamed; a crash leaves at worst a temp file, which
// LoadSnapshot (at start) removes. Write one snapshot at a time.

const (
	snapshotMagic     = "CRWDSNP1"
	snapshotPrefix    = "snapshot-"
	snapshotSuffix    = ".bin"
	snapshotTmpSuffix = ".tmp"
	snapshotHeaderLen = 8 + 8 + 8 + 4 + 8
)

func snapshotName(gen uint64) string {
	return fmt.Sprintf("%s%020d%s", snapshotPrefix, gen, snapshotSuffix)
}

// WriteSnapshotOf writes the snapshot body of s and jobs as snapshot gen of
// the state up to log record logIndex, atomically and durably, then removes
// the older snapshots. The body is streamed: it is never in memory whole.
func WriteSnapshotOf(dir string, gen uint64, logIndex uint64, s Snapshot, jobs [][]byte) error {
	head := appendSnapshotHead(nil, s, len(jobs))
	n := int64(len(head))
	for _, j := range jobs {
		n += int64(uvarintLen(uint64(len(j))) + len(j))
	}
	return writeSnapshot(dir, gen, logIndex, n, func(w io.Writer) error { return writeBody(w, head, jobs) })
}

// WriteSnapshotBody streams the snapshot body of s and jobs to w (a raft
// snapshot's sink): what SplitSnapshot reads back.
func WriteSnapshotBody(w io.Writer, s Snapshot, jobs [][]byte) error {
	return writeBody(w, appendSnapshotHead(nil, s, len(jobs)), jobs)
}

func writeBody(w io.Writer, head []byte, jobs [][]byte) error {
	if _, err := w.Write(head); err != nil {
		return err
	}
	var l [binary.MaxVarintLen64]byte
	for _, j := range jobs {
		if _, err := w.Write(binary.AppendUvarint(l[:0], uint64(len(j)))); err != nil {
			return err
		}
		if _, err := w.Write(j); err != nil {
			return err
		}
	}
	return nil
}

// writeSnapshot writes a snapshot whose data (n bytes) write produces: to
// a temp file, through a buffer, checksummed on the way; then the checksum
// goes into the header, and the file is fsynced and renamed.
func writeSnapshot(dir string, gen uint64, logIndex uint64, n int64, write func(io.Writer) error) error {
	if gen == 0 {
		return errors.New("persistence: snapshot generation 0 means no snapshot")
	}
	if err := makeDir(dir); err != nil {
		return err
	}
	final := filepath.Join(dir, snapshotName(gen))
	f, err := os.CreateTemp(dir, snapshotName(gen)+".*"+snapshotTmpSuffix)
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	var hdr [snapshotHeaderLen]byte
	copy(hdr[:], snapshotMagic)
	binary.LittleEndian.PutUint64(hdr[8:], gen)
	binary.LittleEndian.PutUint64(hdr[16:], logIndex)
	binary.LittleEndian.PutUint64(hdr[28:], uint64(n))
	sum := &checksumWriter{crc: snapshotChecksum(hdr[:], nil)}
	bw := bufio.NewWriterSize(&writeBehind{f: f}, 1<<20)
	if _, err := bw.Write(hdr[:]); err != nil {
		return err
	}
	sum.w = bw
	if err := write(sum); err != nil {
		return err
	}
	if sum.n != n {
		return fmt.Errorf("persistence: snapshot data is %d bytes, not the %d announced", sum.n, n)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	binary.LittleEndian.PutUint32(hdr[24:], sum.crc)
	if _, err := f.WriteAt(hdr[24:28], 24); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	ok = true
	if err := syncDir(dir); err != nil {
		return err
	}
	// The new snapshot is durable: the older ones can go.
	gens, err := snapshotGens(dir)
	if err != nil {
		return err
	}
	removed := false
	for _, g := range gens {
		if g < gen {
			if err := os.Remove(filepath.Join(dir, snapshotName(g))); err != nil {
				return err
			}
			removed = true
		}
	}
	if removed {
		return syncDir(dir)
	}
	return nil
}

// checksumWriter passes writes on, counting them into a crc32c.
type checksumWriter struct {
	w   io.Writer
	crc uint32
	n   int64
}

func (c *checksumWriter) Write(p []byte) (int, error) {
	c.crc = crc32.Update(c.crc, castagnoli, p)
	c.n += int64(len(p))
	return c.w.Write(p)
}

// snapshotChecksum is crc32c over gen, logIndex, len (from the header) and
// data.
func snapshotChecksum(hdr, data []byte) uint32 {
	c := crc32.Update(0, castagnoli, hdr[8:24])
	c = crc32.Update(c, castagnoli, hdr[28:36])
	return crc32.Update(c, castagnoli, data)
}

// LoadSnapshot returns the newest snapshot in dir whose checksum is right:
// if the newest is damaged it is logged and an older one is used. With no
// snapshot at all it returns gen 0, nil data and no error; with snapshots
// but none sound, an error (replaying the log alone would lose the state
// they held). It removes the temp files a crash left.
func LoadSnapshot(dir string) (gen, logIndex uint64, data []byte, err error) {
	removed, err := removeSnapshotTemps(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil, nil
	}
	if err != nil {
		return 0, 0, nil, err
	}
	if removed {
		if err := syncDir(dir); err != nil {
			return 0, 0, nil, err
		}
	}
	gens, err := snapshotGens(dir)
	if err != nil {
		return 0, 0, nil, err
	}
	var errs []error
	for i := len(gens) - 1; i >= 0; i-- {
		g := gens[i]
		name := snapshotName(g)
		logIndex, data, err := readSnapshot(filepath.Join(dir, name), g)
		if err == nil {
			return g, logIndex, data, nil
		}
		slog.Warn("persistence: skipping a damaged snapshot", "dir", dir, "file", name, "err", err)
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	if len(errs) > 0 {
		return 0, 0, nil, fmt.Errorf("persistence: no sound snapshot in %s: %w", dir, errors.Join(errs...))
	}
	return 0, 0, nil, nil
}

func readSnapshot(path string, gen uint64) (logIndex uint64, data []byte, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, nil, err
	}
	if len(b) < snapshotHeaderLen || string(b[:8]) != snapshotMagic {
		return 0, nil, errors.New("not a snapshot file")
	}
	if g := binary.LittleEndian.Uint64(b[8:]); g != gen {
		return 0, nil, fmt.Errorf("holds generation %d", g)
	}
	if n := binary.LittleEndian.Uint64(b[28:]); n != uint64(len(b)-snapshotHeaderLen) {
		return 0, nil, fmt.Errorf("says %d bytes of data, has %d", n, len(b)-snapshotHeaderLen)
	}
	data = b[snapshotHeaderLen:]
	if snapshotChecksum(b, data) != binary.LittleEndian.Uint32(b[24:]) {
		return 0, nil, errors.New("checksum mismatch")
	}
	return binary.LittleEndian.Uint64(b[16:]), data, nil
}

// snapshotGens lists the generations of the snapshot files in dir, oldest
// first.
func snapshotGens(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var gens []uint64
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasPrefix(name, snapshotPrefix) || !strings.HasSuffix(name, snapshotSuffix) {
			continue
		}
		g, err := strconv.ParseUint(name[len(snapshotPrefix):len(name)-len(snapshotSuffix)], 10, 64)
		if err != nil || g == 0 || name != snapshotName(g) {
			continue
		}
		gens = append(gens, g)
	}
	slices.Sort(gens)
	return gens, nil
}

// removeSnapshotTemps removes the temp files of snapshots that a crash
// interrupted.
func removeSnapshotTemps(dir string) (removed bool, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasPrefix(name, snapshotPrefix) || !strings.HasSuffix(name, snapshotTmpSuffix) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, err
		}
		removed = true
	}
	return removed, nil
}
