package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/documentcloud/crowd/config"
	"github.com/documentcloud/crowd/wire"
	"github.com/spf13/cobra"
)

// statusJobs is how many incomplete jobs `crowd status` lists at most.
const statusJobs = 50

func statusCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Print the coordinator's incomplete jobs, with their progress, and its workers",
		Long: `Print the coordinator's incomplete jobs (id, status, percent complete, units of
the current phase, action, age) and its live workers (name, and the status of
the unit each holds), as tables; --json prints GET /status as it is.`,
		Args: cobra.NoArgs,
	}
	fs := cmd.Flags()
	cc := addClientFlags(fs)
	asJSON := fs.Bool("json", false, "print GET /status as JSON")
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error { usageExit(c, err); return nil })
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, cfg, err := cc.client(cmd)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if *asJSON {
			fmt.Fprintf(out, "%s\n", st.AppendJSON(nil))
			return nil
		}
		actions := consoleActions(ctx, cfg) // nil when the console cannot say
		printStatus(out, st, actions)
		return nil
	}
	return cmd
}

// printStatus writes the jobs and workers tables.
func printStatus(out io.Writer, st wire.Status, actions map[int64]string) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	if len(st.Jobs) == 0 {
		fmt.Fprintln(tw, "no incomplete jobs")
	} else {
		fmt.Fprintln(tw, "JOB\tSTATUS\tDONE\tUNITS\tACTION\tAGE")
		for i, j := range st.Jobs {
			if i == statusJobs {
				break
			}
			a := actions[j.ID]
			if a == "" {
				a = "-"
			}
			fmt.Fprintf(tw, "%d\t%s\t%d%%\t%d\t%s\t%s\n", j.ID, j.Status, j.PercentComplete, j.WorkUnits, a,
				(time.Duration(j.TimeTaken * float64(time.Second))).Round(time.Second))
		}
	}
	shown := min(len(st.Jobs), statusJobs)
	fmt.Fprintf(tw, "%d incomplete jobs (%d shown); units: %d incomplete: %d ready, %d leased, %d waiting\n\n",
		max(st.JobCount, len(st.Jobs)), shown, st.WorkUnitCount, st.Units.Ready, st.Units.Leased, st.Units.Waiting)
	if len(st.Workers) == 0 {
		fmt.Fprintln(tw, "no workers")
	} else {
		fmt.Fprintln(tw, "WORKER\tUNIT")
		for _, w := range st.Workers {
			s := w.Status
			if s == "" {
				s = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\n", w.Name, s)
		}
	}
	tw.Flush()
	if len(st.Cluster) > 0 {
		fmt.Fprintln(out)
		printCluster(out, st.Cluster)
	}
}

// consoleActions asks the console API (GET /console/jobs) for the actions
// of the incomplete jobs, which GET /status does not carry; nil when it
// cannot.
func consoleActions(ctx context.Context, cfg config.Config) map[int64]string {
	ctx, cancel := context.WithTimeout(ctx, cfg.ServerTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		firstServer(cfg)+"/console/jobs?filter=incomplete&per_page="+strconv.Itoa(statusJobs), nil)
	if err != nil {
		return nil
	}
	if cfg.Login != "" {
		req.SetBasicAuth(cfg.Login, cfg.Password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	var page wire.JobPage
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&page); err != nil {
		return nil
	}
	actions := make(map[int64]string, len(page.Jobs))
	for _, j := range page.Jobs {
		actions[j.ID] = j.Action
	}
	return actions
}

// firstServer is the first of central_server's URLs (a cluster's nodes
// are comma-separated; any answers for the cluster).
func firstServer(cfg config.Config) string {
	first, _, _ := strings.Cut(cfg.CentralServer, ",")
	return strings.TrimRight(strings.TrimSpace(first), "/")
}
