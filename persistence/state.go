package persistence

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/documentcloud/crowd/core"
)

// Snapshot bodies: what a snapshot file holds inside its own checksum. The
// coordinator's state is its id counters and every job's core.JobState; the
// jobs are encoded one by one (an active job by its own actor, a finished
// one kept encoded by the directory), written one after the other
// (WriteSnapshotOf), and read back still encoded (SplitSnapshot).

const snapshotVersion = 1

// AppendJob appends the binary form of one job's state.
func AppendJob(b []byte, s *core.JobState) []byte {
	b = binary.AppendUvarint(b, uint64(s.ID))
	b = appendString(b, s.Action)
	b = appendJobFlags(b, jobFlags{split: s.Split, merge: s.Merge, email: s.Email != nil, failed: s.Failed})
	b = append(b, byte(s.Status), byte(s.Callback))
	b = appendBytes(b, s.Options)
	b = appendString(b, s.CallbackURL)
	if s.Email != nil {
		b = appendString(b, *s.Email)
	}
	b = binary.AppendUvarint(b, uint64(s.MaxAttempts))
	b = binary.AppendVarint(b, s.CreatedAt)
	b = binary.AppendVarint(b, s.FinishedAt)
	b = appendBytes(b, s.Outputs)
	b = binary.AppendUvarint(b, s.Seq)
	for _, n := range []int{s.Splits, s.SplitDone, s.ProcTotal, s.ProcDone} {
		b = binary.AppendUvarint(b, uint64(n))
	}
	b = binary.AppendUvarint(b, uint64(len(s.Ranges)))
	for _, r := range s.Ranges {
		b = binary.AppendUvarint(b, uint64(r.First))
		b = binary.AppendUvarint(b, uint64(r.Index))
		b = binary.AppendUvarint(b, uint64(r.N))
	}
	b = binary.AppendUvarint(b, uint64(len(s.Units)))
	for i := range s.Units {
		u := &s.Units[i]
		b = binary.AppendUvarint(b, uint64(u.ID))
		b = appendString(b, u.Input)
		b = append(b, byte(u.Status))
		b = binary.AppendUvarint(b, uint64(u.Attempts))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(u.Time))
		b = appendString(b, u.Worker)
		b = appendBytes(b, u.Output)
		b = binary.AppendUvarint(b, uint64(len(u.Errors)))
		for _, e := range u.Errors {
			b = appendString(b, e)
		}
		b = binary.AppendUvarint(b, uint64(u.First))
		b = binary.AppendUvarint(b, uint64(u.End))
	}
	return b
}

// Snapshot is a snapshot body's contents besides the jobs.
type Snapshot struct {
	LastJob, LastUnit int64
	LastPause         int64 // the highest pause id ever given
	Paused            []core.Pause
}

// appendSnapshotHead appends what a snapshot body holds before its jobs.
func appendSnapshotHead(b []byte, s Snapshot, jobs int) []byte {
	b = append(b, snapshotVersion)
	b = binary.AppendUvarint(b, uint64(s.LastJob))
	b = binary.AppendUvarint(b, uint64(s.LastUnit))
	b = binary.AppendUvarint(b, uint64(s.LastPause))
	b = binary.AppendUvarint(b, uint64(len(s.Paused)))
	for _, p := range s.Paused {
		b = binary.AppendUvarint(b, uint64(p.ID))
		b = appendString(b, p.Action)
		b = binary.AppendVarint(b, p.At)
	}
	return binary.AppendUvarint(b, uint64(jobs))
}

// SplitSnapshot parses a snapshot body but for its jobs, which it returns
// still encoded (AppendJob), sharing data: a finished job can stay encoded
// (DecodeJob decodes one, JobHeader reads what identifies it).
func SplitSnapshot(data []byte) (s Snapshot, jobs [][]byte, err error) {
	if len(data) == 0 || data[0] != snapshotVersion {
		return s, nil, errors.New("snapshot: unknown version")
	}
	d := &decoder{b: data[1:]}
	s.LastJob, s.LastUnit, s.LastPause = d.id(), d.id(), d.id()
	for n := d.count(); n > 0 && d.err == nil; n-- {
		s.Paused = append(s.Paused, core.Pause{ID: d.id(), Action: d.string(), At: d.varint()})
	}
	n := d.count()
	jobs = make([][]byte, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		jobs = append(jobs, d.bytesNoCopy())
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail(errors.New("trailing bytes"))
	}
	if d.err != nil {
		return s, nil, fmt.Errorf("snapshot: %w", d.err)
	}
	return s, jobs, nil
}

