package transport

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/documentcloud/crowd/actors"
	"github.com/documentcloud/crowd/persistence"
	"github.com/valyala/fasthttp"
)

// The PUT /work loop of the seed's worker protocol, at 64 connections over
// loopback, next to a bare fasthttp handler that answers the same request
// with a fixed unit: the ceiling of HTTP on this machine. Run both in one
// go to compare:
//
//	go test -run '^$' -bench 'PutWorkLoop|BareFasthttp' -benchtime 200000x ./transport
//
// BenchmarkPutWorkLoopDurable is the same loop on the write-ahead log.

const benchConns = 64

func BenchmarkPutWorkLoop(b *testing.B) {
	putWorkLoop(b, func(c *serverConfig) { c.forget = true })
}

// The same loop with every report on the write-ahead log before its answer
// (group commit), and with a timed fsync (answers before the fsync).
func BenchmarkPutWorkLoopDurable(b *testing.B) {
	for _, mode := range []persistence.SyncMode{persistence.SyncGroup, persistence.SyncInterval} {
		b.Run(mode.String(), func(b *testing.B) {
			putWorkLoop(b, func(c *serverConfig) { c.durable = &mode })
		})
	}
}

// BenchmarkPostWorkLoop is POST /work alone: each worker leases units until
// none is left, and reports none of them.
func BenchmarkPostWorkLoop(b *testing.B) {
	s := startServer(b, func(c *serverConfig) { c.forget = true })
	createBenchJob(b, s, b.N)
	runLoop(b, s.URL[len("http://"):], false)
}

// createBenchJob queues a job of n units of the no-op action.
func createBenchJob(b *testing.B, s *testServer, n int) {
	inputs := make([]string, n)
	for i := range inputs {
		inputs[i] = "input " + strconv.Itoa(i)
	}
	if r := s.Co.CreateJob(actors.JobSpec{Action: "graphics_magick", Inputs: inputs, Options: []byte("{}")}); r.Outcome != actors.OK {
		b.Fatalf("create: %v", r.Err)
	}
	// The dispatcher queues the units after the answer: wait for them, so
	// that the timed loop does not count their queueing.
	for {
		st, err := s.Co.Status()
		if err != nil {
			b.Fatal(err)
		}
		if st.Units.Ready == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func putWorkLoop(b *testing.B, edit func(*serverConfig)) {
	s := startServer(b, edit)
	createBenchJob(b, s, b.N+benchConns)
	var before persistence.WALStats
	wal, _ := s.Journal.(*persistence.WAL)
	if wal != nil {
		before = wal.Stats()
	}
	runLoop(b, s.URL[len("http://"):], true)
	if wal != nil { // how the writer batched: the shape of group commit
		after := wal.Stats()
		batches := float64(after.Batches - before.Batches)
		b.ReportMetric(float64(after.Records-before.Records)/batches, "records/batch")
		b.ReportMetric(float64(after.Syncs-before.Syncs)/float64(b.N), "fsyncs/op")
		b.ReportMetric(float64(after.SyncTime-before.SyncTime)/float64(after.Syncs-before.Syncs)/1e3, "µs/fsync")
	}
}

func BenchmarkBareFasthttp(b *testing.B) {
	body := []byte(`{"id":7,"job_id":1,"input":"input 7","attempts":0,"action":"graphics_magick","options":{},"status":1}`)
	var n atomic.Int64
	handler := func(ctx *fasthttp.RequestCtx) {
		ctx.PostArgs() // parse the form, as the coordinator does
		if n.Add(1) > int64(b.N) {
			ctx.SetStatusCode(fasthttp.StatusNoContent)
			return
		}
		ctx.SetContentType("application/json")
		ctx.SetBody(body)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: handler}
	go srv.Serve(ln)
	defer srv.Shutdown()
	runLoop(b, ln.Addr().String(), true)
}

// runLoop runs benchConns workers, each on its own connection: POST /work,
// then PUT /work/:id until the answer is 204 (or, without report, POST
// /work until then). It reports requests/s.
func runLoop(b *testing.B, addr string, report bool) {
	b.ReportAllocs()
	var wg sync.WaitGroup
	var requests atomic.Int64
	b.ResetTimer()
	cpu0 := processCPU()
	start := time.Now()
	for i := range benchConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWorkerClient(addr, "bench"+strconv.Itoa(i), "graphics_magick", 1)
			code, body, err := w.dequeue()
			requests.Add(1)
			for err == nil && code == 200 {
				if report {
					code, body, err = w.complete(unitID(body), `{"output":1}`)
				} else {
					code, body, err = w.dequeue()
				}
				requests.Add(1)
			}
			if err != nil || code != 204 {
				b.Errorf("worker %d: %d %v", i, code, err)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(requests.Load())/elapsed.Seconds(), "req/s")
	// CPU per request, server and load generator together: steadier than
	// the rate on a machine whose speed varies from run to run.
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(requests.Load()), "cpu-µs/req")
}

// unitID reads the id at the start of a WorkUnit document, {"id":N,...}.
func unitID(body []byte) int64 {
	const prefix = len(`{"id":`)
	var id int64
	for _, c := range body[prefix:] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + int64(c-'0')
	}
	return id
}
