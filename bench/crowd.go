package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Crowd runs crowd's coordinator (`crowd server`) as a child process, with
// a fresh data folder for every run; with Nodes 3, a cluster of three
// `crowd server` processes on this machine, measured through its leader.
type Crowd struct {
	Bin   string // the crowd program
	Fsync string // "group" or "interval"
	Nodes int    // 0 or 1: one coordinator; 3: a cluster (its raft log fsyncs every batch)
	Dir   string // a scratch folder for the data folders

	procs []*Proc
	runs  int
	httpProto
}

func (c *Crowd) Name() string {
	if c.Nodes > 1 {
		return "crowd cluster"
	}
	return "crowd"
}

func (c *Crowd) Variant() string {
	if c.Nodes > 1 {
		return strconv.Itoa(c.Nodes) + " nodes"
	}
	return c.Fsync
}

func (c *Crowd) Durability() string {
	if c.Nodes > 1 {
		return "raft: each entry fsynced on a majority of the nodes before the answer (batched): an acknowledged job or report survives the loss of a machine"
	}
	switch c.Fsync {
	case "group":
		return "journal fsynced before every answer (group commit): an acknowledged job or report survives a crash or power loss"
	case "interval":
		return "journal written before the answer, fsynced every 50 ms: a crash of the process loses nothing, a power loss up to 50 ms"
	default:
		return "journal never fsynced: the OS decides"
	}
}

func (c *Crowd) runDir() string {
	kind := c.Fsync
	if c.Nodes > 1 {
		kind = "cluster"
	}
	return filepath.Join(c.Dir, "crowd-"+kind+"-"+strconv.Itoa(c.runs))
}

func (c *Crowd) Start(ctx context.Context) error {
	c.runs++
	run := c.runDir()
	if err := os.MkdirAll(run, 0o755); err != nil {
		return err
	}
	env := CleanEnv(
		"CROWD_LOCAL_STORAGE_PATH="+filepath.Join(run, "storage"),
		"CROWD_TEMP_STORAGE_PATH="+filepath.Join(run, "tmp"),
	)
	if c.Nodes <= 1 {
		port, err := FreePort()
		if err != nil {
			return err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		p, err := StartProc(c.Bin, []string{"server", "--listen", addr,
			"--data-dir", filepath.Join(run, "data"), "--fsync", c.Fsync}, env, run, nil)
		if err != nil {
			return fmt.Errorf("starting crowd: %w", err)
		}
		c.procs, c.httpProto = []*Proc{p}, httpProto{addr: addr}
		if err := WaitTCP(ctx, p, addr, 30*time.Second); err != nil {
			c.Stop()
			return err
		}
		return nil
	}
	return c.startCluster(ctx, run, env)
}

// startCluster starts the nodes (each API on a free port whose next port,
// raft's, is free too) and waits until the leader's coordinator answers.
func (c *Crowd) startCluster(ctx context.Context, run string, env []string) error {
	var addrs, peers []string
	for len(addrs) < c.Nodes {
		port, err := FreePort()
		if err != nil {
			return err
		}
		if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+1)); err == nil {
			ln.Close()
			addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(port))
			peers = append(peers, fmt.Sprintf("n%d=%s", len(peers), addrs[len(addrs)-1]))
		}
	}
	for i, addr := range addrs {
		args := []string{"server", "--listen", addr, "--data-dir", filepath.Join(run, fmt.Sprint("data", i)),
			"--cluster-id", fmt.Sprint("n", i), "--cluster-peers", strings.Join(peers, ",")}
		if i == 0 {
			args = append(args, "--cluster-bootstrap")
		}
		p, err := StartProc(c.Bin, args, env, run, nil)
		if err != nil {
			c.Stop()
			return fmt.Errorf("starting crowd node %d: %w", i, err)
		}
		c.procs = append(c.procs, p)
	}
	deadline := time.Now().Add(30 * time.Second)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		for _, addr := range addrs {
			resp, err := http.Get("http://" + addr + "/cluster")
			if err != nil {
				continue
			}
			var v struct{ Role string }
			err = json.NewDecoder(resp.Body).Decode(&v)
			resp.Body.Close()
			if err != nil || v.Role != "leader" {
				continue
			}
			if resp, err := http.Get("http://" + addr + "/status"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					c.httpProto = httpProto{addr: addr} // the leader: no forwarding hop
					return nil
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.Stop()
	return errors.New("the crowd cluster elected no leader within 30 s")
}

// Reset starts a new coordinator on an empty data folder.
func (c *Crowd) Reset(ctx context.Context) error {
	c.Stop()
	return c.Start(ctx)
}

func (c *Crowd) PIDs() []int {
	var pids []int
	for _, p := range c.procs {
		pids = append(pids, p.PID())
	}
	return pids
}

func (c *Crowd) Stop() error {
	if c.procs == nil {
		return nil
	}
	for _, p := range c.procs {
		p.Stop(10 * time.Second)
	}
	c.procs = nil
	// The data folders of finished runs are not needed: keep the disk free.
	os.RemoveAll(c.runDir())
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
