package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/documentcloud/crowd/bench"
	"github.com/spf13/cobra"
)

func benchCommand() *cobra.Command {
	var (
		full      bool
		out, repo string
		systems   []string
		fsync     []string
		cs        []int
		steadyFor time.Duration
		rate      float64
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark crowd next to beanstalkd, asynq, Faktory and River",
		Long: `Benchmark crowd's coordinator on this machine, over loopback: submission of
1- and 100-input jobs, burn-down of queued units and a steady state, at
C = 16, 64 and 256, with --fsync group and interval; next to a bare fasthttp
handler (the ceiling of HTTP) and, when installed, beanstalkd, Redis + asynq,
Faktory and River on PostgreSQL (bench/peers, built with the go command from
the repository; bench/install-peers.sh installs them). Writes results.md,
results.json and rate-*.svg into the output folder.

Without --full it is a quick pass of about three minutes whose figures are
indicative only.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			if exe, err = filepath.EvalSymlinks(exe); err != nil {
				return err
			}
			o := bench.Options{Full: full, Out: out, CrowdBin: exe, Version: version, Repo: repo,
				Systems: systems, Fsync: fsync, Log: cmd.ErrOrStderr()}
			if len(cs) > 0 || steadyFor > 0 || rate > 0 {
				p := bench.QuickPlan()
				if full {
					p = bench.FullPlan()
				}
				if len(cs) > 0 {
					p.Cs, p.SteadyCs = cs, cs
				}
				if steadyFor > 0 {
					p.SteadyFor = steadyFor
				}
				if rate > 0 {
					p.SteadyRate = rate
				}
				o.Plan = &p
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			rep, err := bench.Main(ctx, o)
			if rep != nil {
				rep.WriteMarkdown(cmd.OutOrStdout())
			}
			if errors.Is(err, context.Canceled) {
				return errors.New("interrupted")
			}
			return err
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&full, "full", false, "the full sizes (100,000 units, 60 s steady state); quick otherwise")
	fs.StringVar(&out, "out", "", "output folder (default bench/out in the repository)")
	fs.StringVar(&repo, "repo", "", "the repository root, where bench/peers is (default: found from the working folder)")
	fs.StringSliceVar(&systems, "systems", nil, "only these: crowd, cluster (crowd on three nodes), ceiling, beanstalkd, asynq, faktory, river (default all)")
	fs.StringSliceVar(&fsync, "fsync", nil, "crowd's fsync modes to run (default group,interval)")
	fs.IntSliceVar(&cs, "c", nil, "concurrencies (default 16,64,256)")
	fs.DurationVar(&steadyFor, "steady", 0, "how long the steady state lasts (default 2s quick, 60s full)")
	fs.Float64Var(&rate, "rate", 0, "units/s offered in the steady state")
	cmd.AddCommand(ceilingCommand())
	return cmd
}

// ceilingCommand serves the bare fasthttp handler that crowd bench
// measures as the ceiling of HTTP; crowd bench starts it itself.
func ceilingCommand() *cobra.Command {
	var listen string
	cmd := &cobra.Command{
		Use:    "ceiling",
		Short:  "Serve the bare fasthttp handler crowd bench uses as the HTTP ceiling",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			go func() { <-ctx.Done(); ln.Close() }()
			err = bench.ServeCeiling(ln)
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("ceiling: %w", err)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9174", "address to listen on")
	return cmd
}
