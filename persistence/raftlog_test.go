package persistence

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func openTestRaftLog(t *testing.T, dir string) *RaftLog {
	t.Helper()
	return openRaftLogLogging(t, dir, &logBuffer{})
}

// openRaftLogLogging opens a RaftLog of small segments, its log in logs.
func openRaftLogLogging(t *testing.T, dir string, logs *logBuffer) *RaftLog {
	t.Helper()
	r, err := OpenRaftLog(RaftLogOptions{Dir: dir, SegmentSize: 4096, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func raftEntries(from, to, term uint64) []*raft.Log {
	var logs []*raft.Log
	for i := from; i <= to; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: term, Type: raft.LogCommand,
			Data: fmt.Appendf(nil, "entry %d of term %d", i, term), Extensions: []byte{byte(i)},
			AppendedAt: time.Unix(1700000000, int64(i))})
	}
	return logs
}

// wantSpan checks the log's first and last raft index.
func wantSpan(t *testing.T, r *RaftLog, first, last uint64) {
	t.Helper()
	f, err1 := r.FirstIndex()
	l, err2 := r.LastIndex()
	if err1 != nil || err2 != nil || f != first || l != last {
		t.Fatalf("span = %d..%d (%v, %v), want %d..%d", f, l, err1, err2, first, last)
	}
}

// wantEntry checks that the log holds entry i of term.
func wantEntry(t *testing.T, r *RaftLog, i, term uint64) {
	t.Helper()
	var got raft.Log
	if err := r.GetLog(i, &got); err != nil {
		t.Fatalf("GetLog(%d): %v", i, err)
	}
	want := raftEntries(i, i, term)[0]
	if got.Index != want.Index || got.Term != want.Term || got.Type != want.Type || !bytes.Equal(got.Data, want.Data) ||
		!bytes.Equal(got.Extensions, want.Extensions) || !got.AppendedAt.Equal(want.AppendedAt) {
		t.Fatalf("GetLog(%d) = %+v, want %+v", i, got, *want)
	}
}

// Entries written in batches read back whole, across segment files and a
// reopen, and nothing outside them is found.
func TestRaftLogStoresAndReads(t *testing.T) {
	dir := t.TempDir()
	r := openTestRaftLog(t, dir)
	wantSpan(t, r, 0, 0)
	if err := r.StoreLogs(raftEntries(1, 150, 1)); err != nil {
		t.Fatal(err)
	}
	if err := r.StoreLog(raftEntries(151, 151, 2)[0]); err != nil {
		t.Fatal(err)
	}
	if err := r.StoreLogs(raftEntries(153, 153, 2)); err == nil {
		t.Fatal("an entry after a gap was stored")
	}
	r.Close()
	r = openTestRaftLog(t, dir)
	defer r.Close()
	wantSpan(t, r, 1, 151)
	for i := uint64(1); i <= 150; i++ {
		wantEntry(t, r, i, 1)
	}
	wantEntry(t, r, 151, 2)
	var l raft.Log
	for _, i := range []uint64{0, 152, 1 << 40} {
		if err := r.GetLog(i, &l); !errors.Is(err, raft.ErrLogNotFound) {
			t.Errorf("GetLog(%d) = %v, want ErrLogNotFound", i, err)
		}
	}
	if segs, _ := filepath.Glob(filepath.Join(dir, raftLogDir, "0*")); len(segs) < 2 {
		t.Fatalf("%d segment files: the test meant to cross segments", len(segs))
	}
}

