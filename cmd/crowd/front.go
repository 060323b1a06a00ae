package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/documentcloud/crowd/cluster"
	"github.com/documentcloud/crowd/metrics"
	"github.com/documentcloud/crowd/transport"
	"github.com/documentcloud/crowd/wire"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// A node's raft address is its API address's host and the next port: a
// node that knows the leader's raft address (raft tells it) knows where to
// forward, for members added after it started too.

// raftAddr is the raft address of a node whose API is at api.
func raftAddr(api string) (string, error) { return shiftPort(api, 1) }

// apiAddr is the API address of a node whose raft address is raft.
func apiAddr(raft string) (string, error) { return shiftPort(raft, -1) }

func shiftPort(addr string, by int) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("cluster: %q is not host:port: %w", addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p+by <= 0 || p+by > 65535 {
		return "", fmt.Errorf("cluster: %q has no port next to its own", addr)
	}
	return net.JoinHostPort(host, strconv.Itoa(p+by)), nil
}

// front answers a node's HTTP requests: with the coordinator's routes while
// the node leads; otherwise it forwards them to the leader and answers with
// the leader's answer, so that a client with one URL can use any node, or
// answers 503 while there is no leader. Every node answers GET /heartbeat,
// GET /cluster and GET /metrics itself; the membership routes are the
// leader's, forwarded like the others.
type front struct {
	node         *cluster.Node
	self         string
	log          *slog.Logger
	auth         []byte // the expected Authorization header; nil when auth is off
	metrics      *metrics.Metrics
	serveMetrics fasthttp.RequestHandler
	leading      atomic.Pointer[fasthttp.RequestHandler]

	mu      sync.Mutex
	clients map[string]*fasthttp.HostClient
}

func newFront(node *cluster.Node, self string, auth []byte, m *metrics.Metrics, log *slog.Logger) *front {
	f := &front{node: node, self: self, log: log, auth: auth, metrics: m, clients: map[string]*fasthttp.HostClient{}}
	f.metrics.WatchCluster(func() wire.ClusterNode { return f.own(false) })
	f.serveMetrics = fasthttpadaptor.NewFastHTTPHandler(f.metrics.Handler())
	return f
}

// forwardedHeader marks a request one node passed to another, which does
// not pass it on again: two nodes that each take the other for the leader
// (during an election) must not bounce a request between them.
const forwardedHeader = "X-Crowd-Forwarded"

var (
	clusterPath   = []byte("/cluster")
	nodesPath     = []byte("/cluster/nodes")
	metricsPath   = []byte("/metrics")
	heartbeatPath = []byte("/heartbeat")
)

func (f *front) handle(ctx *fasthttp.RequestCtx) {
	p := ctx.Path()
	local := bytes.Equal(p, clusterPath) || bytes.Equal(p, metricsPath)
	if (local || bytes.HasPrefix(p, nodesPath) || bytes.Equal(p, heartbeatPath)) && !transport.Authorized(ctx, f.auth) {
		return
	}
	switch {
	case bytes.Equal(p, clusterPath):
		if onlyGet(ctx) {
			writeJSON(ctx, f.own(true))
		}
		return
	case bytes.Equal(p, metricsPath):
		if onlyGet(ctx) {
			f.serveMetrics(ctx)
		}
		return
	}
	if h := f.leading.Load(); h != nil {
		if bytes.HasPrefix(p, nodesPath) {
			f.membership(ctx)
			return
		}
		(*h)(ctx)
		return
	}
	if bytes.Equal(p, heartbeatPath) {
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString("buh-bump")
		return
	}
	f.forward(ctx)
}

// forward passes a request to the leader and answers with its answer.
func (f *front) forward(ctx *fasthttp.RequestCtx) {
	st := f.node.Status()
	api, err := apiAddr(st.LeaderAddr)
	switch {
	case st.LeaderID == f.self: // elected; its coordinator is not up yet
		unavailable(ctx, "this node is taking the lead; try again shortly")
		return
	case st.LeaderID == "" || err != nil || len(ctx.Request.Header.Peek(forwardedHeader)) > 0:
		unavailable(ctx, noLeader)
		return
	}
	ctx.Request.Header.Set(forwardedHeader, f.self)
	if err := f.client(api).Do(&ctx.Request, &ctx.Response); err != nil {
		f.log.Warn("cluster: forwarding to the leader", "leader", st.LeaderID, "err", err)
		ctx.Response.Reset()
		unavailable(ctx, noLeader)
	}
}

const noLeader = "this node does not lead and knows no leader; try again shortly"

// unavailable answers 503 with Retry-After: a client tries again, here or
// at another node.
func unavailable(ctx *fasthttp.RequestCtx, msg string) {
	ctx.Response.Header.Set("Retry-After", "1")
	transport.WriteError(ctx, fasthttp.StatusServiceUnavailable, msg)
}

