package persistence

import (
	"errors"
	"sync"

	"github.com/documentcloud/crowd/core"
)

// Memory is a journal that keeps its records in memory: nothing survives
// the process, and Append is durable at once. With keep off it only encodes
// and counts, for benchmarks of everything but the disk.
type Memory struct {
	keep bool

	mu      sync.Mutex
	records [][]byte
	count   int64
	closed  bool
}

// NewMemory returns an empty memory journal that keeps its records (for
// Replay) when keep is set.
func NewMemory(keep bool) *Memory { return &Memory{keep: keep} }

var errClosed = errors.New("persistence: journal is closed")

// Append encodes ev and stores it.
func (m *Memory) Append(ev core.Event, done func(error)) {
	var rec []byte
	if m.keep {
		rec = Encode(nil, ev)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		done(errClosed)
		return
	}
	m.count++
	if m.keep {
		m.records = append(m.records, rec)
	}
	m.mu.Unlock()
	done(nil)
}

// Replay decodes and applies every kept record.
func (m *Memory) Replay(apply func(core.Event) error) error {
	m.mu.Lock()
	records := m.records
	m.mu.Unlock()
	for i, rec := range records {
		ev, err := Decode(rec)
		if err != nil {
			return &RecordError{Index: int64(i + 1), Err: err}
		}
		if err := apply(ev); err != nil {
			return &RecordError{Index: int64(i + 1), Err: err}
		}
	}
	return nil
}

// Len is the number of records appended.
func (m *Memory) Len() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.count
}

// Close makes later appends fail.
func (m *Memory) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	return nil
}
