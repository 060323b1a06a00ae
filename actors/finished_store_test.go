package actors

import (
	"bytes"
	"strconv"
	"testing"
)

// The finished store gives back what it was given, frees a chunk once its
// jobs are gone, gives a large encoding a chunk of its own, and compacts
// once most of what it holds is dead, keeping every live encoding.
func TestFinishedStore(t *testing.T) {
	f := newFinishedJobs()
	enc := func(id int64) []byte { return bytes.Repeat([]byte(strconv.FormatInt(id, 10)+";"), 40) }
	const n = 60000 // about 17 chunks
	for id := int64(1); id <= n; id++ {
		f.add(id, enc(id))
	}
	check := func(when string, live func(int64) bool) {
		t.Helper()
		count := 0
		for id := int64(1); id <= n; id++ {
			got, ok := f.get(id)
			if ok != live(id) || (ok && !bytes.Equal(got, enc(id))) {
				t.Fatalf("%s: job %d: %v %.20q, want live %v", when, id, ok, got, live(id))
			}
			if ok {
				count++
			}
		}
		if f.index.Len() != count {
			t.Fatalf("%s: len %d, want %d", when, f.index.Len(), count)
		}
	}
	check("after adding", func(int64) bool { return true })
	chunks := len(f.chunks)
	if chunks < 10 || f.held != chunks*chunkSize {
		t.Fatalf("%d chunks holding %d bytes", chunks, f.held)
	}

	// The oldest third goes, as retention deletes: whole chunks are freed.
	for id := int64(1); id <= n/3; id++ {
		f.remove(id)
	}
	check("after the oldest third went", func(id int64) bool { return id > n/3 })
	if f.chunks[0] != nil || f.held >= chunks*chunkSize*3/4 {
		t.Fatalf("the first chunk is still held (%d of %d bytes held)", f.held, chunks*chunkSize)
	}

	// Every other job of the rest goes: more than half of what is held is
	// dead, and the store compacts.
	for id := int64(n/3 + 1); id <= n; id += 2 {
		f.remove(id)
	}
	live := func(id int64) bool { return id > n/3 && (id-n/3)%2 == 0 }
	check("after compaction", live)
	if f.held > 2*f.bytes+chunkSize {
		t.Fatalf("%d bytes held for %d live: not compacted", f.held, f.bytes)
	}

	// A large encoding gets a chunk of its own, exactly its size.
	big := bytes.Repeat([]byte("x"), chunkSize)
	f.add(n+1, big)
	if got, ok := f.get(n + 1); !ok || !bytes.Equal(got, big) || cap(f.chunks[len(f.chunks)-1]) != len(big) {
		t.Fatalf("the large encoding: %v, its chunk of %d bytes", ok, cap(f.chunks[len(f.chunks)-1]))
	}
	if all := f.all(func(int64) bool { return false }); len(all) != f.index.Len() {
		t.Fatalf("all gives %d encodings for %d jobs", len(all), f.index.Len())
	}
	if all := f.all(func(id int64) bool { return id == n+1 }); len(all) != f.index.Len()-1 {
		t.Fatalf("all gives %d encodings for %d jobs, one skipped", len(all), f.index.Len())
	}
}
