package persistence

import (
	"sync/atomic"
	"time"
)

// WALStats are counters for metrics.
type WALStats struct {
	Records          uint64        // records written since open
	Batches          uint64        // WriteBatch calls
	Syncs            uint64        // fsyncs of the log (file and, when needed, directory)
	SyncTime         time.Duration // spent in fsyncs since open
	LastSyncDuration time.Duration //
	MaxSyncDuration  time.Duration //
	BytesOnDisk      int64         // size of the segment files
}

// logStats counts what a log wrote and how long its fsyncs took, and tells
// the log's metrics hooks of each; the journal's WAL and the raft log keep
// one each.
type logStats struct {
	records, batches, syncs     atomic.Uint64
	syncTime, lastSync, maxSync atomic.Int64
	onBatch                     func(records int)
	onSync                      func(took time.Duration)
}

func (s *logStats) wrote(records int) {
	s.records.Add(uint64(records))
	s.batches.Add(1)
	if s.onBatch != nil {
		s.onBatch(records)
	}
}

func (s *logStats) synced(took time.Duration) {
	d := int64(took)
	s.syncs.Add(1)
	s.syncTime.Add(d)
	s.lastSync.Store(d)
	if d > s.maxSync.Load() { // one writer at a time: no lost maximum
		s.maxSync.Store(d)
	}
	if s.onSync != nil {
		s.onSync(took)
	}
}

func (s *logStats) read(bytesOnDisk int64) WALStats {
	return WALStats{
		Records:          s.records.Load(),
		Batches:          s.batches.Load(),
		Syncs:            s.syncs.Load(),
		SyncTime:         time.Duration(s.syncTime.Load()),
		LastSyncDuration: time.Duration(s.lastSync.Load()),
		MaxSyncDuration:  time.Duration(s.maxSync.Load()),
		BytesOnDisk:      bytesOnDisk,
	}
}
