package peers

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/documentcloud/crowd/bench"
)

// Beanstalkd runs beanstalkd with one binlog setting and speaks its text
// protocol by hand: a job is put, then reserved and deleted.
type Beanstalkd struct {
	Bin  string
	Dir  string // scratch folder for the binlog
	Sync string // "none" (no binlog), "50" (-b DIR -f 50) or "0" (-b DIR -f 0)

	proc *bench.Proc
	addr string
	runs int
}

func (b *Beanstalkd) Name() string { return "beanstalkd" }

func (b *Beanstalkd) Variant() string {
	if b.Sync == "none" {
		return "no binlog"
	}
	return "-f " + b.Sync
}

func (b *Beanstalkd) Durability() string {
	switch b.Sync {
	case "none":
		return "none: memory only, a restart loses every job"
	case "0":
		return "binlog fsynced after every write, before the answer"
	default:
		return "binlog written before the answer, fsynced at most every " + b.Sync + " ms after it: the answer does not wait for the fsync, a power loss loses up to " + b.Sync + " ms"
	}
}

func (b *Beanstalkd) Start(ctx context.Context) error {
	port, err := bench.FreePort()
	if err != nil {
		return err
	}
	b.addr = "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(port)}
	if b.Sync != "none" {
		b.runs++
		dir := filepath.Join(b.Dir, fmt.Sprintf("beanstalkd-f%s-%d", b.Sync, b.runs))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		args = append(args, "-b", dir, "-f", b.Sync)
	}
	if b.proc, err = bench.StartProc(b.Bin, args, bench.CleanEnv(), "", nil); err != nil {
		return err
	}
	return bench.WaitTCP(ctx, b.proc, b.addr, 10*time.Second)
}

func (b *Beanstalkd) Reset(ctx context.Context) error {
	b.Stop()
	return b.Start(ctx)
}

func (b *Beanstalkd) PIDs() []int {
	if b.proc == nil {
		return nil
	}
	return []int{b.proc.PID()}
}

func (b *Beanstalkd) Stop() error {
	if b.proc != nil {
		b.proc.Stop(5 * time.Second)
		b.proc = nil
		if b.Sync != "none" {
			os.RemoveAll(filepath.Join(b.Dir, fmt.Sprintf("beanstalkd-f%s-%d", b.Sync, b.runs)))
		}
	}
	return nil
}

type beanConn struct {
	c       net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	holding uint64
	timeout int // reserve-with-timeout seconds
}

func (b *Beanstalkd) dial() (*beanConn, error) {
	c, err := net.Dial("tcp", b.addr)
	if err != nil {
		return nil, err
	}
	return &beanConn{c: c, r: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 64<<10)}, nil
}

func (b *Beanstalkd) NewClient(context.Context) (bench.Client, error) { return b.dial() }

func (b *Beanstalkd) NewWorker(_ context.Context, _ int, blocking bool) (bench.Worker, error) {
	c, err := b.dial()
	if err != nil {
		return nil, err
	}
	if blocking {
		c.timeout = 1
	}
	return c, nil
}

// Submit puts one job per input, pipelined: all the puts are written, then
// all the answers read.
func (c *beanConn) Submit(_ context.Context, inputs []string) error {
	for _, in := range inputs {
		fmt.Fprintf(c.w, "put 0 0 60 %d\r\n%s\r\n", len(in), in)
	}
	if err := c.w.Flush(); err != nil {
		return err
	}
	for range inputs {
		line, err := c.line()
		if err != nil {
			return err
		}
		if !strings.HasPrefix(line, "INSERTED ") {
			return fmt.Errorf("put: %s", line)
		}
	}
	return nil
}

// Next deletes the job held and reserves the next, in one write.
func (c *beanConn) Next(_ context.Context, fetch bool) (string, bool, error) {
	deleting := c.holding != 0
	if deleting {
		fmt.Fprintf(c.w, "delete %d\r\n", c.holding)
		c.holding = 0
	}
	if fetch {
		fmt.Fprintf(c.w, "reserve-with-timeout %d\r\n", c.timeout)
	}
	if !deleting && !fetch {
		return "", false, nil
	}
	if err := c.w.Flush(); err != nil {
		return "", false, err
	}
	if deleting {
		line, err := c.line()
		if err != nil {
			return "", false, err
		}
		if line != "DELETED" {
			return "", false, fmt.Errorf("delete: %s", line)
		}
	}
	if !fetch {
		return "", false, nil
	}
	line, err := c.line()
	if err != nil {
		return "", false, err
	}
	switch {
	case line == "TIMED_OUT" || line == "DEADLINE_SOON":
		return "", false, nil
	case strings.HasPrefix(line, "RESERVED "):
		f := strings.Fields(line)
		if len(f) != 3 {
			return "", false, fmt.Errorf("reserve: %s", line)
		}
		id, err1 := strconv.ParseUint(f[1], 10, 64)
		n, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil {
			return "", false, fmt.Errorf("reserve: %s", line)
		}
		body := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, body); err != nil {
			return "", false, err
		}
		c.holding = id
		return string(body[:n]), true, nil
	default:
		return "", false, fmt.Errorf("reserve: %s", line)
	}
}

func (c *beanConn) line() (string, error) {
	s, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimRight(s, "\r\n"), nil
}

func (c *beanConn) Close() error { return c.c.Close() }
