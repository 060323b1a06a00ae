package peers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/contribsys/faktory/client"
	"github.com/documentcloud/crowd/bench"
)

// Faktory runs the Faktory server (which starts its own redis-server) in
// development mode, and speaks to it with Faktory's Go client: jobs are
// pushed (PUSH, or PUSHB for a batch), workers FETCH then ACK over their
// own connections.
type Faktory struct {
	Bin string
	Dir string

	proc *bench.Proc
	addr string
	runs int
}

func (f *Faktory) Name() string    { return "faktory" }
func (f *Faktory) Variant() string { return "" }
func (f *Faktory) Durability() string {
	return "its own redis-server with RDB snapshots only (save 30 s if ≥ 5 changes, 120 s if ≥ 1), no AOF: a crash loses up to 30–120 s of acknowledged pushes and ACKs"
}

func (f *Faktory) runDir() string { return filepath.Join(f.Dir, "faktory-"+strconv.Itoa(f.runs)) }

func (f *Faktory) Start(ctx context.Context) error {
	port, err := bench.FreePort()
	if err != nil {
		return err
	}
	web, err := bench.FreePort()
	if err != nil {
		return err
	}
	f.runs++
	dir := f.runDir()
	for _, d := range []string{filepath.Join(dir, "db"), filepath.Join(dir, "conf")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	f.addr = "127.0.0.1:" + strconv.Itoa(port)
	f.proc, err = bench.StartProc(f.Bin, []string{"-b", f.addr, "-w", "127.0.0.1:" + strconv.Itoa(web),
		"-e", "development", "-l", "warn", "-d", filepath.Join(dir, "db"), "-c", filepath.Join(dir, "conf")},
		bench.CleanEnv(), dir, nil)
	if err != nil {
		return err
	}
	if err := bench.WaitTCP(ctx, f.proc, f.addr, 30*time.Second); err != nil {
		f.Stop()
		return err
	}
	// The port answers before the server takes commands: wait for a HELLO.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := f.open()
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			f.Stop()
			return fmt.Errorf("faktory does not answer: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (f *Faktory) open() (*client.Client, error) {
	srv := &client.Server{Network: "tcp", Address: f.addr, Timeout: 30 * time.Second}
	return srv.Open()
}

// Reset empties Faktory with FLUSH (a restart would restart its Redis too).
func (f *Faktory) Reset(ctx context.Context) error {
	c, err := f.open()
	if err != nil {
		f.Stop()
		return f.Start(ctx)
	}
	defer c.Close()
	return c.Flush()
}

func (f *Faktory) PIDs() []int {
	if f.proc == nil {
		return nil
	}
	return []int{f.proc.PID()} // with its redis-server, a child process
}

func (f *Faktory) Stop() error {
	if f.proc != nil {
		f.proc.Stop(10 * time.Second)
		f.proc = nil
		os.RemoveAll(f.runDir())
	}
	return nil
}

type faktoryConn struct {
	c       *client.Client
	holding string
}

func (f *Faktory) NewClient(context.Context) (bench.Client, error) {
	c, err := f.open()
	if err != nil {
		return nil, err
	}
	return &faktoryConn{c: c}, nil
}

func (f *Faktory) NewWorker(context.Context, int, bool) (bench.Worker, error) {
	// FETCH blocks up to 2 s on an empty queue whatever the worker wants.
	c, err := f.open()
	if err != nil {
		return nil, err
	}
	return &faktoryConn{c: c}, nil
}

func faktoryJob(in string) *client.Job {
	j := client.NewJob("bench", in)
	j.Retry = ptr(0)
	return j
}

func ptr[T any](v T) *T { return &v }

// Submit is PUSH for one input and PUSHB for more.
func (c *faktoryConn) Submit(_ context.Context, inputs []string) error {
	if len(inputs) == 1 {
		return c.c.Push(faktoryJob(inputs[0]))
	}
	jobs := make([]*client.Job, len(inputs))
	for i, in := range inputs {
		jobs[i] = faktoryJob(in)
	}
	failed, err := c.c.PushBulk(jobs)
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("PUSHB: %d jobs refused", len(failed))
	}
	return nil
}

// Next is ACK of the job held, then FETCH.
func (c *faktoryConn) Next(_ context.Context, fetch bool) (string, bool, error) {
	if c.holding != "" {
		if err := c.c.Ack(c.holding); err != nil {
			return "", false, err
		}
		c.holding = ""
	}
	if !fetch {
		return "", false, nil
	}
	job, err := c.c.Fetch("default")
	if err != nil {
		return "", false, err
	}
	if job == nil {
		return "", false, nil
	}
	c.holding = job.Jid
	in, _ := job.Args[0].(string)
	return in, true, nil
}

func (c *faktoryConn) Close() error { return c.c.Close() }
