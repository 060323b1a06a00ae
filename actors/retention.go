package actors

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/documentcloud/crowd/core"
	"github.com/documentcloud/crowd/persistence"
)

// Retention: the directory deletes the finished jobs that finished longer
// than job_retention ago (and, on request, those older than a cleanup's
// cutoff), with their files. It works a batch at a time: the batch's
// deletions are journaled together (one fsync in group commit), leave the
// store once durable, and their files are removed, a few at a time, before
// the next batch starts. So a sweep of a million jobs never has more than
// one batch in the journal's queue ahead of the workers' reports, and the
// asset store sets the pace.
//
// A crash in the middle of a batch leaves each job either deleted (its
// record is durable) or not; replaying the log removes the files of the
// deleted ones again (State.Removed), since a crash can come between the
// record and the files.

const (
	sweepBatch    = 500 // deletions journaled at once
	fileRemovers  = 8   // a batch's file removals under way at once
	sweepInterval = time.Second
)

// sweep is the directory's retention state.
type sweep struct {
	expiry   core.Expiry
	inFlight int // deletions of the current batch not yet durable
	files    []jobFiles
	removing bool // the batch's files are being removed
	cleanups []*cleanup
}

type jobFiles struct {
	action string
	job    int64
}

// cleanup is a request to delete the finished jobs older than a cutoff.
type cleanup struct {
	cutoff  int64 // Unix nanoseconds: jobs finished at or before it go
	deleted int
	reply   chan int
}

// cleanupDone tells the directory that a batch's files are removed.
type cleanupDone struct{}

// sweep starts the next batch of deletions, unless one is under way, and
// answers the cleanups that nothing is left for.
func (d *directory) sweep(ctx actor.Context) {
	s := &d.sweeping
	if s.inFlight > 0 || s.removing {
		return
	}
	cutoff := int64(math.MinInt64)
	if r := d.c.set.JobRetention; r > 0 {
		cutoff = d.c.now() - int64(r)
	}
	for _, c := range s.cleanups {
		cutoff = max(cutoff, c.cutoff)
	}
	taken := s.expiry.Due(cutoff, sweepBatch, func(id, at int64) bool {
		h, ok := d.finishedHead(id)
		if !ok || h.FinishedAt != at {
			return false // deleted, or retried and finished again since
		}
		d.deleteFinished(ctx, h, call{})
		s.inFlight++
		return true
	})
	if taken == 0 {
		for _, c := range s.cleanups {
			c.reply <- c.deleted
		}
		s.cleanups = nil
	}
}

// finishedHead is the head of a finished job that is not being deleted.
func (d *directory) finishedHead(id int64) (persistence.JobHead, bool) {
	if _, busy := d.deleting[id]; busy {
		return persistence.JobHead{}, false
	}
	enc, ok := d.finished.get(id)
	if !ok {
		return persistence.JobHead{}, false
	}
	return headOf(id, enc), true
}

// headOf reads the head of finished job id's encoding.
func headOf(id int64, enc []byte) persistence.JobHead {
	h, err := persistence.JobHeadOf(enc)
	if err != nil {
		panic(fmt.Errorf("finished job %d does not decode: %w", id, err)) // it was encoded here
	}
	return h
}

// swept records one durable deletion of the current batch; the last one
// starts the removal of the batch's files.
func (d *directory) swept(ctx actor.Context, m *finishedDeleted) {
	s := &d.sweeping
	s.inFlight--
	if m.err == nil {
		s.files = append(s.files, jobFiles{action: m.action, job: m.id})
		for _, c := range s.cleanups {
			if m.finishedAt <= c.cutoff {
				c.deleted++
			}
		}
	}
	if s.inFlight > 0 {
		return
	}
	files := s.files
	s.files = nil
	s.removing = true
	self, root := ctx.Self(), d.c.sys.Root
	go func() {
		d.c.removeFiles(files)
		root.Send(self, cleanupDone{})
	}()
}

// removeFiles deletes the files of deleted jobs, a few at a time.
func (c *Coordinator) removeFiles(jobs []jobFiles) {
	remove := c.set.RemoveFiles
	if remove == nil {
		return
	}
	sem := make(chan struct{}, fileRemovers)
	var wg sync.WaitGroup
	for _, j := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			remove(j.action, j.job)
			<-sem
		})
	}
	wg.Wait()
}

// Cleanup deletes the finished jobs that finished longer than olderThan
// ago, with their files, as retention does, and returns how many it
// deleted once none is left (waiting up to wait).
func (c *Coordinator) Cleanup(olderThan, wait time.Duration) (int, error) {
	cl := &cleanup{cutoff: c.now() - int64(olderThan), reply: make(chan int, 1)}
	c.sys.Root.Send(c.directory, cl)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case n := <-cl.reply:
		return n, nil
	case <-t.C:
		return 0, errTimeout
	}
}
