// Command peerbench runs crowd bench's workloads on the peers (beanstalkd,
// Redis + asynq, Faktory, River on PostgreSQL) and writes their results as
// JSON for crowd bench to merge. crowd bench builds and runs it; by hand:
//
//	cd bench/peers && go run ./cmd/peerbench --json peers.json
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/documentcloud/crowd/bench"
	"github.com/documentcloud/crowd/bench/peers"
)

func main() {
	os.Exit(run())
}

func run() int {
	planFile := flag.String("plan", "", "the plan as JSON (crowd bench writes it); default: the quick plan")
	full := flag.Bool("full", false, "the full plan (when no --plan)")
	out := flag.String("json", "", "write the results here (default: standard output)")
	names := flag.String("peers", strings.Join(bench.PeerNames, ","), "peers to run")
	flag.Parse()

	plan := bench.QuickPlan()
	if *full {
		plan = bench.FullPlan()
	}
	if *planFile != "" {
		b, err := os.ReadFile(*planFile)
		if err == nil {
			err = json.Unmarshal(b, &plan)
		}
		if err != nil {
			fatal(err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	dir, err := peers.Scratch()
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(dir)
	systems, skipped := peers.Systems(strings.Split(*names, ","), dir)
	for _, s := range skipped {
		fmt.Fprintln(os.Stderr, s)
	}
	rep := &bench.Report{Mode: plan.Mode, Started: time.Now(), Machine: bench.ThisMachine(),
		Versions: peers.Versions(systems), Settings: plan.Settings(), Skipped: skipped, Results: []bench.Result{}}
	for _, s := range systems {
		if ctx.Err() != nil {
			break
		}
		rep.Results = append(rep.Results, bench.RunSystem(ctx, s, plan, os.Stderr)...)
	}
	rep.Seconds = time.Since(rep.Started).Seconds()
	w := os.Stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fatal(err)
		}
		defer f.Close()
		w = f
	}
	if err := rep.WriteJSON(w); err != nil {
		fatal(err)
	}
	if ctx.Err() != nil {
		return 130
	}
	return 0
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "peerbench:", err)
	os.Exit(1)
}
