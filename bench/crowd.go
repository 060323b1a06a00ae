package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Crowd runs crowd's coordinator (`crowd server`) as a child process, with
// a fresh data folder for every run.
type Crowd struct {
	Bin   string // the crowd program
	Fsync string // "group" or "interval"
	Dir   string // a scratch folder for the data folders

	proc *Proc
	addr string
	runs int
	httpProto
}

func (c *Crowd) Name() string    { return "crowd" }
func (c *Crowd) Variant() string { return c.Fsync }

func (c *Crowd) Durability() string {
	switch c.Fsync {
	case "group":
		return "journal fsynced before every answer (group commit): an acknowledged job or report survives a crash or power loss"
	case "interval":
		return "journal written before the answer, fsynced every 50 ms: a crash of the process loses nothing, a power loss up to 50 ms"
	default:
		return "journal never fsynced: the OS decides"
	}
}

func (c *Crowd) Start(ctx context.Context) error {
	port, err := FreePort()
	if err != nil {
		return err
	}
	c.runs++
	run := filepath.Join(c.Dir, "crowd-"+c.Fsync+"-"+strconv.Itoa(c.runs))
	if err := os.MkdirAll(run, 0o755); err != nil {
		return err
	}
	c.addr = "127.0.0.1:" + strconv.Itoa(port)
	env := CleanEnv(
		"CROWD_LOCAL_STORAGE_PATH="+filepath.Join(run, "storage"),
		"CROWD_TEMP_STORAGE_PATH="+filepath.Join(run, "tmp"),
	)
	c.proc, err = StartProc(c.Bin, []string{"server", "--listen", c.addr,
		"--data-dir", filepath.Join(run, "data"), "--fsync", c.Fsync}, env, run, nil)
	if err != nil {
		return fmt.Errorf("starting crowd: %w", err)
	}
	c.httpProto = httpProto{addr: c.addr}
	if err := WaitTCP(ctx, c.proc, c.addr, 30*time.Second); err != nil {
		c.Stop()
		return err
	}
	return nil
}

// Reset starts a new coordinator on an empty data folder.
func (c *Crowd) Reset(ctx context.Context) error {
	c.Stop()
	return c.Start(ctx)
}

func (c *Crowd) PIDs() []int {
	if c.proc == nil {
		return nil
	}
	return []int{c.proc.PID()}
}

func (c *Crowd) Stop() error {
	if c.proc == nil {
		return nil
	}
	c.proc.Stop(10 * time.Second)
	c.proc = nil
	// The data folders of finished runs are not needed: keep the disk free.
	os.RemoveAll(filepath.Join(c.Dir, "crowd-"+c.Fsync+"-"+strconv.Itoa(c.runs)))
	return nil
}

// Ceiling runs the bare fasthttp handler (`crowd bench ceiling`) as a
// child process: HTTP's ceiling on this machine for crowd's requests.
type Ceiling struct {
	Bin string // the crowd program

	proc *Proc
	httpProto
}

func (c *Ceiling) Name() string    { return "fasthttp ceiling" }
func (c *Ceiling) Variant() string { return "" }
func (c *Ceiling) Durability() string {
	return "none: a bare fasthttp handler with an in-memory FIFO, the ceiling of HTTP here"
}

func (c *Ceiling) Start(ctx context.Context) error {
	port, err := FreePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	c.proc, err = StartProc(c.Bin, []string{"bench", "ceiling", "--listen", addr}, CleanEnv(), "", nil)
	if err != nil {
		return fmt.Errorf("starting the ceiling: %w", err)
	}
	c.httpProto = httpProto{addr: addr}
	if err := WaitTCP(ctx, c.proc, addr, 30*time.Second); err != nil {
		c.Stop()
		return err
	}
	return nil
}

func (c *Ceiling) Reset(ctx context.Context) error {
	c.Stop()
	return c.Start(ctx)
}

func (c *Ceiling) PIDs() []int {
	if c.proc == nil {
		return nil
	}
	return []int{c.proc.PID()}
}

func (c *Ceiling) Stop() error {
	if c.proc != nil {
		c.proc.Stop(5 * time.Second)
		c.proc = nil
	}
	return nil
}
