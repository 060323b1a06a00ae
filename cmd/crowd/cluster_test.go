package main

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/documentcloud/crowd/client"
	"github.com/documentcloud/crowd/internal/crowdbin"
	"github.com/documentcloud/crowd/wire"
)

// clusterAddrs picks n API addresses on 127.0.0.1 whose next port (raft's)
// is free too.
func clusterAddrs(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for len(addrs) < n {
		a := crowdbin.FreeAddr(t)
		r, err := raftAddr(a)
		if err != nil {
			t.Fatal(err)
		}
		if ln, err := net.Listen("tcp", r); err == nil {
			ln.Close()
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// startCluster starts n `crowd server` processes in cluster mode, the
// first forming the cluster, and waits until each answers /heartbeat; env
// is more settings of each.
func startCluster(t *testing.T, n int, env ...string) []*server {
	t.Helper()
	addrs := clusterAddrs(t, n)
	var peers []string
	for i, a := range addrs {
		peers = append(peers, fmt.Sprintf("n%d=%s", i, a))
	}
	base := t.TempDir()
	var nodes []*server
	for i, a := range addrs {
		args := []string{"--cluster-id", fmt.Sprintf("n%d", i), "--cluster-peers", strings.Join(peers, ",")}
		if i == 0 {
			args = append(args, "--cluster-bootstrap")
		}
		s := launchServer(t, fmt.Sprintf("node n%d", i), filepath.Join(base, fmt.Sprint(i)), a, serverConfig{args: args, env: env})
		nodes = append(nodes, s)
	}
	for _, s := range nodes {
		if err := s.waitReady(); err != nil {
			t.Fatalf("%s: %v\n%s", s.name, err, s.log.String())
		}
	}
	return nodes
}

// leaderOf is the node that says last that it leads.
func leaderOf(t *testing.T, nodes []*server) *server {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var lead *server
		at := -1
		for _, s := range nodes {
			if s.exited() {
				continue
			}
			if i := strings.LastIndex(s.log.String(), "cluster: leading"); i >= 0 && (lead == nil || i > at) {
				lead, at = s, i
			}
		}
		if lead != nil {
			return lead
		}
	}
	t.Fatal("no node says it leads")
	return nil
}

// agreeOnLeader waits until every live node's GET /cluster names the same
// leader, which says it leads, and members members; it returns the
// leader's view.
func agreeOnLeader(t *testing.T, nodes []*server, members int) wire.ClusterNode {
	t.Helper()
	var views []wire.ClusterNode
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		views = views[:0]
		for _, s := range nodes {
			if s.exited() {
				continue
			}
			c := newAPIClient(s.url())
			code, body, err := c.do("GET", "/cluster", nil)
			c.close()
			if err != nil || code != 200 {
				t.Fatalf("%s: GET /cluster = %d %v", s.name, code, err)
			}
			v, err := decode[wire.ClusterNode]("GET", "/cluster", body)
			if err != nil {
				t.Fatal(err)
			}
			views = append(views, v)
		}
		leaders, agreed := 0, views[0].Leader != ""
		for _, v := range views {
			agreed = agreed && v.Leader == views[0].Leader && v.Term == views[0].Term && len(v.Peers) == members
			if v.Role == "leader" {
				leaders++
			}
		}
		if agreed && leaders == 1 {
			for _, v := range views {
				if v.Role == "leader" {
					return v
				}
			}
		}
	}
	t.Fatalf("the nodes do not agree on one leader: %+v", views)
	return wire.ClusterNode{}
}

// Three crowd servers in cluster mode: every node answers for the cluster
// (a follower forwards to the leader); the leader is killed with SIGKILL in
// the middle of a job; a survivor takes writes again within seconds, the
// job keeps every acknowledged report, and it finishes with every output
// right, through either survivor.
func TestClusterSurvivesTheLeadersKill(t *testing.T) {
	nodes := startCluster(t, 3)
	lead := leaderOf(t, nodes)
	first := agreeOnLeader(t, nodes, 3)
	if !strings.HasSuffix(lead.name, first.Node) {
		t.Fatalf("GET /cluster names %s the leader, the logs %s", first.Node, lead.name)
	}
	var follower *server
	for _, s := range nodes {
		if s != lead {
			follower = s
			break
		}
	}
	api := newAPIClient(follower.url()) // through a follower: forwarded
	defer api.close()
	inputs := []string{"a", "b", "c", "d", "e", "f"}
	job := submitToCluster(t, api, inputs)
	checkClusterViews(t, nodes, api, first)
	u, err := api.fetchWork("w1", gm)
	if err != nil || u == nil {
		t.Fatalf("POST /work through a follower: %v %v", u, err)
	}
	for range 2 { // two acknowledged reports; the third unit stays leased
		if u, err = api.completeUnit(u.ID, "w1", gm, u.Input+"-done"); err != nil || u == nil {
			t.Fatalf("PUT /work: %v %v", u, err)
		}
	}

	lead.kill()
	killed := time.Now()
	var took time.Duration
	for _, s := range nodes {
		if s == lead {
			continue
		}
		c := newAPIClient(s.url())
		for deadline := killed.Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			_, _, err := c.submit(gm, []string{"after"})
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no write within 20 s of the kill: %v", s.name, err)
			}
		}
		took = max(took, time.Since(killed))
		c.close()
	}
	if took > 5*time.Second {
		t.Errorf("the survivors took writes %v after the kill; want within 5 s", took)
	}
	t.Logf("writes answered again %v after the leader's kill", took)
	if next := agreeOnLeader(t, nodes, 3); next.Node == first.Node || next.Term <= first.Term {
		t.Fatalf("after the kill GET /cluster says %+v; before, %+v", next, first)
	}

	// A client given every node's URL, the dead leader's first, moves on
	// to a live one (as crowd worker and crowd submit do).
	urls := []string{lead.url()}
	for _, s := range nodes {
		if s != lead {
			urls = append(urls, s.url())
		}
	}
	cc, err := client.New(strings.Join(urls, ","), client.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if j, err := cc.Job(context.Background(), job.ID); err != nil || j.ID != job.ID {
		t.Fatalf("GET /jobs/%d with the dead leader's URL first: %+v %v", job.ID, j, err)
	}

	doc, _ := api.mustJob(t, job.ID)
	if doc.PercentComplete != 33 {
		t.Fatalf("after the failover the job is %d%% complete, want 33 (two acknowledged reports)", doc.PercentComplete)
	}
	drained := 0
	for u, err = api.fetchWork("w2", gm); u != nil && err == nil; {
		if u.Attempts != 0 {
			t.Fatalf("unit %d came back with %d attempts: a lease is not an attempt", u.ID, u.Attempts)
		}
		drained++
		u, err = api.completeUnit(u.ID, "w2", gm, u.Input+"-done")
	}
	if err != nil {
		t.Fatal(err)
	}
	if drained != 4+2 { // the job's four left, and the two jobs of one input submitted after the kill
		t.Fatalf("drained %d units after the failover, want 6", drained)
	}
	doc, raw, err := api.waitComplete(job.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, in := range inputs {
		if doc.Outputs[i] != in+"-done" {
			t.Fatalf("outputs after the failover: %s", raw)
		}
	}
}

// checkClusterViews checks that /status and the console's summary (through
// api) list the three nodes with lead's term and one leader, lead, and that
// each node's /metrics gives its own role.
func checkClusterViews(t *testing.T, nodes []*server, api *apiClient, lead wire.ClusterNode) {
	t.Helper()
	for _, path := range []string{"/status", "/console/summary"} {
		code, body, err := api.do("GET", path, nil)
		if err != nil || code != 200 {
			t.Fatalf("GET %s = %d %v %s", path, code, err, body)
		}
		v, err := decode[struct{ Cluster []wire.ClusterNode }]("GET", path, body)
		if err != nil {
			t.Fatal(err)
		}
		roles := map[string]int{}
		for _, n := range v.Cluster {
			roles[n.Role]++
			if n.Term != lead.Term || n.Leader != lead.Node || (n.Role == "leader") != (n.Node == lead.Node) {
				t.Errorf("GET %s: node %+v; the leader is %s in term %d", path, n, lead.Node, lead.Term)
			}
		}
		if len(v.Cluster) != 3 || roles["leader"] != 1 || roles["follower"] != 2 {
			t.Fatalf("GET %s: cluster %s", path, body)
		}
	}
	// The console's log figures are the leader's raft log's.
	_, body, _ := api.do("GET", "/console/summary", nil)
	sum, err := decode[struct{ WAL *wire.WALSummary }]("GET", "/console/summary", body)
	if err != nil || sum.WAL == nil || sum.WAL.Mode != "group" || sum.WAL.Bytes <= 0 || sum.WAL.MaxFsyncMS <= 0 {
		t.Errorf("GET /console/summary: the log %+v (%v), want the raft log's fsyncs and size", sum.WAL, err)
	}
	for _, s := range nodes {
		c := newAPIClient(s.url())
		code, body, err := c.do("GET", "/metrics", nil)
		c.close()
		if err != nil || code != 200 {
			t.Fatalf("%s: GET /metrics = %d %v", s.name, code, err)
		}
		role, leads := "follower", strings.HasSuffix(s.name, lead.Node)
		if leads {
			role = "leader"
		}
		text := string(body)
		for _, want := range []string{`crowd_cluster_role{role="` + role + `"} 1`, `crowd_cluster_leader{leader="` + lead.Node + `"} 1`,
			fmt.Sprintf("crowd_cluster_term %d", lead.Term), "crowd_cluster_commit_index "} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: GET /metrics has no %q", s.name, want)
			}
		}
		// Every node fsyncs the entries it stores.
		if n := metricValue(text, "crowd_wal_fsync_duration_seconds_count"); n <= 0 {
			t.Errorf("%s: GET /metrics counts %v fsyncs of the raft log", s.name, n)
		}
		// The coordinator's counts are the leader's: a follower runs none.
		if has := strings.Contains(text, "crowd_jobs_created_total"); has != leads {
			t.Errorf("%s (%s): GET /metrics shows the coordinator's counts: %v", s.name, role, has)
		}
	}
}