func onlyGet(ctx *fasthttp.RequestCtx) bool {
	if ctx.IsGet() || ctx.IsHead() {
		return true
	}
	transport.WriteError(ctx, fasthttp.StatusMethodNotAllowed, "method not allowed on this route")
	return false
}

func writeJSON(ctx *fasthttp.RequestCtx, v any) {
	body, _ := json.Marshal(v) // plain fields: cannot fail
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}

// own is this node's raft state (GET /cluster), with the members when
// withPeers.
func (f *front) own(withPeers bool) wire.ClusterNode {
	st := f.node.Status()
	v := wire.ClusterNode{Node: st.ID, Role: st.Role, Term: st.Term, CommitIndex: st.CommitIndex,
		AppliedIndex: st.Applied, Leader: st.LeaderID, SnapshotRestores: st.Restores}
	if !withPeers {
		return v
	}
	peers, err := f.node.Peers()
	if err != nil {
		f.log.Warn("cluster: reading the members", "err", err)
	}
	v.Peers = []wire.ClusterPeer{}
	for _, p := range peers {
		v.Peers = append(v.Peers, wire.ClusterPeer{Node: p.ID, Raft: p.Addr})
	}
	return v
}

// askTimeout bounds how long /status waits for a member's GET /cluster.
const askTimeout = 500 * time.Millisecond

// view is every member's raft state, each asked for it at once (GET
// /cluster); a member that does not answer in time is "unreachable". It is
// the cluster part of /status and of the console's summary.
func (f *front) view() []wire.ClusterNode {
	peers, err := f.node.Peers()
	if err != nil {
		return []wire.ClusterNode{f.own(false)}
	}
	out := make([]wire.ClusterNode, len(peers))
	var wg sync.WaitGroup
	for i, p := range peers {
		if p.ID == f.self {
			out[i] = f.own(false)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = f.ask(p)
		}()
	}
	wg.Wait()
	return out
}

// ask reads a member's GET /cluster.
func (f *front) ask(p cluster.Peer) wire.ClusterNode {
	unreachable := wire.ClusterNode{Node: p.ID, Role: "unreachable"}
	api, err := apiAddr(p.Addr)
	if err != nil {
		return unreachable
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI("http://" + api + "/cluster")
	if f.auth != nil {
		req.Header.SetBytesV(fasthttp.HeaderAuthorization, f.auth)
	}
	var v wire.ClusterNode
	if err := f.client(api).DoTimeout(req, resp, askTimeout); err != nil || resp.StatusCode() != fasthttp.StatusOK ||
		json.Unmarshal(resp.Body(), &v) != nil || v.Node != p.ID {
		return unreachable
	}
	v.Peers = nil
	return v
}

// membership is the leader's POST /cluster/nodes (id, api: add a voter)
// and DELETE /cluster/nodes/:id (remove a member). Each answers with the
// leader's GET /cluster once the new configuration is committed.
func (f *front) membership(ctx *fasthttp.RequestCtx) {
	id := string(bytes.TrimPrefix(bytes.TrimPrefix(ctx.Path(), nodesPath), []byte("/")))
	var err error
	switch {
	case ctx.IsPost() && id == "":
		id, api := string(ctx.FormValue("id")), string(ctx.FormValue("api"))
		raft, aerr := raftAddr(api)
		if id == "" || aerr != nil {
			transport.WriteError(ctx, fasthttp.StatusBadRequest, "a node to add needs id and api (its host:port, raft on the next port)")
			return
		}
		err = f.node.Join(cluster.Peer{ID: id, Addr: raft})
	case ctx.IsDelete() && id != "":
		if !f.member(id) {
			transport.WriteError(ctx, fasthttp.StatusNotFound, fmt.Sprintf("%q is not a member of the cluster", id))
			return
		}
		err = f.node.Remove(id)
	default:
		transport.WriteError(ctx, fasthttp.StatusMethodNotAllowed, "POST /cluster/nodes adds a node, DELETE /cluster/nodes/:id removes one")
		return
	}
	if err != nil { // raft's: leadership lost, no quorum, another change under way
		unavailable(ctx, err.Error())
		return
	}
	f.log.Info("cluster: membership changed", "node", id)
	writeJSON(ctx, f.own(true))
}

func (f *front) member(id string) bool {
	peers, err := f.node.Peers()
	if err != nil {
		return false
	}
	for _, p := range peers {
		if p.ID == id {
			return true
		}
	}
	return false
}

// client is the connection pool to a member's API.
func (f *front) client(addr string) *fasthttp.HostClient {
	f.mu.Lock()
	defer f.mu.Unlock()
	hc := f.clients[addr]
	if hc == nil {
		// A held POST /work waits up to 30 s at the leader.
		hc = &fasthttp.HostClient{Addr: addr, ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second}
		f.clients[addr] = hc
	}
	return hc
}
