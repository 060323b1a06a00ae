package actors

import "github.com/documentcloud/crowd/core"

// finishedJobs holds the jobs that are done: succeeded or failed, their
// callback settled. Such a job changes again only if it is deleted or
// retried, so it needs no actor: its state is encoded once
// (persistence.AppendJob) and kept as bytes, and the directory, which owns
// the store, answers queries about it by decoding it.
//
// The encodings are packed into large chunks that are only ever appended
// to, and the index (a core.IDTable: 12 bytes a job id) maps ids to places
// in them with no pointers, so a million finished jobs cost the garbage
// collector almost nothing to scan and a snapshot can read their bytes from
// another goroutine while the directory goes on appending. A chunk is dropped once every job in it is
// gone; retention deletes the oldest jobs first, which empties whole
// chunks. When deletes in the middle leave more than half of the bytes
// dead, the live ones are copied into fresh chunks.
type finishedJobs struct {
	index  core.IDTable[place]
	chunks [][]byte // nil once empty
	live   []int    // bytes in use per chunk
	bytes  int      // live bytes in all
	held   int      // bytes the chunks hold, dead ones included
}

// place is where an encoding lies: chunk, offset and length (never 0: the
// zero place is no job).
type place struct{ chunk, off, n uint32 }

const chunkSize = 1 << 20

func newFinishedJobs() *finishedJobs { return &finishedJobs{} }

// add stores a copy of job id's encoding.
func (f *finishedJobs) add(id int64, enc []byte) {
	if old := f.index.Get(id); old.n != 0 {
		f.drop(old)
	}
	f.index.Set(id, f.put(enc))
}

// put copies enc into the last chunk, or into a new one when it does not
// fit; an encoding over a quarter of a chunk gets a chunk of its own.
func (f *finishedJobs) put(enc []byte) place {
	n := len(f.chunks)
	if n == 0 || f.chunks[n-1] == nil || len(enc) > cap(f.chunks[n-1])-len(f.chunks[n-1]) {
		size := chunkSize
		if len(enc) > chunkSize/4 {
			size = len(enc)
		}
		f.chunks = append(f.chunks, make([]byte, 0, size))
		f.live = append(f.live, 0)
		f.held += size
		n++
	}
	c := &f.chunks[n-1]
	p := place{chunk: uint32(n - 1), off: uint32(len(*c)), n: uint32(len(enc))}
	*c = append(*c, enc...)
	f.live[n-1] += len(enc)
	f.bytes += len(enc)
	return p
}

// get returns job id's encoding. It shares the chunk: read it, never
// write it.
func (f *finishedJobs) get(id int64) ([]byte, bool) {
	p := f.index.Get(id)
	if p.n == 0 {
		return nil, false
	}
	return f.at(p), true
}

func (f *finishedJobs) at(p place) []byte {
	return f.chunks[p.chunk][p.off : p.off+p.n : p.off+p.n]
}

// remove forgets job id and reports whether it was there.
func (f *finishedJobs) remove(id int64) bool {
	p := f.index.Get(id)
	if p.n == 0 {
		return false
	}
	f.index.Delete(id)
	f.drop(p)
	f.maybeCompact()
	return true
}

func (f *finishedJobs) drop(p place) {
	f.live[p.chunk] -= int(p.n)
	f.bytes -= int(p.n)
	if f.live[p.chunk] == 0 && int(p.chunk) != len(f.chunks)-1 {
		f.held -= cap(f.chunks[p.chunk])
		f.chunks[p.chunk] = nil
	}
}

// maybeCompact copies the live encodings into fresh chunks once more than
// half of the bytes held are dead (and that is more than a few chunks).
// It is O(finished jobs), and rare: each run at least halves what is held.
func (f *finishedJobs) maybeCompact() {
	if f.held-f.bytes < 4*chunkSize || f.held < 2*f.bytes {
		return
	}
	chunks, index := f.chunks, &f.index
	fresh := &finishedJobs{}
	for id, p := range index.All() {
		fresh.index.Set(id, fresh.put(chunks[p.chunk][p.off:p.off+p.n]))
	}
	*f = *fresh
}

// all returns every encoding but those skip names, sharing the chunks,
// for a snapshot: the chunks' bytes in use never change, so another
// goroutine may read them.
func (f *finishedJobs) all(skip func(id int64) bool) [][]byte {
	encs := make([][]byte, 0, f.index.Len())
	for id, p := range f.index.All() {
		if !skip(id) {
			encs = append(encs, f.at(p))
		}
	}
	return encs
}