// metricValue is the value of an unlabelled metric in Prometheus text, or
// -1 when it is missing.
func metricValue(text, name string) float64 {
	for line := range strings.Lines(text) {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// submitToCluster submits a job through api, trying again while the node
// answers 503 (it has not heard from a new leader yet, or the leader's
// coordinator is starting).
func submitToCluster(t *testing.T, api *apiClient, inputs []string) jobDoc {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		job, _, err := api.submit(gm, inputs)
		if err == nil {
			return job
		}
		if !isStatusError(err) || time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
}

// runCrowd runs a crowd command and returns its output; it fails the test
// unless the command exits 0.
func runCrowd(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(crowdbin.Path(t), args...)
	cmd.Env = crowdbin.Env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("crowd %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// A node is added with crowd cluster join and catches up; the leader is
// removed with crowd cluster remove, and the three left lead on with every
// job.
func TestClusterJoinAndRemove(t *testing.T) {
	nodes := startCluster(t, 3)
	agreeOnLeader(t, nodes, 3)
	follower := nodes[1]
	api := newAPIClient(follower.url())
	defer api.close()
	before := submitToCluster(t, api, []string{"a", "b"})

	addr := clusterAddrs(t, 1)[0]
	n3 := launchServer(t, "node n3", filepath.Join(t.TempDir(), "3"), addr,
		serverConfig{args: []string{"--cluster-id", "n3", "--cluster-peers", "n3=" + addr}})
	if err := n3.waitReady(); err != nil {
		t.Fatal(err)
	}
	out := runCrowd(t, "cluster", "join", "n3="+addr, "--server", follower.url())
	if !strings.Contains(out, "n3") {
		t.Fatalf("crowd cluster join printed no n3:\n%s", out)
	}
	nodes = append(nodes, n3)
	lead := agreeOnLeader(t, nodes, 4)
	// n3 has the log: it applies up to where the leader had committed.
	c3 := newAPIClient(n3.url())
	defer c3.close()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, body, err := c3.do("GET", "/cluster", nil)
		if err != nil {
			t.Fatal(err)
		}
		v, err := decode[wire.ClusterNode]("GET", "/cluster", body)
		if err != nil {
			t.Fatal(err)
		}
		if v.AppliedIndex >= lead.CommitIndex {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("n3 applied %d of the leader's %d entries", v.AppliedIndex, lead.CommitIndex)
		}
	}

	// Remove the leader itself, through the new node (forwarded).
	out = runCrowd(t, "cluster", "remove", lead.Node, "--server", n3.url())
	var removed *server
	for _, s := range nodes {
		if strings.HasSuffix(s.name, lead.Node) {
			removed = s
		}
	}
	removed.stopOK()
	next := agreeOnLeader(t, nodes, 3)
	if next.Node == lead.Node {
		t.Fatalf("the removed node %s still leads: %+v", lead.Node, next)
	}
	for _, p := range next.Peers {
		if p.Node == lead.Node {
			t.Fatalf("%s is still a member after crowd cluster remove (it printed %s): %+v", lead.Node, out, next)
		}
	}
	// The jobs are all there, and the cluster takes new ones.
	submitToCluster(t, c3, []string{"c"})
	drained := 0
	for u, err := c3.fetchWork("w", gm); u != nil; u, err = c3.completeUnit(u.ID, "w", gm, u.Input+"-done") {
		if err != nil {
			t.Fatal(err)
		}
		drained++
	}
	if drained != 3 {
		t.Fatalf("drained %d units after the changes, want 3", drained)
	}
	doc, raw, err := c3.waitComplete(before.ID)
	if err != nil {
		t.Fatal(err)
	}
	if doc.Outputs[0] != "a-done" || doc.Outputs[1] != "b-done" {
		t.Fatalf("job %d after the changes: %s", before.ID, raw)
	}
}

// clusterView reads a node's GET /cluster.
func clusterView(t *testing.T, s *server) wire.ClusterNode {
	t.Helper()
	c := newAPIClient(s.url())
	defer c.close()
	code, body, err := c.do("GET", "/cluster", nil)
	if err != nil || code != 200 {
		t.Fatalf("%s: GET /cluster = %d %v", s.name, code, err)
	}
	v, err := decode[wire.ClusterNode]("GET", "/cluster", body)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (s *server) signal(sig syscall.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("%s: %v: %v", s.name, sig, err)
	}
}

// A stopped follower (SIGSTOP) changes nothing for the clients of the two
// others; it comes back far behind and catches up from the leader's
// snapshot. Two stopped followers leave the leader without a majority:
// writes answer 503 within seconds and never a false 200; once they come
// back, the cluster takes writes again with every job.
func TestClusterStoppedNodes(t *testing.T) {
	// A snapshot every 64 entries keeping 64 behind it: a follower that
	// misses a few hundred entries needs the snapshot.
	nodes := startCluster(t, 3, "CROWD_CLUSTER_SNAPSHOT_ENTRIES=64", "CROWD_CLUSTER_SNAPSHOT_INTERVAL=100ms")
	lead := agreeOnLeader(t, nodes, 3)
	var leader *server
	var followers []*server
	for _, s := range nodes {
		if strings.HasSuffix(s.name, lead.Node) {
			leader = s
		} else {
			followers = append(followers, s)
		}
	}
	la, fa := newAPIClient(leader.url()), newAPIClient(followers[1].url())
	defer la.close()
	defer fa.close()
	submitToCluster(t, la, []string{"warm"})

	// A stopped minority: every request through the leader and the other
	// follower is answered as if nothing happened.
	stopped := followers[0]
	restoresBefore := clusterView(t, stopped).SnapshotRestores
	stopped.signal(syscall.SIGSTOP)
	var jobs []int64
	for i := range 150 {
		api := []*apiClient{la, fa}[i%2]
		j, _, err := api.submit(gm, []string{fmt.Sprint("m", i)})
		if err != nil {
			t.Fatalf("submission %d with a follower stopped: %v", i, err)
		}
		jobs = append(jobs, j.ID)
		u, err := api.fetchWork("w", gm)
		if err != nil || u == nil {
			t.Fatalf("POST /work %d with a follower stopped: %v %v", i, u, err)
		}
		if _, err := api.completeUnit(u.ID, "w", gm, u.Input+"-done"); err != nil {
			t.Fatalf("PUT /work %d with a follower stopped: %v", i, err)
		}
	}
	behind := clusterView(t, leader).CommitIndex
	stopped.signal(syscall.SIGCONT)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		v := clusterView(t, stopped)
		if v.AppliedIndex >= behind && v.SnapshotRestores > restoresBefore {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the follower back from SIGSTOP: %+v; want entry %d applied, from a snapshot (restores were %d)", v, behind, restoresBefore)
		}
	}

	// A stopped majority: the leader cannot commit, and says so.
	for _, f := range followers {
		f.signal(syscall.SIGSTOP)
	}
	stoppedAt := time.Now()
	var acknowledged []int64
	unavailable := time.Duration(0)
	for time.Since(stoppedAt) < 4*time.Second {
		sent := time.Now()
		j, _, err := la.submit(gm, []string{"during"})
		switch {
		case err == nil:
			acknowledged = append(acknowledged, j.ID)
		case isStatusError(err) && strings.Contains(err.Error(), "503"):
			if unavailable == 0 {
				unavailable = time.Since(stoppedAt)
			}
		default:
			t.Fatalf("a submission %v after the majority stopped: %v", time.Since(sent), err)
		}
	}
	if unavailable == 0 || unavailable > 3*time.Second {
		t.Fatalf("without a majority the first 503 came %v after the stop; want within 3 s", unavailable)
	}
	t.Logf("without a majority: 503 after %v; %d submissions answered 200 before", unavailable.Round(time.Millisecond), len(acknowledged))
	for _, f := range followers {
		f.signal(syscall.SIGCONT)
	}
	agreeOnLeader(t, nodes, 3)
	// Every 200 was true: those jobs are there, as are the earlier ones.
	api := newAPIClient(followers[1].url())
	defer api.close()
	submitToCluster(t, api, []string{"after"})
	for _, id := range append(jobs, acknowledged...) {
		if _, raw, ok, err := api.job(id); err != nil || !ok {
			t.Fatalf("job %d after the majority came back: %v %v %s", id, ok, err, raw)
		}
	}
}
