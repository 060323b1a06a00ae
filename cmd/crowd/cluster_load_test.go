package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/documentcloud/crowd/client"
	"github.com/documentcloud/crowd/wire"
)

// clusterLedger is what the clients of a cluster under load were told: the jobs
// acknowledged, the units leased and the reports acknowledged. Whatever it
// holds must hold at the end, whatever nodes were killed meanwhile.
type clusterLedger struct {
	mu       sync.Mutex
	jobs     map[int64][]string // acknowledged jobs' inputs
	leased   map[int64]string   // each unit id ever leased, and its input
	done     map[int64]bool     // units whose report was acknowledged
	problems []string
	reports  atomic.Int64 // acknowledged reports
}

func newClusterLedger() *clusterLedger {
	return &clusterLedger{jobs: map[int64][]string{}, leased: map[int64]string{}, done: map[int64]bool{}}
}

func (l *clusterLedger) fail(format string, args ...any) {
	if len(l.problems) < 20 {
		l.problems = append(l.problems, fmt.Sprintf(format, args...))
	}
}

func (l *clusterLedger) submitted(j wire.Job, inputs []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.jobs[j.ID] = inputs
}

// lease records a unit given to a worker: one unit id is one unit (the same
// input), and a unit whose report was acknowledged is never given again.
func (l *clusterLedger) lease(u *wire.WorkUnit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if in, seen := l.leased[u.ID]; seen && in != u.Input {
		l.fail("unit id %d was given for %q and for %q", u.ID, in, u.Input)
	}
	if l.done[u.ID] {
		l.fail("unit %d (%q) was given again after its report was acknowledged", u.ID, u.Input)
	}
	l.leased[u.ID] = u.Input
}

func (l *clusterLedger) reported(id int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done[id] = true
	l.reports.Add(1)
}

// loadCluster runs submitters and workers on the cluster's nodes (each
// client knows every node's URL, starting with a different one) until ctx
// ends. Workers go on until stopWork ends, so that the jobs submitted last
// finish.
func loadCluster(submitCtx, workCtx context.Context, urls []string, submitters, workers int, l *clusterLedger) *sync.WaitGroup {
	var wg sync.WaitGroup
	newClient := func(i int) *client.Client {
		n := len(urls)
		order := append(slices.Clone(urls[i%n:]), urls[:i%n]...)
		c, err := client.New(strings.Join(order, ","), client.Options{Timeout: 10 * time.Second})
		if err != nil {
			panic(err) // the URLs are the test's own
		}
		return c
	}
	for i := range submitters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(i)
			for seq := 0; submitCtx.Err() == nil; seq++ {
				inputs := make([]string, 4)
				vals := make([]any, 4)
				for k := range inputs {
					inputs[k] = fmt.Sprintf("s%d-%d-%d", i, seq, k)
					vals[k] = inputs[k]
				}
				j, err := c.Submit(submitCtx, client.Job{Action: gm, Inputs: vals})
				if err == nil {
					l.submitted(j, inputs)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(i + 1)
			name := fmt.Sprintf("w%d", i)
			var u *wire.WorkUnit
			for workCtx.Err() == nil {
				var err error
				if u == nil {
					if u, err = c.Dequeue(workCtx, name, gm); err != nil || u == nil {
						u = nil
						time.Sleep(10 * time.Millisecond)
						continue
					}
				}
				l.lease(u)
				out, _ := json.Marshal(u.Input + "-done")
				next, err := c.Complete(workCtx, u.ID, name, gm, client.Result{Succeeded: true, Output: out})
				if err != nil {
					// Not acknowledged: a node died under the request, or the
					// unit went back to the queue with a failover (409).
					if !errors.Is(err, client.ErrConflict) {
						time.Sleep(10 * time.Millisecond)
					}
					u = nil
					continue
				}
				l.reported(u.ID)
				u = next
			}
		}()
	}
	return &wg
}

