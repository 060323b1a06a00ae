package peers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/documentcloud/crowd/bench"
	"github.com/hibiken/asynq"
)

// Asynq runs a redis-server with one persistence setting, and asynq's
// client and server library against it.
type Asynq struct {
	RedisBin string
	Dir      string
	AOF      bool // appendonly yes, appendfsync everysec; else no persistence

	proc *bench.Proc
	addr string
	runs int
}

func (a *Asynq) Name() string { return "asynq" }

func (a *Asynq) Variant() string {
	if a.AOF {
		return "AOF everysec"
	}
	return "no persistence"
}

func (a *Asynq) Durability() string {
	if a.AOF {
		return "Redis AOF, appendfsync everysec: written before the answer, fsynced once a second; a power loss loses up to about 1 s (2 s if an fsync is slow)"
	}
	return "none: Redis with no RDB and no AOF, a restart loses every task"
}

func (a *Asynq) runDir() string {
	return filepath.Join(a.Dir, "redis-"+strconv.FormatBool(a.AOF)+"-"+strconv.Itoa(a.runs))
}

func (a *Asynq) Start(ctx context.Context) error {
	port, err := bench.FreePort()
	if err != nil {
		return err
	}
	a.runs++
	if err := os.MkdirAll(a.runDir(), 0o755); err != nil {
		return err
	}
	a.addr = "127.0.0.1:" + strconv.Itoa(port)
	a.proc, err = startRedis(a.RedisBin, port, a.runDir(), a.AOF)
	if err != nil {
		return err
	}
	return bench.WaitTCP(ctx, a.proc, a.addr, 10*time.Second)
}

// startRedis starts redis-server on 127.0.0.1:port, with the data in dir.
func startRedis(bin string, port int, dir string, aof bool) (*bench.Proc, error) {
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--daemonize", "no", "--logfile", "", "--protected-mode", "yes"}
	if aof {
		args = append(args, "--appendonly", "yes", "--appendfsync", "everysec")
	} else {
		args = append(args, "--appendonly", "no")
	}
	return bench.StartProc(bin, args, bench.CleanEnv(), dir, nil)
}

func (a *Asynq) Reset(ctx context.Context) error {
	a.Stop()
	return a.Start(ctx)
}

func (a *Asynq) PIDs() []int {
	if a.proc == nil {
		return nil
	}
	return []int{a.proc.PID()}
}

func (a *Asynq) Stop() error {
	if a.proc != nil {
		a.proc.Stop(5 * time.Second)
		a.proc = nil
		os.RemoveAll(a.runDir())
	}
	return nil
}

const asynqTask = "bench"

type asynqClient struct{ c *asynq.Client }

// NewClient is an asynq.Client with a pool of one connection.
func (a *Asynq) NewClient(context.Context) (bench.Client, error) {
	return &asynqClient{asynq.NewClient(asynq.RedisClientOpt{Addr: a.addr, PoolSize: 1})}, nil
}

// Submit enqueues one task per input, one after the other: asynq's
// released API has no batch enqueue.
func (c *asynqClient) Submit(ctx context.Context, inputs []string) error {
	for _, in := range inputs {
		if _, err := c.c.EnqueueContext(ctx, asynq.NewTask(asynqTask, []byte(in)), asynq.MaxRetry(0)); err != nil {
			return err
		}
	}
	return nil
}

func (c *asynqClient) Close() error { return c.c.Close() }

// Consume runs an asynq.Server with the given concurrency.
func (a *Asynq) Consume(_ context.Context, concurrency int, handle func(string)) (func() error, error) {
	srv := asynq.NewServer(asynq.RedisClientOpt{Addr: a.addr, PoolSize: concurrency + 10}, asynq.Config{
		Concurrency:       concurrency,
		Queues:            map[string]int{"default": 1},
		TaskCheckInterval: 10 * time.Millisecond, // 1 s by default: too slow for a steady state
		ShutdownTimeout:   5 * time.Second,
		LogLevel:          asynq.FatalLevel,
		Logger:            quietLogger{},
	})
	err := srv.Start(asynq.HandlerFunc(func(_ context.Context, t *asynq.Task) error {
		handle(string(t.Payload()))
		return nil
	}))
	if err != nil {
		return nil, fmt.Errorf("asynq server: %w", err)
	}
	return func() error { srv.Shutdown(); return nil }, nil
}

type quietLogger struct{}

func (quietLogger) Debug(...any) {}
func (quietLogger) Info(...any)  {}
func (quietLogger) Warn(...any)  {}
func (quietLogger) Error(...any) {}
func (quietLogger) Fatal(args ...any) {
	fmt.Fprintln(os.Stderr, append([]any{"asynq:"}, args...)...)
	os.Exit(1)
}
