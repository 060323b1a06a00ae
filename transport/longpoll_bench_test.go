package transport

import (
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/documentcloud/crowd/persistence"
)

// BenchmarkLongPollWakeup: eight idle workers hold POST /work (wait=10),
// and jobs of one input arrive one at a time; each op is one job, timed
// from the moment its POST /jobs is sent to the moment a held worker has
// its unit (the answer read), over real HTTP on loopback, with group
// commit on the write-ahead log. Without a wait, the same worker would
// have polled with a wait growing to max_worker_wait (10 s).
//
//	go test -run '^$' -bench LongPollWakeup -benchtime 2000x ./transport
func BenchmarkLongPollWakeup(b *testing.B) {
	mode := persistence.SyncGroup
	s := startServer(b, func(c *serverConfig) { c.durable = &mode })
	const workers = 8
	got := make(chan time.Time, b.N)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			worker := "w" + strconv.Itoa(i)
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := s.do(b, "POST", "/work", form("worker_name", worker, "worker_actions", "graphics_magick", "wait", "10"))
				if r.Code == 200 {
					got <- time.Now()
					u := decodeUnit(b, "the held unit", r)
					s.report(b, u.ID, worker, "succeeded", `{"output":1}`, "")
				}
			}
		})
	}
	time.Sleep(200 * time.Millisecond) // all held
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		sent := time.Now()
		s.mustCreate(b, `{"action":"graphics_magick","inputs":["x"]}`)
		took = append(took, (<-got).Sub(sent))
		time.Sleep(time.Millisecond) // the worker reports and is held again
	}
	b.StopTimer()
	close(stop)
	s.Srv.Drain() // ends the held requests
	wg.Wait()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(took[len(took)-1].Microseconds())/1000, "max-ms")
}
