package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// PeerNames are the peers bench/peers knows, in the order they run.
var PeerNames = []string{"beanstalkd", "asynq", "faktory", "river"}

// Options configure a whole `crowd bench` pass.
type Options struct {
	Full     bool
	Out      string   // output folder; "" = bench/out in the repository
	CrowdBin string   // the crowd program (for `crowd server` and `crowd bench ceiling`)
	Version  string   // crowd's version, for the report
	Repo     string   // the repository root; "" = look up from the working folder
	Systems  []string // "crowd", "ceiling" and peer names; empty = all
	Fsync    []string // crowd's fsync modes; empty = group and interval
	Plan     *Plan    // overrides the quick or full plan
	Log      io.Writer
}

func (o *Options) wants(name string) bool {
	return len(o.Systems) == 0 || slices.Contains(o.Systems, name)
}

// FindRepo walks up from dir to the folder holding bench/peers/go.mod.
func FindRepo(dir string) (string, bool) {
	for {
		if _, err := os.Stat(filepath.Join(dir, "bench", "peers", "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// Main runs crowd (each fsync mode), the ceiling and the peers, and writes
// results.json, results.md and one SVG chart per workload into the output
// folder.
func Main(ctx context.Context, o Options) (*Report, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	plan := QuickPlan()
	if o.Full {
		plan = FullPlan()
	}
	if o.Plan != nil {
		plan = *o.Plan
	}
	if len(o.Fsync) == 0 {
		o.Fsync = []string{"group", "interval"}
	}
	if o.Repo == "" {
		if wd, err := os.Getwd(); err == nil {
			o.Repo, _ = FindRepo(wd)
		}
	}
	if o.Out == "" {
		o.Out = "bench-out"
		if o.Repo != "" {
			o.Out = filepath.Join(o.Repo, "bench", "out")
		}
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "crowd-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	rep := &Report{
		Mode:     plan.Mode,
		Started:  time.Now(),
		Machine:  ThisMachine(),
		Versions: map[string]string{"crowd": o.Version},
		Settings: plan.Settings(),
	}
	var systems []System
	if o.wants("crowd") {
		for _, f := range o.Fsync {
			systems = append(systems, &Crowd{Bin: o.CrowdBin, Fsync: f, Dir: tmp})
		}
	}
	if o.wants("cluster") {
		systems = append(systems, &Crowd{Bin: o.CrowdBin, Nodes: 3, Dir: tmp})
	}
	if o.wants("ceiling") {
		systems = append(systems, &Ceiling{Bin: o.CrowdBin})
	}
	for _, s := range systems {
		rep.Results = append(rep.Results, RunSystem(ctx, s, plan, o.Log)...)
	}

	var peers []string
	for _, p := range PeerNames {
		if o.wants(p) {
			peers = append(peers, p)
		}
	}
	if len(peers) > 0 && ctx.Err() == nil {
		peerRep, err := runPeers(ctx, o, plan, peers, tmp)
		if err != nil {
			line := "skipped: peers (" + err.Error() + ")"
			fmt.Fprintln(o.Log, line)
			rep.Skipped = append(rep.Skipped, line)
		} else {
			rep.Results = append(rep.Results, peerRep.Results...)
			rep.Skipped = append(rep.Skipped, peerRep.Skipped...)
			for k, v := range peerRep.Versions {
				rep.Versions[k] = v
			}
		}
	}
	rep.Seconds = time.Since(rep.Started).Seconds()
	if err := rep.WriteFiles(o.Out); err != nil {
		return rep, err
	}
	return rep, ctx.Err()
}

// RunSystem starts a system, runs the plan on it and stops it. A system
// that does not start gives one result with the error.
func RunSystem(ctx context.Context, s System, plan Plan, log io.Writer) []Result {
	fmt.Fprintf(log, "== %s\n", Label(s))
	if err := s.Start(ctx); err != nil {
		fmt.Fprintf(log, "  error: %v\n", err)
		return []Result{{System: s.Name(), Variant: s.Variant(), Durability: s.Durability(), Workload: BurnDown, Error: "start: " + err.Error()}}
	}
	defer s.Stop()
	return Run(ctx, s, plan, log)
}

// runPeers builds and runs bench/peers' peerbench, a module of its own, and
// reads its results.
func runPeers(ctx context.Context, o Options, plan Plan, peers []string, tmp string) (*Report, error) {
	if o.Repo == "" {
		return nil, errors.New("bench/peers not found: run crowd bench inside the repository, or give --repo")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, errors.New("the go command is needed to build bench/peers")
	}
	dir := filepath.Join(o.Repo, "bench", "peers")
	bin := filepath.Join(tmp, "peerbench")
	fmt.Fprintln(o.Log, "== building bench/peers (its own module)")
	build := exec.CommandContext(ctx, goBin, "build", "-o", bin, "./cmd/peerbench")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building bench/peers: %v: %s (if crowd's go.mod changed, run go mod tidy in bench/peers)", err, strings.TrimSpace(string(out)))
	}
	planFile := filepath.Join(tmp, "plan.json")
	b, err := json.Marshal(plan)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(planFile, b, 0o644); err != nil {
		return nil, err
	}
	out := filepath.Join(tmp, "peers.json")
	cmd := exec.CommandContext(ctx, bin, "--plan", planFile, "--json", out, "--peers", strings.Join(peers, ","))
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = o.Log, o.Log
	cmd.Env = CleanEnv()
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("bench/peers: %w", err)
	}
	return ReadReportFile(out)
}

// WriteFiles writes results.json, results.md and rate-<workload>.svg.
func (rep *Report) WriteFiles(dir string) error {
	write := func(name string, fn func(io.Writer) error) error {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		w := bufio.NewWriter(f)
		if err := fn(w); err != nil {
			f.Close()
			return err
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if err := write("results.json", rep.WriteJSON); err != nil {
		return err
	}
	if err := write("results.md", rep.WriteMarkdown); err != nil {
		return err
	}
	for _, c := range []struct{ workload, title, unit string }{
		{Submit1, "Submission, 1-input jobs", "jobs/s"},
		{Submit100, "Submission, 100-input jobs", "jobs/s"},
		{BurnDown, "Burn-down of queued units", "units/s"},
	} {
		series := ChartSeries(rep.Results, c.workload)
		if len(series) == 0 {
			continue
		}
		title := c.title + " (" + rep.Mode + " run)"
		if err := write("rate-"+c.workload+".svg", func(w io.Writer) error { return WriteChart(w, title, c.unit, series) }); err != nil {
			return err
		}
	}
	return nil
}

// Settings describes the plan for the report.
func (p Plan) Settings() map[string]string {
	return map[string]string{
		"concurrency":       fmt.Sprint(p.Cs),
		"submission":        fmt.Sprintf("%d one-input jobs, %d hundred-input jobs per run; %d-byte inputs", p.Submit1Jobs, p.Submit100Jobs, InputSize),
		"burn-down":         fmt.Sprintf("%d units queued first", p.BurnUnits),
		"steady state":      fmt.Sprintf("%.0f units/s offered for %s from %d connections, C = %v workers", p.SteadyRate, p.SteadyFor, p.Submitters, p.SteadyCs),
		"time cap per run":  p.MaxRun.String(),
		"crowd's workload":  "the no-op action " + Action + ": the clients speak the protocol and report success at once",
		"latency, per unit": "burn-down: the call that acknowledges a unit and takes the next (crowd: PUT /work/:id; beanstalkd: delete+reserve pipelined; Faktory: ACK then FETCH)",
	}
}

// ThisMachine describes the machine the run is on.
func ThisMachine() Machine {
	m := Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}
