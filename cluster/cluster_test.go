package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/documentcloud/crowd/actors"
	"github.com/documentcloud/crowd/persistence"
)

// member is a node of a test cluster and the coordinator it runs while it
// leads.
type member struct {
	node   *Node
	cancel context.CancelFunc
	done   chan struct{}

	mu sync.Mutex
	co *actors.Coordinator
}

func (m *member) coordinator() *actors.Coordinator {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.co
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func startMember(t *testing.T, id, dir string) *member {
	t.Helper()
	n, err := Open(Options{ID: id, Addr: "127.0.0.1:0", Dir: dir, Logger: quiet,
		HeartbeatTimeout: 200 * time.Millisecond, ElectionTimeout: 200 * time.Millisecond, ApplyTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &member{node: n, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		n.Lead(ctx, func(s *actors.State, j persistence.Journal) func() {
			co, err := actors.Start(actors.Settings{WorkUnitRetries: 3, RequestTimeout: 3 * time.Second, Logger: quiet}, j, s)
			if err != nil {
				t.Error(err)
				return func() {}
			}
			m.mu.Lock()
			m.co = co
			m.mu.Unlock()
			return func() {
				m.mu.Lock()
				m.co = nil
				m.mu.Unlock()
				co.Stop(context.Background())
			}
		})
	}()
	return m
}

// kill stops the member as a crash would: no hand-over of leadership.
func (m *member) kill(t *testing.T) {
	t.Helper()
	if err := m.node.Close(); err != nil {
		t.Fatal(err)
	}
	m.cancel()
	<-m.done
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func leaderOf(ms []*member) *member {
	for _, m := range ms {
		if m != nil && m.coordinator() != nil {
			return m
		}
	}
	return nil
}

func mustOK(t *testing.T, r actors.Reply) actors.Reply {
	t.Helper()
	if r.Outcome != actors.OK {
		t.Fatalf("outcome %d: %v", r.Outcome, r.Err)
	}
	return r
}

// Three nodes on 127.0.0.1 elect a leader, whose coordinator takes a job
// and reports on it; the leader dies; the new leader has every
// acknowledged report, gives the units leased on the old leader out again
// with no attempt counted, answers the old lease's late report with 409,
// and finishes the job with every output right.
func TestFailoverKeepsAcknowledgedWork(t *testing.T) {
	base := t.TempDir()
	var ms []*member
	for i := range 3 {
		ms = append(ms, startMember(t, fmt.Sprintf("n%d", i), filepath.Join(base, fmt.Sprint(i))))
	}
	defer func() {
		for _, m := range ms {
			if m != nil {
				m.kill(t)
			}
		}
	}()
	var peers []Peer
	for i, m := range ms {
		peers = append(peers, Peer{ID: fmt.Sprintf("n%d", i), Addr: m.node.Addr()})
	}
	if err := ms[0].node.Bootstrap(peers); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a leader's coordinator", func() bool { return leaderOf(ms) != nil })
	old := leaderOf(ms)
	co := old.coordinator()
	inputs := []string{`"a"`, `"b"`, `"c"`, `"d"`, `"e"`, `"f"`}
	job := mustOK(t, co.CreateJob(actors.JobSpec{Action: "a", Inputs: inputs, Options: []byte(`{}`)})).Job.ID
	var held []int64
	for range 3 {
		held = append(held, mustOK(t, co.Dequeue("w1", "a")).Unit.ID)
	}
	for _, u := range held[:2] { // acknowledged: committed on a majority
		if r := co.Complete(actors.Report{Unit: u, Worker: "w1", Succeeded: true, Output: []byte(fmt.Sprint(u))}); r.Outcome != actors.NoContent {
			t.Fatalf("report on %d: outcome %d, %v", u, r.Outcome, r.Err)
		}
	}

	acked := old.node.Status().CommitIndex // the two reports are in it
	slot := 0
	for i, m := range ms {
		if m == old {
			slot = i
		}
	}
	old.kill(t)
	ms[slot] = nil
	waitFor(t, "a new leader's coordinator", func() bool { return leaderOf(ms) != nil })
	lead := leaderOf(ms)
	co = lead.coordinator()
	st := lead.node.Status()
	if st.Role != "leader" || st.LeaderID != st.ID || st.Term < 2 || st.Applied <= acked {
		t.Fatalf("the new leader's status: %+v; want the leader of a later term, past the old leader's commit index %d", st, acked)
	}
	for _, m := range ms {
		if m != nil && m != lead {
			waitFor(t, "the follower to know the leader", func() bool { return m.node.Status().LeaderID == st.ID })
			if fs := m.node.Status(); fs.Role != "follower" || fs.Term != st.Term {
				t.Fatalf("the follower's status: %+v, the leader's %+v", fs, st)
			}
		}
	}

	v := mustOK(t, co.Job(job)).Job
	if v.WorkUnits != 6 || v.PercentComplete != 33 {
		t.Fatalf("the new leader's job: %d units, %d%% complete; want 6 and 33%% (two reports acknowledged)", v.WorkUnits, v.PercentComplete)
	}
	var again []int64
	for {
		r := co.Dequeue("w2", "a")
		if r.Outcome != actors.OK {
			break
		}
		if r.Unit.Attempts != 0 {
			t.Fatalf("unit %d came back with %d attempts: a lease is not an attempt", r.Unit.ID, r.Unit.Attempts)
		}
		again = append(again, r.Unit.ID)
	}
	if len(again) != 4 || again[0] != held[2] {
		t.Fatalf("the new leader gave out %v; want the unit w1 held (%d) first, then the three never leased", again, held[2])
	}
	if r := co.Complete(actors.Report{Unit: held[2], Worker: "w1", Succeeded: true, Output: []byte("0")}); r.Outcome != actors.Conflict {
		t.Fatalf("w1's late report on %d: outcome %d, want Conflict (409)", held[2], r.Outcome)
	}
	for _, u := range again {
		co.Complete(actors.Report{Unit: u, Worker: "w2", Succeeded: true, Output: []byte(fmt.Sprint(u))})
	}
	waitFor(t, "the job to succeed", func() bool { return mustOK(t, co.Job(job)).Job.Status == "succeeded" })
	var outputs []int64
	if err := json.Unmarshal(mustOK(t, co.Job(job)).Job.Outputs, &outputs); err != nil {
		t.Fatal(err)
	}
	want := append(append([]int64(nil), held[:2]...), again...)
	for i := range want {
		if outputs[i] != want[i] {
			t.Fatalf("outputs %v, want %v", outputs, want)
		}
	}
}

// startCluster starts and bootstraps n members in dirs under base.
func startCluster(t *testing.T, base string, n int) []*member {
	t.Helper()
	var ms []*member
	var peers []Peer
	for i := range n {
		m := startMember(t, fmt.Sprintf("n%d", i), filepath.Join(base, fmt.Sprint(i)))
		ms = append(ms, m)
		peers = append(peers, Peer{ID: fmt.Sprintf("n%d", i), Addr: m.node.Addr()})
	}
	t.Cleanup(func() {
		for _, m := range ms {
			if m.done != nil {
				select {
				case <-m.done:
				default:
					m.kill(t)
				}
			}
		}
	})
	if err := ms[0].node.Bootstrap(peers); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a leader's coordinator", func() bool { return leaderOf(ms) != nil })
	return ms
}

// A node is removed and a new, empty one joins and catches up; with the old
// leader gone, the two left (the new one among them) elect a leader that
// has every job.
func TestJoinAndRemove(t *testing.T) {
	base := t.TempDir()
	ms := startCluster(t, base, 3)
	lead := leaderOf(ms)
	co := lead.coordinator()
	job := mustOK(t, co.CreateJob(actors.JobSpec{Action: "a", Inputs: []string{`1`, `2`}, Options: []byte(`{}`)})).Job.ID
	u := mustOK(t, co.Dequeue("w", "a")).Unit.ID
	co.Complete(actors.Report{Unit: u, Worker: "w", Succeeded: true, Output: []byte(`1`)})

	var gone *member
	for _, m := range ms {
		if m != lead {
			gone = m
			break
		}
	}
	if err := lead.node.Remove(gone.node.o.ID); err != nil {
		t.Fatal(err)
	}
	gone.kill(t)
	fresh := startMember(t, "n3", filepath.Join(base, "3"))
	t.Cleanup(func() { fresh.kill(t) })
	ms = append(ms, fresh)
	if err := lead.node.Join(Peer{ID: "n3", Addr: fresh.node.Addr()}); err != nil {
		t.Fatal(err)
	}
	peers, err := lead.node.Peers()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, p := range peers {
		ids[p.ID] = true
	}
	if len(peers) != 3 || ids[gone.node.o.ID] || !ids["n3"] {
		t.Fatalf("members after the change: %+v", peers)
	}
	commit := lead.node.Status().CommitIndex
	waitFor(t, "the new node to catch up", func() bool { return fresh.node.Status().Applied >= commit })

	lead.kill(t)
	waitFor(t, "a new leader's coordinator", func() bool {
		l := leaderOf(ms)
		return l != nil && l != lead
	})
	v := mustOK(t, leaderOf(ms).coordinator().Job(job)).Job
	if v.PercentComplete != 50 {
		t.Fatalf("the job on the new leader: %d%% complete, want 50", v.PercentComplete)
	}
}

// A leader that has lost its majority acknowledges nothing: its requests
// answer Unavailable (503) within seconds, never OK.
func TestNoMajorityAcknowledgesNothing(t *testing.T) {
	ms := startCluster(t, t.TempDir(), 3)
	lead := leaderOf(ms)
	co := lead.coordinator()
	for _, m := range ms {
		if m != lead {
			m.kill(t)
		}
	}
	start := time.Now()
	r := co.CreateJob(actors.JobSpec{Action: "a", Inputs: []string{`1`}, Options: []byte(`{}`)})
	if r.Outcome != actors.Unavailable {
		t.Fatalf("a job created without a majority: outcome %d, want Unavailable", r.Outcome)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the refusal took %v", took)
	}
}
