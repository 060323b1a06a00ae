package persistence

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/documentcloud/crowd/core"
)

// The whole-body forms of the snapshot codec, for the tests: the
// coordinator streams snapshots (WriteSnapshotOf) and reads them in parts
// (SplitSnapshot).

// EncodeSnapshot joins the counters, the paused actions and the encoded jobs
// into a snapshot body (WriteSnapshotOf writes it without joining).
func EncodeSnapshot(s Snapshot, jobs [][]byte) []byte {
	n := 32
	for _, j := range jobs {
		n += len(j) + binary.MaxVarintLen64
	}
	b := appendSnapshotHead(make([]byte, 0, n), s, len(jobs))
	for _, j := range jobs {
		b = appendBytes(b, j)
	}
	return b
}

// DecodeSnapshot parses a snapshot body.
func DecodeSnapshot(data []byte) (s Snapshot, jobs []core.JobState, err error) {
	s, parts, err := SplitSnapshot(data)
	if err != nil {
		return s, nil, err
	}
	jobs = make([]core.JobState, 0, len(parts))
	for i, p := range parts {
		job, err := DecodeJob(p)
		if err != nil {
			return s, nil, fmt.Errorf("snapshot: job %d of %d: %w", i+1, len(parts), err)
		}
		jobs = append(jobs, job)
	}
	return s, jobs, nil
}

// WriteSnapshot writes data as snapshot gen of the state up to log record
// logIndex, atomically and durably, then removes the older snapshots.
func WriteSnapshot(dir string, gen uint64, logIndex uint64, data []byte) error {
	return writeSnapshot(dir, gen, logIndex, int64(len(data)), func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
