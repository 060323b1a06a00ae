package peers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/documentcloud/crowd/bench"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// River runs River (github.com/riverqueue/river, driver riverpgxv5) on a
// PostgreSQL cluster that it creates with initdb and starts with pg_ctl on
// a free port, with fsync and synchronous_commit on (PostgreSQL's
// defaults).
type River struct {
	InitDB, PgCtl string // PostgreSQL's programs

	dir      string // the cluster's folder
	data     string
	port     int
	cred     *syscall.Credential // PostgreSQL refuses to run as root
	postmain int                 // the postmaster's pid
	pool     *pgxpool.Pool
	client   *river.Client[pgx.Tx] // insert-only
}

func (r *River) Name() string    { return "river" }
func (r *River) Variant() string { return "" }
func (r *River) Durability() string {
	return "PostgreSQL with fsync and synchronous_commit on: every insert is a committed, fsynced transaction before the answer (PostgreSQL group-commits concurrent ones); completions are batched by River's completer"
}

// pgCredential is the postgres account when running as root.
func pgCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, errors.New("running as root, and there is no postgres account to run PostgreSQL as (apt-get install postgresql makes it)")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (r *River) pgCommand(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = bench.CleanEnv("LC_ALL=C", "LANG=C")
	cmd.Dir = r.dir
	if r.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred}
	}
	return cmd
}

func (r *River) Start(ctx context.Context) error {
	var err error
	if r.cred, err = pgCredential(); err != nil {
		return err
	}
	if r.dir, err = os.MkdirTemp("", "crowd-bench-pg-"); err != nil {
		return err
	}
	r.data = filepath.Join(r.dir, "data")
	if r.cred != nil {
		if err := os.Chmod(r.dir, 0o755); err != nil {
			return err
		}
		if err := os.Chown(r.dir, int(r.cred.Uid), int(r.cred.Gid)); err != nil {
			return err
		}
	}
	if out, err := r.pgCommand(ctx, r.InitDB, "-D", r.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %v: %s", err, tail(out))
	}
	if r.port, err = bench.FreePort(); err != nil {
		return err
	}
	opts := strings.Join([]string{
		"-p", strconv.Itoa(r.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + r.dir,
		"-c", "fsync=on",
		"-c", "synchronous_commit=on",
		"-c", "max_connections=400",
	}, " ")
	if out, err := r.pgCommand(ctx, r.PgCtl, "-D", r.data, "-l", filepath.Join(r.dir, "log"), "-w", "-t", "60", "-o", opts, "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(r.dir, "log"))
		return fmt.Errorf("pg_ctl start: %v: %s %s", err, tail(out), tail(log))
	}
	if pid, err := os.ReadFile(filepath.Join(r.data, "postmaster.pid")); err == nil {
		first, _, _ := strings.Cut(string(pid), "\n")
		r.postmain, _ = strconv.Atoi(strings.TrimSpace(first))
	}
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&pool_max_conns=300", r.port)
	if r.pool, err = pgxpool.New(ctx, url); err != nil {
		r.Stop()
		return err
	}
	migrator, err := rivermigrate.New(riverpgxv5.New(r.pool), nil)
	if err != nil {
		r.Stop()
		return err
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		r.Stop()
		return fmt.Errorf("river migrations: %w", err)
	}
	if r.client, err = river.NewClient(riverpgxv5.New(r.pool), &river.Config{Logger: quietSlog()}); err != nil {
		r.Stop()
		return err
	}
	return nil
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 600 {
		s = "…" + s[len(s)-600:]
	}
	return s
}

func quietSlog() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError}))
}

// Reset empties River's tables.
func (r *River) Reset(ctx context.Context) error {
	for _, q := range []string{"TRUNCATE river_job", "VACUUM ANALYZE river_job"} {
		if _, err := r.pool.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

func (r *River) PIDs() []int {
	if r.postmain == 0 {
		return nil
	}
	return []int{r.postmain} // with its backends
}

func (r *River) Stop() error {
	if r.pool != nil {
		r.pool.Close()
		r.pool = nil
	}
	if r.data != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		r.pgCommand(ctx, r.PgCtl, "-D", r.data, "-m", "fast", "-w", "stop").Run()
	}
	if r.dir != "" {
		os.RemoveAll(r.dir)
	}
	r.dir, r.data, r.postmain = "", "", 0
	return nil
}

// benchArgs is the job: one unit's input.
type benchArgs struct {
	Input string `json:"input"`
}

func (benchArgs) Kind() string { return "bench" }

type riverClient struct{ r *River }

// NewClient shares the insert-only River client (and its pool of up to
// 300 connections) between the submitting goroutines.
func (r *River) NewClient(context.Context) (bench.Client, error) { return riverClient{r}, nil }

// Submit is Insert for one input, InsertMany for more.
func (c riverClient) Submit(ctx context.Context, inputs []string) error {
	if len(inputs) == 1 {
		_, err := c.r.client.Insert(ctx, benchArgs{Input: inputs[0]}, nil)
		return err
	}
	params := make([]river.InsertManyParams, len(inputs))
	for i, in := range inputs {
		params[i] = river.InsertManyParams{Args: benchArgs{Input: in}}
	}
	_, err := c.r.client.InsertMany(ctx, params)
	return err
}

func (riverClient) Close() error { return nil }

type benchWorker struct {
	river.WorkerDefaults[benchArgs]
	handle func(string)
}

func (w *benchWorker) Work(_ context.Context, job *river.Job[benchArgs]) error {
	w.handle(job.Args.Input)
	return nil
}

// Consume starts a River client working the default queue with
// MaxWorkers = concurrency. FetchCooldown is River's minimum (1 ms, 100 ms
// by default), which lets a producer refill its free slots as fast as River
// allows; new jobs also arrive by LISTEN/NOTIFY.
func (r *River) Consume(ctx context.Context, concurrency int, handle func(string)) (func() error, error) {
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &benchWorker{handle: handle}); err != nil {
		return nil, err
	}
	c, err := river.NewClient(riverpgxv5.New(r.pool), &river.Config{
		Logger:            quietSlog(),
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: concurrency}},
		Workers:           workers,
		FetchCooldown:     time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
	})
	if err != nil {
		return nil, err
	}
	if err := c.Start(context.WithoutCancel(ctx)); err != nil {
		return nil, err
	}
	return func() error {
		stop, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return c.Stop(stop)
	}, nil
}
