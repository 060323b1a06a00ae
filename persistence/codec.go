package persistence

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/documentcloud/crowd/core"
)

// Record types: the first byte of every encoded event. Never renumber them:
// logs on disk hold these values.
const (
	recJobCreated      = 1
	recUnitFinished    = 2
	recUnitLost        = 3
	recJobDeleted      = 4
	recCallbackSettled = 5
	recUnitsRetried    = 6
	recActionPaused    = 7
)

// RecordError locates a record that could not be decoded or applied.
type RecordError struct {
	Index int64
	Err   error
}

func (e *RecordError) Error() string { return fmt.Sprintf("record %d: %v", e.Index, e.Err) }
func (e *RecordError) Unwrap() error { return e.Err }

// Encode appends the binary form of ev to b: a type byte, then the fields
// as varints and length-prefixed bytes.
func Encode(b []byte, ev core.Event) []byte {
	switch ev := ev.(type) {
	case *core.JobCreated:
		b = append(b, recJobCreated)
		b = binary.AppendUvarint(b, uint64(ev.Job))
		b = appendString(b, ev.Action)
		b = appendJobFlags(b, jobFlags{split: ev.Split, merge: ev.Merge, email: ev.Email != nil})
		b = binary.AppendUvarint(b, uint64(len(ev.Inputs)))
		for _, in := range ev.Inputs {
			b = appendString(b, in)
		}
		b = appendBytes(b, ev.Options)
		b = appendString(b, ev.CallbackURL)
		if ev.Email != nil {
			b = appendString(b, *ev.Email)
		}
		b = binary.AppendUvarint(b, uint64(ev.MaxAttempts))
		b = binary.AppendUvarint(b, uint64(ev.FirstUnit))
		b = binary.AppendVarint(b, ev.At)
	case *core.UnitFinished:
		b = append(b, recUnitFinished)
		b = binary.AppendUvarint(b, uint64(ev.Job))
		b = binary.AppendUvarint(b, ev.Seq)
		b = binary.AppendUvarint(b, uint64(ev.Unit))
		b = appendBool(b, ev.Succeeded)
		b = appendBytes(b, ev.Output)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(ev.Time))
		b = appendString(b, ev.Worker)
		b = binary.AppendUvarint(b, uint64(ev.FirstNew))
		b = binary.AppendVarint(b, ev.At)
	case *core.UnitLost:
		b = append(b, recUnitLost)
		b = binary.AppendUvarint(b, uint64(ev.Job))
		b = binary.AppendUvarint(b, ev.Seq)
		b = binary.AppendUvarint(b, uint64(ev.Unit))
		b = appendString(b, ev.Reason)
		b = binary.AppendVarint(b, ev.At)
	case *core.JobDeleted:
		b = append(b, recJobDeleted)
		b = binary.AppendUvarint(b, uint64(ev.Job))
		b = binary.AppendUvarint(b, ev.Seq)
	case *core.CallbackSettled:
		b = append(b, recCallbackSettled)
		b = binary.AppendUvarint(b, uint64(ev.Job))
		b = binary.AppendUvarint(b, ev.Seq)
		b = appendBool(b, ev.Delivered)
	case *core.UnitsRetried:
		b = append(b, recUnitsRetried)
		b = binary.AppendUvarint(b, uint64(ev.Job))
		b = binary.AppendUvarint(b, ev.Seq)
		b = binary.AppendVarint(b, ev.At)
	case *core.ActionPaused:
		b = append(b, recActionPaused)
		b = appendString(b, ev.Action)
		b = appendBool(b, ev.Paused)
		b = binary.AppendUvarint(b, uint64(ev.ID))
		b = binary.AppendVarint(b, ev.At)
	default:
		panic(fmt.Sprintf("persistence: cannot encode %T", ev))
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

var errTruncated = errors.New("record is truncated")

// decoder reads fields in order and remembers the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errTruncated)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) id() int64 {
	v := d.uvarint()
	if v > math.MaxInt64 {
		d.fail(errors.New("id out of range"))
		return 0
	}
	return int64(v)
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errTruncated)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes reads a length-prefixed field into a copy of its own.
func (d *decoder) bytes() []byte {
	p := d.bytesNoCopy()
	if p == nil {
		return nil
	}
	return append(make([]byte, 0, len(p)), p...)
}

