package persistence

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/documentcloud/crowd/core"
)

func email(s string) *string { return &s }

var sampleEvents = []core.Event{
	&core.JobCreated{Job: 7, Action: "word_count", Merge: true, Inputs: []string{"a", "", "[1,2]"},
		Options: []byte(`{"x":1}`), CallbackURL: "http://cb/x", Email: email(""), MaxAttempts: 3, FirstUnit: 40, At: 1700000000123456789},
	&core.JobCreated{Job: 8, Action: "process_pdfs", Split: true, Merge: true, Inputs: []string{}, Options: []byte(`{}`), MaxAttempts: 1, At: -5},
	&core.UnitFinished{Job: 7, Seq: 2, Unit: 41, Succeeded: true, Output: []byte(`[1,"two"]`), Time: 1.25, Worker: "3.71@host", FirstNew: 99, At: 42},
	&core.UnitFinished{Job: 7, Seq: 3, Unit: 42, Output: []byte(`"boom"`), At: 43},
	&core.UnitLost{Job: 7, Seq: 1 << 40, Unit: 43, Reason: "worker w stopped checking in", At: 44},
	&core.JobDeleted{Job: 8, Seq: 2},
	&core.CallbackSettled{Job: 7, Seq: 5, Delivered: true},
	&core.CallbackSettled{Job: 7, Seq: 6},
	&core.UnitsRetried{Job: 7, Seq: 7, At: 99},
	&core.ActionPaused{Action: "word_count", Paused: true, ID: 3, At: 100},
	&core.ActionPaused{Action: "word_count", ID: 3, At: 101},
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, ev := range sampleEvents {
		got, err := Decode(Encode(nil, ev))
		if err != nil {
			t.Fatalf("%T: %v", ev, err)
		}
		if !reflect.DeepEqual(got, ev) {
			t.Errorf("round trip of %T:\n got %#v\nwant %#v", ev, got, ev)
		}
	}
}

func TestDecodeRefusesDamage(t *testing.T) {
	rec := Encode(nil, sampleEvents[0])
	for cut := 0; cut < len(rec); cut++ {
		if _, err := Decode(rec[:cut]); err == nil {
			t.Errorf("record cut to %d of %d bytes decoded without error", cut, len(rec))
		}
	}
	if _, err := Decode(append(rec[:len(rec):len(rec)], 0)); err == nil {
		t.Error("trailing byte accepted")
	}
	if _, err := Decode([]byte{99, 1}); err == nil {
		t.Error("unknown record type accepted")
	}
	bad := Encode(nil, &core.UnitFinished{Job: 1, Seq: 2, Unit: 3, Output: []byte("1")})
	bad[4] = 7 // the Succeeded byte
	if _, err := Decode(bad); err == nil {
		t.Error("boolean 7 accepted")
	}
}

func TestMemoryJournalReplaysInOrder(t *testing.T) {
	m := NewMemory(true)
	acked := 0
	for _, ev := range sampleEvents {
		m.Append(ev, func(err error) {
			if err != nil {
				t.Fatal(err)
			}
			acked++
		})
	}
	if acked != len(sampleEvents) || m.Len() != int64(len(sampleEvents)) {
		t.Fatalf("acked %d, len %d, want %d", acked, m.Len(), len(sampleEvents))
	}
	var got []core.Event
	if err := m.Replay(func(ev core.Event) error { got = append(got, ev); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sampleEvents) {
		t.Fatalf("replay differs:\n got %#v\nwant %#v", got, sampleEvents)
	}
	m.Close()
	var err error
	m.Append(sampleEvents[0], func(e error) { err = e })
	if err == nil {
		t.Fatal("append after Close succeeded")
	}
}

func FuzzDecode(f *testing.F) {
	for _, ev := range sampleEvents {
		f.Add(Encode(nil, ev))
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		ev, err := Decode(rec)
		if err != nil {
			return
		}
		// Whatever decodes must survive a round trip unchanged (the bytes
		// may differ: a varint can be written with redundant zero groups).
		again, err := Decode(Encode(nil, ev))
		if err != nil || !reflect.DeepEqual(again, ev) {
			t.Fatalf("round trip of %x changed %#v into %#v (%v)", rec, ev, again, err)
		}
	})
}

// TestJobFlagsOnDisk pins the flag byte that log records and snapshots
// share (split 1, merge 2, email 4, failed 8): files on disk hold it.
func TestJobFlagsOnDisk(t *testing.T) {
	rec := Encode(nil, &core.JobCreated{Job: 1, Action: "a", Split: true, Merge: true, Inputs: []string{"i"},
		Email: email("e"), MaxAttempts: 1, FirstUnit: 2, At: 3})
	if got, want := fmt.Sprintf("%x", rec), "010101610701016900000165010206"; got != want {
		t.Errorf("JobCreated record %s, want %s", got, want)
	}
	s := core.JobState{ID: 1, Action: "a", Split: true, Merge: true, Email: email("e"), Failed: true,
		Status: core.Failed, MaxAttempts: 1}
	job := AppendJob(nil, &s)
	if got, want := fmt.Sprintf("%x", job), "0101610f0300000001650100000000000000000000"; got != want {
		t.Errorf("snapshot job %s, want %s", got, want)
	}

	const recFlagsAt, jobFlagsAt = 4, 3 // the flag byte's offset in each
	rec[recFlagsAt] |= flagFailed       // a record has no failed bit
	if _, err := Decode(rec); err == nil {
		t.Error("record with the failed bit decoded")
	}
	job[jobFlagsAt] |= 16
	body := EncodeSnapshot(Snapshot{LastJob: 1, LastUnit: 1}, [][]byte{job})
	if _, _, err := DecodeSnapshot(body); err == nil {
		t.Error("snapshot job with an unknown flag bit decoded")
	}
}
