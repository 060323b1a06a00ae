package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/documentcloud/crowd/action"
	"github.com/documentcloud/crowd/actors"
	"github.com/documentcloud/crowd/assets"
	"github.com/documentcloud/crowd/cluster"
	"github.com/documentcloud/crowd/config"
	"github.com/documentcloud/crowd/metrics"
	"github.com/documentcloud/crowd/persistence"
	"github.com/documentcloud/crowd/transport"
	"github.com/documentcloud/crowd/wire"
	"github.com/hashicorp/raft"
	"github.com/spf13/cobra"
)

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
	m := metrics.New()
	node, err := cluster.Open(cluster.Options{ID: cfg.ClusterID, Addr: self, Dir: cfg.DataDir, Logger: log,
		SnapshotThreshold: uint64(cfg.ClusterSnapshotEntries), TrailingLogs: uint64(cfg.ClusterSnapshotEntries),
		SnapshotInterval: cfg.ClusterSnapshotInterval, OnBatch: m.ObserveBatch, OnSync: m.ObserveSync})
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
	var auth []byte
	if l := login(cfg); l != "" {
		auth = transport.BasicAuth(l, cfg.Password)
	}
	front := newFront(node, cfg.ClusterID, auth, m, log)
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
				Password: cfg.Password, MaxBody: cfg.MaxBody, Logger: log, Metrics: front.metrics, Cluster: front.view})
			front.metrics.Watch(co)
			h := srv.Handler()
			front.leading.Store(&h)
			return func() {
				front.leading.Store(nil)
				front.metrics.Watch(nil)
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
	hs := transport.HTTPServer(front.handle, transport.Options{MaxBody: cfg.MaxBody, Logger: log})
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

// clusterCommand is `crowd cluster`: a cluster's members, and adding and
// removing them.
func clusterCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Show a cluster's nodes, add one or remove one",
		Long: `Show the raft state of each node of a cluster (cluster mode), as the node the
client reaches sees them; add a node, started beforehand with its own
--cluster-id and without --cluster-bootstrap; remove a node, then stop it.
Any node takes the request: a follower forwards it to the leader.`,
		Args: cobra.NoArgs,
	}
	show := &cobra.Command{Use: "show", Short: "Print each node's role, term, commit and applied index", Args: cobra.NoArgs}
	join := &cobra.Command{Use: "join ID=HOST:PORT", Short: "Add a node (its API address; raft on the next port) as a voter", Args: cobra.ExactArgs(1)}
	remove := &cobra.Command{Use: "remove ID", Short: "Remove a node from the cluster", Args: cobra.ExactArgs(1)}
	for _, sub := range []*cobra.Command{show, join, remove} {
		cc := addClientFlags(sub.Flags())
		sub.SetFlagErrorFunc(func(c *cobra.Command, err error) error { usageExit(c, err); return nil })
		sub.RunE = func(cmd *cobra.Command, args []string) error {
			c, _, err := cc.client(cmd)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			var v wire.ClusterNode
			switch sub {
			case show:
				st, err := c.Status(ctx)
				if err != nil {
					return err
				}
				printCluster(cmd.OutOrStdout(), st.Cluster)
				return nil
			case join:
				id, api, ok := strings.Cut(args[0], "=")
				if !ok || id == "" {
					usageExit(cmd, fmt.Errorf("%q is not ID=HOST:PORT", args[0]))
				}
				v, err = c.AddNode(ctx, id, api)
			case remove:
				v, err = c.RemoveNode(ctx, args[0])
			}
			if err != nil {
				return err
			}
			// The leader's members once the change is committed (a removed
			// leader steps down after it: /status may have no leader yet).
			fmt.Fprintln(cmd.OutOrStdout(), "MEMBER\tRAFT")
			for _, p := range v.Peers {
				fmt.Fprintf(cmd.OutOrStdout(), "%s\t%s\n", p.Node, p.Raft)
			}
			return nil
		}
		cmd.AddCommand(sub)
	}
	return cmd
}

// printCluster writes the nodes' table of `crowd cluster` and `crowd status`.
func printCluster(out io.Writer, nodes []wire.ClusterNode) {
	if len(nodes) == 0 {
		fmt.Fprintln(out, "this coordinator is a single node, not a cluster")
		return
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tTERM\tCOMMIT\tAPPLIED\tLEADER")
	for _, n := range nodes {
		leader := n.Leader
		if leader == "" {
			leader = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", n.Node, n.Role, n.Term, n.CommitIndex, n.AppliedIndex, leader)
	}
	tw.Flush()
}