func (d *decoder) string() string { return string(d.bytes()) }

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail(errTruncated)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bool() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail(errors.New("bad boolean"))
	return false
}

func (d *decoder) float() float64 {
	if len(d.b) < 8 {
		d.fail(errTruncated)
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	if math.IsNaN(v) || math.IsInf(v, 0) {
		d.fail(errors.New("time is not a finite number"))
	}
	return v
}

// Decode parses one record made by Encode.
func Decode(rec []byte) (core.Event, error) {
	if len(rec) == 0 {
		return nil, errors.New("empty record")
	}
	d := &decoder{b: rec[1:]}
	var ev core.Event
	switch rec[0] {
	case recJobCreated:
		e := &core.JobCreated{Job: d.id(), Action: d.string()}
		flags := d.jobFlags(flagSplit | flagMerge | flagEmail) // a new job has not failed
		e.Split, e.Merge = flags.split, flags.merge
		e.Inputs = make([]string, d.count())
		for i := range e.Inputs {
			e.Inputs[i] = d.string()
		}
		e.Options = d.bytes()
		e.CallbackURL = d.string()
		if flags.email {
			email := d.string()
			e.Email = &email
		}
		e.MaxAttempts = d.int()
		e.FirstUnit = d.id()
		e.At = d.varint()
		ev = e
	case recUnitFinished:
		ev = &core.UnitFinished{Job: d.id(), Seq: d.uvarint(), Unit: d.id(), Succeeded: d.bool(), Output: d.bytes(),
			Time: d.float(), Worker: d.string(), FirstNew: d.id(), At: d.varint()}
	case recUnitLost:
		ev = &core.UnitLost{Job: d.id(), Seq: d.uvarint(), Unit: d.id(), Reason: d.string(), At: d.varint()}
	case recJobDeleted:
		ev = &core.JobDeleted{Job: d.id(), Seq: d.uvarint()}
	case recCallbackSettled:
		ev = &core.CallbackSettled{Job: d.id(), Seq: d.uvarint(), Delivered: d.bool()}
	case recUnitsRetried:
		ev = &core.UnitsRetried{Job: d.id(), Seq: d.uvarint(), At: d.varint()}
	case recActionPaused:
		ev = &core.ActionPaused{Action: d.string(), Paused: d.bool(), ID: d.id(), At: d.varint()}
	default:
		return nil, fmt.Errorf("unknown record type %d", rec[0])
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, errors.New("trailing bytes after record")
	}
	return ev, nil
}

// Job flags: a job's booleans, packed into one byte by both the JobCreated
// record and a job's snapshot. Never renumber them: logs and snapshots on
// disk hold these bits.
const (
	flagSplit  = 1 << iota // the action splits its inputs
	flagMerge              // the action merges the outputs
	flagEmail              // an email address follows the callback URL
	flagFailed             // snapshots only: a unit has failed for good
)

// jobFlags are the booleans the flag byte holds.
type jobFlags struct {
	split, merge, email, failed bool
}

func appendJobFlags(b []byte, f jobFlags) []byte {
	var c byte
	if f.split {
		c |= flagSplit
	}
	if f.merge {
		c |= flagMerge
	}
	if f.email {
		c |= flagEmail
	}
	if f.failed {
		c |= flagFailed
	}
	return append(b, c)
}

// jobFlags reads a flag byte, failing on a bit outside valid: each format
// accepts only the bits it writes.
func (d *decoder) jobFlags(valid byte) jobFlags {
	c := d.byte()
	if c&^valid != 0 {
		d.fail(errors.New("bad flags"))
	}
	return jobFlags{
		split:  c&flagSplit != 0,
		merge:  c&flagMerge != 0,
		email:  c&flagEmail != 0,
		failed: c&flagFailed != 0,
	}
}