// DecodeJob decodes one job's state (AppendJob). The state shares nothing
// with enc.
func DecodeJob(enc []byte) (core.JobState, error) {
	d := &decoder{b: enc}
	job := decodeJob(d)
	if d.err == nil && len(d.b) != 0 {
		d.fail(errors.New("trailing bytes"))
	}
	return job, d.err
}

// JobHead is what identifies an encoded job, read without decoding the
// rest (JobHeadOf).
type JobHead struct {
	ID         int64
	Action     string
	Status     core.Status
	Callback   core.CallbackState
	FinishedAt int64
	Seq        uint64
}

// JobHeadOf reads the head of an encoded job (AppendJob).
func JobHeadOf(enc []byte) (JobHead, error) {
	d := &decoder{b: enc}
	h := JobHead{ID: d.id(), Action: d.string()}
	flags := d.jobFlags(flagSplit | flagMerge | flagEmail | flagFailed)
	h.Status, h.Callback = core.Status(d.byte()), core.CallbackState(d.byte())
	d.bytesNoCopy() // options
	d.bytesNoCopy() // callback URL
	if flags.email {
		d.bytesNoCopy()
	}
	d.uvarint() // max attempts
	d.varint()  // created at
	h.FinishedAt = d.varint()
	d.bytesNoCopy() // outputs
	h.Seq = d.uvarint()
	return h, d.err
}

func decodeJob(d *decoder) core.JobState {
	s := core.JobState{ID: d.id(), Action: d.string()}
	flags := d.jobFlags(flagSplit | flagMerge | flagEmail | flagFailed)
	s.Split, s.Merge, s.Failed = flags.split, flags.merge, flags.failed
	s.Status, s.Callback = core.Status(d.byte()), core.CallbackState(d.byte())
	s.Options = d.bytes()
	s.CallbackURL = d.string()
	if flags.email {
		email := d.string()
		s.Email = &email
	}
	s.MaxAttempts = d.int()
	s.CreatedAt, s.FinishedAt = d.varint(), d.varint()
	s.Outputs = d.bytes()
	if len(s.Outputs) == 0 {
		s.Outputs = nil // incomplete jobs have none
	}
	s.Seq = d.uvarint()
	s.Splits, s.SplitDone, s.ProcTotal, s.ProcDone = d.int(), d.int(), d.int(), d.int()
	if n := d.count(); n > 0 {
		s.Ranges = make([]core.IDRange, n)
	}
	for i := range s.Ranges {
		s.Ranges[i] = core.IDRange{First: d.id(), Index: d.int32(), N: d.int32()}
	}
	if n := d.count(); n > 0 {
		s.Units = make([]core.Unit, n)
	}
	for i := range s.Units {
		u := &s.Units[i]
		u.ID, u.Input = d.id(), d.string()
		u.Status, u.Attempts = core.Status(d.byte()), d.int()
		u.Time, u.Worker = d.float(), d.string()
		if u.Output = d.bytes(); len(u.Output) == 0 {
			u.Output = nil
		}
		if n := d.count(); n > 0 {
			u.Errors = make([]string, n)
			for k := range u.Errors {
				u.Errors[k] = d.string()
			}
		}
		u.First, u.End = d.int32(), d.int32()
	}
	return s
}

// count reads a length that must not exceed the bytes left (every element
// takes at least one byte), so a damaged length cannot allocate wildly.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail(errTruncated)
		return 0
	}
	return int(n)
}

func (d *decoder) int() int {
	v := d.uvarint()
	if v > math.MaxInt32 {
		d.fail(errors.New("number out of range"))
		return 0
	}
	return int(v)
}

func (d *decoder) int32() int32 { return int32(d.int()) }

// bytesNoCopy reads a length-prefixed field without copying it.
func (d *decoder) bytesNoCopy() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail(errTruncated)
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}