// The log counts what it stores and its fsyncs, tells its hooks of each,
// and measures its files, which shrink when raft deletes a prefix.
func TestRaftLogStats(t *testing.T) {
	var batches []int
	syncs := 0
	r, err := OpenRaftLog(RaftLogOptions{Dir: t.TempDir(), SegmentSize: 4096, Logger: (&logBuffer{}).logger(),
		OnBatch: func(n int) { batches = append(batches, n) },
		OnSync: func(took time.Duration) {
			if took > 0 {
				syncs++
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if st := r.Stats(); st.Records != 0 || st.Syncs != 0 || st.BytesOnDisk != 0 {
		t.Fatalf("a new log's stats: %+v", st)
	}
	for _, span := range [][2]uint64{{1, 100}, {101, 101}, {102, 300}} {
		if err := r.StoreLogs(raftEntries(span[0], span[1], 1)); err != nil {
			t.Fatal(err)
		}
	}
	st := r.Stats()
	if st.Records != 300 || st.Batches != 3 || st.Syncs != 3 || syncs != 3 || fmt.Sprint(batches) != "[100 1 199]" {
		t.Fatalf("stats %+v, hooks: %d fsyncs, batches %v; want 300 entries in 3 batches, 3 fsyncs", st, syncs, batches)
	}
	if st.MaxSyncDuration < st.LastSyncDuration || st.LastSyncDuration <= 0 || st.SyncTime < st.MaxSyncDuration {
		t.Fatalf("fsync times %+v", st)
	}
	if st.BytesOnDisk < 300*20 {
		t.Fatalf("%d bytes on disk for 300 entries of over 20 bytes", st.BytesOnDisk)
	}
	if err := r.DeleteRange(1, 250); err != nil {
		t.Fatal(err)
	}
	if after := r.Stats().BytesOnDisk; after >= st.BytesOnDisk {
		t.Fatalf("%d bytes on disk after 250 of 300 entries went, %d before", after, st.BytesOnDisk)
	}
}

// raft deletes a prefix after a snapshot, a suffix when a new leader
// overrides it, and everything after it installs a snapshot, after which
// the log starts wherever the snapshot ends.
func TestRaftLogDeleteRange(t *testing.T) {
	dir := t.TempDir()
	r := openTestRaftLog(t, dir)
	if err := r.StoreLogs(raftEntries(1, 10, 1)); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteRange(1, 3); err != nil {
		t.Fatal(err)
	}
	wantSpan(t, r, 4, 10)
	if err := r.DeleteRange(8, 10); err != nil {
		t.Fatal(err)
	}
	wantSpan(t, r, 4, 7)
	if err := r.DeleteRange(5, 6); err == nil {
		t.Fatal("deleting from the middle succeeded")
	}
	if err := r.StoreLogs(raftEntries(8, 9, 2)); err != nil {
		t.Fatal(err)
	}
	wantEntry(t, r, 7, 1)
	wantEntry(t, r, 9, 2)
	if err := r.DeleteRange(4, 9); err != nil {
		t.Fatal(err)
	}
	wantSpan(t, r, 0, 0)
	if err := r.StoreLogs(raftEntries(500, 502, 3)); err != nil { // after a snapshot of 499
		t.Fatal(err)
	}
	wantSpan(t, r, 500, 502)
	r.Close()
	r = openTestRaftLog(t, dir)
	defer r.Close()
	wantSpan(t, r, 500, 502)
	wantEntry(t, r, 501, 3)
	var l raft.Log
	if err := r.GetLog(9, &l); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog(9) after the base moved = %v, want ErrLogNotFound", err)
	}
}

// The stable keys survive a reopen; a missing key is empty or 0.
func TestRaftLogStable(t *testing.T) {
	dir := t.TempDir()
	r := openTestRaftLog(t, dir)
	if err := r.SetUint64([]byte("CurrentTerm"), 7); err != nil {
		t.Fatal(err)
	}
	if err := r.Set([]byte("LastVoteCand"), []byte("node-2")); err != nil {
		t.Fatal(err)
	}
	if err := r.SetUint64([]byte("CurrentTerm"), 8); err != nil {
		t.Fatal(err)
	}
	r.Close()
	r = openTestRaftLog(t, dir)
	defer r.Close()
	if v, err := r.GetUint64([]byte("CurrentTerm")); err != nil || v != 8 {
		t.Fatalf("CurrentTerm = %d, %v; want 8", v, err)
	}
	if v, err := r.Get([]byte("LastVoteCand")); err != nil || string(v) != "node-2" {
		t.Fatalf("LastVoteCand = %q, %v", v, err)
	}
	if v, err := r.Get([]byte("missing")); err != nil || len(v) != 0 {
		t.Fatalf("a missing key = %q, %v; want empty", v, err)
	}
	if v, err := r.GetUint64([]byte("missing")); err != nil || v != 0 {
		t.Fatalf("a missing number = %d, %v; want 0", v, err)
	}
}

// A torn write at the end of the log (a crash in the middle of StoreLogs,
// which raft never saw succeed) is cut on open, and the log goes on.
func TestRaftLogCutsATornTail(t *testing.T) {
	dir := t.TempDir()
	r := openTestRaftLog(t, dir)
	if err := r.StoreLogs(raftEntries(1, 5, 1)); err != nil {
		t.Fatal(err)
	}
	r.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, raftLogDir, "0*"))
	sort.Strings(segs)
	f, err := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(binary.AppendUvarint(nil, 200)) // an entry of 200 bytes, of which 5 were written
	f.Write([]byte("torn!"))
	f.Close()
	var logs logBuffer
	r = openRaftLogLogging(t, dir, &logs)
	defer r.Close()
	if !strings.Contains(logs.String(), "cut a torn tail") {
		t.Fatalf("the repair was not logged: %q", logs.String())
	}
	wantSpan(t, r, 1, 5)
	if err := r.StoreLogs(raftEntries(6, 6, 1)); err != nil {
		t.Fatal(err)
	}
	wantEntry(t, r, 6, 1)
}

// countFSM counts the commands raft applies to it; its snapshot is the
// count.
type countFSM struct{ n chan uint64 }

func newCountFSM() *countFSM { f := &countFSM{n: make(chan uint64, 1)}; f.n <- 0; return f }

func (f *countFSM) Apply(l *raft.Log) any {
	n := <-f.n
	f.n <- n + 1
	return nil
}

func (f *countFSM) count() uint64 { n := <-f.n; f.n <- n; return n }

func (f *countFSM) Snapshot() (raft.FSMSnapshot, error) { return countSnapshot(f.count()), nil }

func (f *countFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var b [8]byte
	if _, err := io.ReadFull(rc, b[:]); err != nil {
		return err
	}
	<-f.n
	f.n <- binary.LittleEndian.Uint64(b[:])
	return nil
}

type countSnapshot uint64

func (s countSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(binary.LittleEndian.AppendUint64(nil, uint64(s))); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (countSnapshot) Release() {}

type raftNode struct {
	id   raft.ServerID
	dir  string
	addr raft.ServerAddress
	fsm  *countFSM
	log  *RaftLog
	tr   *raft.NetworkTransport
	raft *raft.Raft
}

func startRaftNode(t *testing.T, id, dir, addr string) *raftNode {
	t.Helper()
	n := &raftNode{id: raft.ServerID(id), dir: dir, fsm: newCountFSM()}
	n.log = openTestRaftLog(t, filepath.Join(dir, "raft"))
	snaps, err := raft.NewFileSnapshotStore(dir, 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if n.tr, err = raft.NewTCPTransport(addr, nil, 3, time.Second, io.Discard); err != nil {
		t.Fatal(err)
	}
	n.addr = n.tr.LocalAddr()
	c := raft.DefaultConfig()
	c.LocalID = n.id
	c.LogOutput = io.Discard
	c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = 200*time.Millisecond, 200*time.Millisecond, 100*time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.SnapshotThreshold, c.TrailingLogs = 1<<20, 20 // snapshots taken by hand, few entries kept after one
	if n.raft, err = raft.NewRaft(c, n.fsm, n.log, n.log, snaps, n.tr); err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *raftNode) stop(t *testing.T) {
	t.Helper()
	if err := n.raft.Shutdown().Error(); err != nil {
		t.Fatal(err)
	}
	n.tr.Close()
	n.log.Close()
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// Three real raft nodes on 127.0.0.1, each on a RaftLog: they elect a
// leader and replicate; a follower that was down while the leader took a
// snapshot and dropped the entries it missed comes back, installs the
// snapshot (its log deleted whole and started again after it) and catches
// up; and its log holds the entries after the snapshot across a restart.
func TestRaftLogUnderRaft(t *testing.T) {
	base := t.TempDir()
	var nodes []*raftNode
	for i := range 3 {
		nodes = append(nodes, startRaftNode(t, fmt.Sprintf("n%d", i), filepath.Join(base, fmt.Sprint(i)), "127.0.0.1:0"))
	}
	defer func() {
		for _, n := range nodes {
			if n != nil {
				n.raft.Shutdown().Error()
				n.tr.Close()
				n.log.Close()
			}
		}
	}()
	var servers []raft.Server
	for _, n := range nodes {
		servers = append(servers, raft.Server{ID: n.id, Address: n.addr})
	}
	if err := nodes[0].raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		t.Fatal(err)
	}
	leader := func() *raftNode {
		for _, n := range nodes {
			if n != nil && n.raft.State() == raft.Leader {
				return n
			}
		}
		return nil
	}
	waitFor(t, "a leader", func() bool { return leader() != nil })
	apply := func(k int) {
		for range k {
			if err := leader().raft.Apply([]byte("x"), 5*time.Second).Error(); err != nil {
				t.Fatal(err)
			}
		}
	}
	apply(100)
	waitFor(t, "every node to apply 100", func() bool {
		for _, n := range nodes {
			if n.fsm.count() != 100 {
				return false
			}
		}
		return true
	})

	l := leader()
	var down *raftNode
	for _, n := range nodes {
		if n != l {
			down = n
			break
		}
	}
	slot := 0
	for i, n := range nodes {
		if n == down {
			slot = i
		}
	}
	down.stop(t)
	nodes[slot] = nil
	apply(200)
	if err := leader().raft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	apply(50)
	if first, _ := leader().log.FirstIndex(); first <= 100 {
		t.Fatalf("the leader's log starts at %d after its snapshot: the follower would not need it", first)
	}

	back := startRaftNode(t, string(down.id), down.dir, string(down.addr))
	nodes[slot] = back
	waitFor(t, "the follower to catch up to 350", func() bool { return back.fsm.count() == 350 })
	first, _ := back.log.FirstIndex()
	last, _ := back.log.LastIndex()
	if first <= 100 || last < 350 {
		t.Fatalf("the follower's log spans %d..%d: it should have started again after the snapshot", first, last)
	}
	back.stop(t)
	nodes[slot] = nil
	r := openTestRaftLog(t, filepath.Join(down.dir, "raft"))
	wantSpan(t, r, first, last)
	r.Close()
}
