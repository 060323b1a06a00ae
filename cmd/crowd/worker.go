package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/documentcloud/crowd/action"
	"github.com/documentcloud/crowd/assets"
	"github.com/documentcloud/crowd/config"
	"github.com/documentcloud/crowd/worker"
	"github.com/spf13/cobra"
)

func workerCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run worker slots that pull units from the coordinator and run their actions",
		Long: `Run a worker process: --concurrency slots (default max_workers, or the
number of CPUs), each a worker named <slot>.<pid>@<host> that asks the
coordinator for units of the actions it has (built-in and in actions_path,
minus disabled_actions), runs them and reports the results.

SIGINT or SIGTERM stops it gracefully: no new work is taken, running units
have --grace to finish and be reported, and every slot checks out, which
gives back whatever it still holds. It then exits 0. A second signal ends
the grace period at once: running actions are killed, the slots check out,
and it exits 1.`,
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	def := config.Default()
	fs.String("server", def.CentralServer, "the coordinator's URL (central_server), or its cluster nodes' URLs, comma-separated")
	fs.Int("concurrency", 0, "worker slots (max_workers; 0: the number of CPUs)")
	fs.String("actions-dir", "", "folder of exec actions (actions_path)")
	grace := fs.String("grace", worker.DefaultGrace.String(), "how long running units may finish after SIGINT/SIGTERM (a duration, or seconds)")
	checkIn := fs.String("check-in-interval", worker.DefaultCheckInInterval.String(), "how often each slot checks in (a duration, or seconds)")
	verbose := fs.BoolP("verbose", "v", false, "log every unit (debug level)")
	flags := newConfigFlags(fs, map[string]string{"server": "central_server", "concurrency": "max_workers", "actions-dir": "actions_path"})
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		log := newLogger()
		if *verbose {
			log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
		cfg, err := flags.load(fs, log)
		if err != nil {
			return err
		}
		g, err := parseSeconds("grace", *grace)
		if err != nil {
			return err
		}
		ci, err := parseSeconds("check-in-interval", *checkIn)
		if err != nil {
			return err
		}
		w, err := worker.New(worker.Options{Config: cfg, Grace: g, CheckInInterval: ci, Logger: log})
		if err != nil {
			return err
		}
		// The first signal starts the graceful stop; a second one ends it
		// at once (StopNow), and a third one kills.
		sigs := make(chan os.Signal, 2)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(sigs)
		ctx, cancel := context.WithCancel(cmd.Context())
		defer cancel()
		var stoppedNow atomic.Bool
		go func() {
			<-sigs
			cancel()
			<-sigs
			signal.Stop(sigs)
			stoppedNow.Store(true)
			w.StopNow()
		}()
		if err := w.Run(ctx); err != nil {
			return err
		}
		if stoppedNow.Load() {
			return errors.New("worker: stopped by a second signal: running units were cut short and given back")
		}
		return nil
	}
	return cmd
}

// parseSeconds reads a positive duration: a Go duration ("45s") or a
// number of seconds.
func parseSeconds(flag, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		secs, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return 0, fmt.Errorf("--%s: %q is not a duration", flag, s)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d <= 0 {
		return 0, fmt.Errorf("--%s: %q is not more than 0", flag, s)
	}
	return d, nil
}

// startWorkers runs n worker slots in the server's process, against the
// server's own listener, until ctx is done or stop is called; stop returns
// once they have finished their units and checked out, and now cuts their
// running units short meanwhile. n <= 0 starts none.
func startWorkers(ctx context.Context, cfg config.Config, n int, addr net.Addr, catalog *action.Catalog,
	store assets.Store, log *slog.Logger) (stop, now func(), err error) {
	if n <= 0 {
		return func() {}, func() {}, nil
	}
	// The listener's own address, or loopback when it listens on every
	// address (":9173").
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return nil, nil, fmt.Errorf("workers: the server's address %s: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	cfg.CentralServer = "http://" + net.JoinHostPort(host, port)
	if !cfg.HTTPAuthentication {
		cfg.Login, cfg.Password = "", ""
	}
	w, err := worker.New(worker.Options{Config: cfg, Concurrency: n, Catalog: catalog, Store: store,
		Logger: log.With("component", "worker")})
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := w.Run(ctx); err != nil {
			log.Error("in-process workers stopped", "err", err)
		}
	}()
	return func() { cancel(); <-done }, w.StopNow, nil
}
