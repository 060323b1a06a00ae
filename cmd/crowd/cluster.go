package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/documentcloud/crowd/action"
	"github.com/documentcloud/crowd/actors"
	"github.com/documentcloud/crowd/assets"
	"github.com/documentcloud/crowd/cluster"
	"github.com/documentcloud/crowd/config"
	"github.com/documentcloud/crowd/persistence"
	"github.com/documentcloud/crowd/transport"
	"github.com/documentcloud/crowd/wire"
	"github.com/hashicorp/raft"
	"github.com/valyala/fasthttp"
)

// raftAddr is the raft address of a node whose API is at api: the same
// host, the next port.
func raftAddr(api string) (string, error) {
	host, port, err := net.SplitHostPort(api)
	if err != nil {
		return "", err
	}
	p, err := strconv.Atoi(port)
	if err != nil || p <= 0 || p >= 65535 {
		return "", fmt.Errorf("cluster: %q has no port with one after it", api)
	}
	return net.JoinHostPort(host, strconv.Itoa(p+1)), nil
}

// runClusterServer is runServer in cluster mode: this node is one of the
// replicas of cfg.ClusterPeers, and runs the coordinator while it leads.
func runClusterServer(ctx context.Context, cfg config.Config) error {
	log := newLogger().With("node", cfg.ClusterID)
	catalog := action.NewCatalog(cfg.ActionsPath)
	for _, p := range catalog.Problems() {
		log.Warn("action skipped", "err", p)
	}
	apis, err := cfg.Peers()
	if err != nil {
		return err
	}
	var peers []cluster.Peer
	for id, api := range apis {
		addr, err := raftAddr(api)
		if err != nil {
			return err
		}
		peers = append(peers, cluster.Peer{ID: id, Addr: addr})
	}
	self, _ := raftAddr(apis[cfg.ClusterID]) // Validate checked it is there
	node, err := cluster.Open(cluster.Options{ID: cfg.ClusterID, Addr: self, Dir: cfg.DataDir, Logger: log})
	if err != nil {
		return err
	}
	defer node.Close()
	if cfg.ClusterBootstrap {
		if err := node.Bootstrap(peers); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return err
		}
	}
	store, err := assets.FromConfig(ctx, cfg)
	if err != nil {
		return err
	}
	front := &front{node: node, self: cfg.ClusterID, apis: apis, log: log, clients: map[string]*fasthttp.HostClient{}}
	if l := login(cfg); l != "" {
		front.auth = transport.BasicAuth(l, cfg.Password)
	}
	leadCtx, stopLeading := context.WithCancel(context.Background())
	led := make(chan struct{})
	go func() {
		defer close(led)
		node.Lead(leadCtx, func(state *actors.State, j persistence.Journal) func() {
			co, err := actors.Start(coordinatorSettings(cfg, store, log), j, state)
			if err != nil {
				log.Error("cluster: starting the coordinator", "err", err)
				return func() {}
			}
			srv := transport.New(transport.Options{Coordinator: co, Catalog: catalog, Login: login(cfg),
				Password: cfg.Password, MaxBody: cfg.MaxBody, Logger: log})
			h := srv.Handler()
			front.leading.Store(&h)
			return func() {
				front.leading.Store(nil)
				srv.Drain()
				stopping, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := co.Stop(stopping); err != nil {
					log.Error("actors stop", "err", err)
				}
			}
		})
	}()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		stopLeading()
		return fmt.Errorf("listen: %w", err)
	}
	hs := &fasthttp.Server{Handler: front.handle, Name: "crowd", ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second,
		IdleTimeout: 120 * time.Second, MaxRequestBodySize: int(min(cfg.MaxBody, int64(maxInt))), DisablePreParseMultipartForm: true}
	log.Info("crowd cluster node listening", "addr", ln.Addr().String(), "raft", self, "peers", len(peers))
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err = <-served:
		err = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hs.ShutdownWithContext(shutdown)
	stopLeading()
	<-led
	return err
}

const maxInt = int(^uint(0) >> 1)

// front answers a node's HTTP requests: with the coordinator's routes while
// the node leads; otherwise it forwards them to the leader and answers with
// the leader's answer, so that a client with one URL can use any node, or
// answers 503 while there is no leader. GET /heartbeat answers on every
// live node.
type front struct {
	node    *cluster.Node
	self    string
	apis    map[string]string // each peer's API address
	log     *slog.Logger
	auth    []byte // the expected Authorization header; nil when auth is off
	leading atomic.Pointer[fasthttp.RequestHandler]

	mu      sync.Mutex
	clients map[string]*fasthttp.HostClient
}

// forwardedHeader marks a request one node passed to another, which does
// not pass it on again: two nodes that each take the other for the leader
// (during an election) must not bounce a request between them.
const forwardedHeader = "X-Crowd-Forwarded"

func (f *front) handle(ctx *fasthttp.RequestCtx) {
	local := string(ctx.Path()) == "/cluster" || string(ctx.Path()) == "/heartbeat"
	if local && !transport.Authorized(ctx, f.auth) {
		return
	}
	if string(ctx.Path()) == "/cluster" { // every node answers for itself
		f.clusterNode(ctx)
		return
	}
	if h := f.leading.Load(); h != nil {
		(*h)(ctx)
		return
	}
	if string(ctx.Path()) == "/heartbeat" {
		ctx.SetContentType("text/plain; charset=utf-8")
		ctx.SetBodyString("buh-bump")
		return
	}
	st := f.node.Status()
	api, known := f.apis[st.LeaderID]
	if !known || st.LeaderID == f.self || len(ctx.Request.Header.Peek(forwardedHeader)) > 0 {
		noLeader(ctx)
		return
	}
	ctx.Request.Header.Set(forwardedHeader, f.self)
	if err := f.client(api).Do(&ctx.Request, &ctx.Response); err != nil {
		f.log.Warn("cluster: forwarding to the leader", "leader", st.LeaderID, "err", err)
		ctx.Response.Reset()
		noLeader(ctx)
	}
}

// clusterNode is GET /cluster: this node's raft state and the members.
func (f *front) clusterNode(ctx *fasthttp.RequestCtx) {
	if !ctx.IsGet() && !ctx.IsHead() {
		ctx.SetStatusCode(fasthttp.StatusMethodNotAllowed)
		ctx.SetContentType("application/json")
		ctx.SetBodyString(`{"error":"method not allowed on this route"}`)
		return
	}
	st := f.node.Status()
	v := wire.ClusterNode{Node: st.ID, Role: st.Role, Term: st.Term, CommitIndex: st.CommitIndex,
		AppliedIndex: st.Applied, Leader: st.LeaderID, Peers: []wire.ClusterPeer{}}
	peers, err := f.node.Peers()
	if err != nil {
		f.log.Warn("cluster: reading the members", "err", err)
	}
	for _, p := range peers {
		v.Peers = append(v.Peers, wire.ClusterPeer{Node: p.ID, Raft: p.Addr})
	}
	body, _ := json.Marshal(v) // plain fields: cannot fail
	ctx.SetContentType("application/json")
	ctx.SetBody(body)
}

func noLeader(ctx *fasthttp.RequestCtx) {
	ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
	ctx.Response.Header.Set("Retry-After", "1")
	ctx.SetContentType("application/json")
	ctx.SetBodyString(`{"error":"this node does not lead and knows no leader; try again shortly"}`)
}

// client is the connection pool to a leader's API.
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
