package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/documentcloud/crowd/action"
	"github.com/documentcloud/crowd/actors"
	"github.com/documentcloud/crowd/assets"
	"github.com/documentcloud/crowd/config"
	"github.com/documentcloud/crowd/metrics"
	"github.com/documentcloud/crowd/persistence"
	"github.com/documentcloud/crowd/transport"
	"github.com/spf13/cobra"
)

func serverCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the coordinator",
		Long: `Run the coordinator: the HTTP API that takes jobs, hands their units to
workers and gathers the results.`,
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	def := config.Default()
	fs.String("listen", def.Listen, "address to listen on")
	fs.String("data-dir", def.DataDir, "folder for the coordinator's journal")
	fs.String("fsync", def.Fsync, "when the journal syncs: group, interval or off")
	fs.String("job-retention", def.JobRetention.String(), "delete finished jobs this long after they finished; 0 keeps them")
	workers := fs.Int("workers", 0, "also run N worker slots in this process")
	pprofAddr := fs.String("pprof", "", "serve Go's profiles (net/http/pprof) on this address, e.g. 127.0.0.1:6060")
	fs.String("cluster-id", "", "run as this node of a cluster of replicas (cluster mode)")
	fs.String("cluster-peers", "", "the cluster's nodes, id=host:port of each one's API (raft uses the next port)")
	fs.Bool("cluster-bootstrap", false, "form the cluster of --cluster-peers on first start (ignored once formed)")
	flags := newConfigFlags(fs, map[string]string{"listen": "listen", "data-dir": "data_dir", "fsync": "fsync", "job-retention": "job_retention",
		"cluster-id": "cluster_id", "cluster-peers": "cluster_peers", "cluster-bootstrap": "cluster_bootstrap"})
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *workers < 0 {
			return fmt.Errorf("--workers: %d is negative", *workers)
		}
		log := newLogger()
		cfg, err := flags.load(fs, log)
		if err != nil {
			return err
		}
		if *pprofAddr != "" {
			stop, err := servePprof(*pprofAddr, log)
			if err != nil {
				return err
			}
			defer stop()
		}
		return runServer(cmd.Context(), cfg, *workers)
	}
	return cmd
}

func runServer(ctx context.Context, cfg config.Config, workers int) error {
	if cfg.ClusterID != "" {
		if workers > 0 {
			return fmt.Errorf("--workers: not in cluster mode; run crowd worker beside the nodes")
		}
		return runClusterServer(ctx, cfg)
	}
	log := newLogger()
	catalog := action.NewCatalog(cfg.ActionsPath)
	for _, p := range catalog.Problems() {
		log.Warn("action skipped", "err", p)
	}
	mode, err := persistence.ParseSyncMode(cfg.Fsync)
	if err != nil {
		return err
	}
	m := metrics.New()
	wal, err := persistence.OpenWAL(persistence.WALOptions{Dir: cfg.DataDir, Sync: mode, Interval: cfg.FsyncInterval,
		Logger: log, OnSync: m.ObserveSync, OnBatch: m.ObserveBatch})
	if err != nil {
		return err
	}
	defer wal.Close()
	start := time.Now()
	state, gen, err := actors.Load(cfg.DataDir, wal)
	if err != nil {
		return err
	}
	log.Info("state restored", "data_dir", cfg.DataDir, "jobs", state.Len(), "finished", len(state.Finished), "snapshot", gen,
		"took", time.Since(start).Round(time.Millisecond))

	store, err := assets.FromConfig(ctx, cfg)
	if err != nil {
		return err
	}
	co, err := actors.Start(coordinatorSettings(cfg, store, log), wal, state)
	if err != nil {
		return err
	}
	m.Watch(co)
	snap := &actors.Snapshotter{Coordinator: co, Log: wal, Dir: cfg.DataDir,
		Every: uint64(cfg.SnapshotEvery), Bytes: snapshotBytes, Logger: log}
	snap.SetGeneration(gen)
	snapCtx, stopSnapshots := context.WithCancel(ctx)
	defer stopSnapshots()
	snapshots := make(chan struct{})
	go func() { snap.Run(snapCtx); close(snapshots) }()

	srv := transport.New(transport.Options{
		Coordinator: co,
		Catalog:     catalog,
		Login:       login(cfg),
		Password:    cfg.Password,
		MaxBody:     cfg.MaxBody,
		Logger:      log,
		Metrics:     m,
	})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	log.Info("crowd coordinator listening", "addr", ln.Addr().String(), "fsync", mode.String(), "actions", catalog.Names())

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	stopWorkers, workersNow, err := startWorkers(ctx, cfg, workers, ln.Addr(), catalog, store, log)
	if err != nil {
		return err
	}
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// A second signal hurries the shutdown along: the in-process workers'
	// units are cut short (they go back to the queue) and the requests in
	// flight are not waited for. The final snapshot is still written.
	second := make(chan os.Signal, 1)
	signal.Notify(second, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(second)
	stop()
	log.Info("shutting down; a second signal cuts running units short")
	srv.Drain() // no new jobs or leases; the units under way are reported
	hurried, hurry := context.WithCancel(context.Background())
	defer hurry()
	go func() {
		select {
		case <-second:
			log.Warn("second signal: stopping now")
			workersNow()
			hurry()
		case <-hurried.Done():
		}
	}()
	stopWorkers() // they finish their units and check out while the server still answers
	// Stop taking requests and answer those in flight, then snapshot what
	// they changed, so that the next start replays only the snapshot.
	shutdown, cancelShutdown := context.WithTimeout(hurried, 30*time.Second)
	defer cancelShutdown()
	if err := srv.Shutdown(shutdown); err != nil {
		log.Warn("http shutdown: requests in flight were cut short", "err", err)
	}
	stopSnapshots()
	<-snapshots
	if err := snap.Take(); err != nil {
		log.Error("final snapshot", "err", err)
	}
	// The actors get a deadline of their own: the HTTP shutdown may have
	// used up its own.
	stopping, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := co.Stop(stopping); err != nil {
		log.Error("actors stop", "err", err)
	}
	return wal.Close()
}

// coordinatorSettings are the actors' settings of cfg.
func coordinatorSettings(cfg config.Config, store assets.Store, log *slog.Logger) actors.Settings {
	return actors.Settings{
		WorkUnitRetries: cfg.WorkUnitRetries,
		RetryBackoff:    cfg.RetryBackoff,
		WorkerTimeout:   cfg.WorkerTimeout,
		UnitTimeout:     cfg.UnitTimeout,
		JobRetention:    cfg.JobRetention,
		CallbackRetries: cfg.CallbackRetries,
		Logger:          log,
		RemoveFiles: func(action string, job int64) {
			if err := store.DeleteJob(context.Background(), action, job); err != nil {
				log.Warn("deleting a job's files", "job", job, "err", err)
			}
		},
	}
}

// snapshotBytes is the log size that calls for a snapshot whatever the
// record count.
const snapshotBytes = 256 << 20

// login is the Basic auth login, or "" when authentication is off.
func login(cfg config.Config) string {
	if !cfg.HTTPAuthentication {
		return ""
	}
	return cfg.Login
}