// Three crowd servers in cluster mode under 16 submitters and 16 workers;
// the leader is killed with SIGKILL, a survivor takes writes, the killed
// node comes back, and again (3 rounds; 20 with CROWD_LONG=1). At the end
// no acknowledged job or report is lost, no unit id was given for two
// units nor a finished unit given again, and every job's outputs are right.
func TestClusterKillsUnderLoad(t *testing.T) {
	rounds := 3
	if os.Getenv("CROWD_LONG") != "" {
		rounds = 20
	}
	nodes := startCluster(t, 3)
	agreeOnLeader(t, nodes, 3)
	var urls []string
	for _, s := range nodes {
		urls = append(urls, s.url())
	}
	l := newClusterLedger()
	submitCtx, stopSubmitting := context.WithCancel(context.Background())
	workCtx, stopWorking := context.WithCancel(context.Background())
	defer stopWorking()
	defer stopSubmitting()
	load := loadCluster(submitCtx, workCtx, urls, 16, 16, l)

	var tookAll []time.Duration
	for round := range rounds {
		before := l.reports.Load()
		time.Sleep(1500 * time.Millisecond)
		if l.reports.Load() == before {
			t.Fatalf("round %d: no report acknowledged in 1.5 s of load", round)
		}
		lead := agreeOnLeader(t, nodes, 3)
		i := slices.IndexFunc(nodes, func(s *server) bool { return strings.HasSuffix(s.name, lead.Node) })
		nodes[i].kill()
		killed := time.Now()
		var survivors []string
		for _, s := range nodes {
			if !s.exited() {
				survivors = append(survivors, s.url())
			}
		}
		probe, err := client.New(strings.Join(survivors, ","), client.Options{Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for {
			j, err := probe.Submit(context.Background(), client.Job{Action: gm, Inputs: []any{fmt.Sprintf("probe-%d", round)}})
			if err == nil {
				l.submitted(j, []string{fmt.Sprintf("probe-%d", round)})
				break
			}
			if time.Since(killed) > 30*time.Second {
				t.Fatalf("round %d: no write answered within 30 s of the leader's kill: %v", round, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		took := time.Since(killed)
		tookAll = append(tookAll, took)
		t.Logf("round %d: killed %s (term %d); writes answered again after %v", round, lead.Node, lead.Term, took.Round(time.Millisecond))
		if took > 5*time.Second {
			t.Errorf("round %d: writes answered again %v after the kill; want within 5 s", round, took)
		}
		nodes[i] = nodes[i].relaunch()
		if err := nodes[i].waitReady(); err != nil {
			t.Fatalf("%s after its kill: %v", nodes[i].name, err)
		}
	}
	stopSubmitting()

	// The workers finish every acknowledged job.
	api := newAPIClient(urls[0])
	defer api.close()
	l.mu.Lock()
	jobs := make(map[int64][]string, len(l.jobs))
	for id, in := range l.jobs {
		jobs[id] = in
	}
	l.mu.Unlock()
	for id, inputs := range jobs {
		var doc jobDoc
		var raw []byte
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var ok bool
			var err error
			doc, raw, ok, err = api.job(id)
			if err == nil && ok && (doc.Status == "succeeded" || doc.Status == "failed") {
				break
			}
			if err == nil && !ok {
				t.Fatalf("acknowledged job %d (%v) is gone", id, inputs)
			}
			if time.Now().After(deadline) {
				t.Fatalf("job %d did not finish: %s %v", id, raw, err)
			}
		}
		if doc.Status != "succeeded" || len(doc.Outputs) != len(inputs) {
			t.Fatalf("job %d: %s", id, raw)
		}
		for k, in := range inputs {
			if doc.Outputs[k] != in+"-done" {
				t.Fatalf("job %d output %d is %v, want %q: %s", id, k, doc.Outputs[k], in+"-done", raw)
			}
		}
	}
	stopWorking()
	load.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.problems {
		t.Error(p)
	}
	slices.Sort(tookAll)
	t.Logf("%d rounds, %d jobs, %d units leased, %d reports acknowledged; writes again after the kill: median %v, max %v",
		rounds, len(jobs), len(l.leased), l.reports.Load(), tookAll[len(tookAll)/2].Round(time.Millisecond), tookAll[len(tookAll)-1].Round(time.Millisecond))
}
