package main

import (
	"errors"
	"fmt"
	"os/signal"
	"syscall"
	"time"

	"github.com/documentcloud/crowd/config"
	"github.com/spf13/cobra"
)

func cleanupCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Delete the finished jobs older than a duration, with their files",
		Long: `Delete, on a running coordinator, the finished jobs (succeeded or failed) that
finished longer than --older-than ago, with their files in the asset store, as
job_retention does on its own; CloudCrowd's "crowd cleanup --days 7". It prints
how many it deleted once they are gone.`,
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	cc := addClientFlags(fs)
	olderThan := fs.String("older-than", "", "a duration such as 72h, or a number of seconds (required)")
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { usageExit(c, err); return nil })
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *olderThan == "" {
			usageExit(cmd, errors.New("--older-than is required"))
		}
		d, err := config.ParseDuration(*olderThan)
		if err != nil {
			usageExit(cmd, fmt.Errorf("--older-than: %w", err))
		}
		c, _, err := cc.clientWithTimeout(cmd, 11*time.Minute) // the coordinator waits up to 10 minutes
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		n, err := c.Cleanup(ctx, d)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "deleted %d finished jobs older than %v\n", n, d)
		return nil
	}
	return cmd
}
