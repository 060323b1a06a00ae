package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/documentcloud/crowd/actors"
	"github.com/documentcloud/crowd/persistence"
)

// Helpers of the console, blacklist and metrics tests.

// offsetClock is the real clock moved forward by an offset the test sets: a
// test can let an hour of retry_backoff pass at once, while the clock still
// advances between the coordinator's samples.
type offsetClock struct{ off atomic.Int64 }

func (c *offsetClock) Now() time.Time { return time.Now().Add(time.Duration(c.off.Load())) }

func (c *offsetClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// decodeStrict requires a 200 JSON answer and decodes it into v, refusing
// keys v does not know.
func decodeStrict(t testing.TB, what string, r response, v any) {
	t.Helper()
	if r.Code != 200 {
		t.Fatalf("%s = %d %s, want 200", what, r.Code, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != jsonType {
		t.Errorf("%s: Content-Type %q, want %q", what, ct, jsonType)
	}
	d := json.NewDecoder(bytes.NewReader([]byte(r.Body)))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		t.Fatalf("%s: cannot decode %s: %v", what, r.Body, err)
	}
}

// maskNumber checks every value of key in a JSON document is a number in
// [lo, hi] and replaces it with mask, so that the rest can be compared
// exactly.
func maskNumber(t testing.TB, body, key string, lo, hi float64, mask string) string {
	t.Helper()
	re := regexp.MustCompile(`"` + regexp.QuoteMeta(key) + `":([^,}\]]*)`)
	return re.ReplaceAllStringFunc(body, func(m string) string {
		v := m[len(key)+3:]
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < lo || f > hi {
			t.Errorf("%s is %s, want a number in [%f, %f]", key, v, lo, hi)
		}
		return `"` + key + `":` + mask
	})
}

// maskCreatedAt checks every created_at (Unix seconds) of a document lies
// in [from, to], give or take a second, and replaces it with C.
func maskCreatedAt(t testing.TB, body string, from, to time.Time) string {
	t.Helper()
	return maskNumber(t, body, "created_at", unix(from)-1, unix(to)+1, "C")
}

// unix is t in Unix seconds.
func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// walServer is a coordinator and its HTTP server on a real write-ahead log
// in a directory, which a test can stop and start again on the same
// directory. With cfg.opts.Metrics set, the log's hooks feed it and it
// watches the coordinator, as cmd/crowd wires them.
type walServer struct {
	*testServer
	WAL  *persistence.WAL
	Snap *actors.Snapshotter
	srv  *Server
	done bool
}

func startWALServer(t testing.TB, dir string, edit func(*serverConfig)) *walServer {
	t.Helper()
	cfg := serverConfig{
		settings: actors.Settings{WorkUnitRetries: 3, Logger: quietLogger()},
		opts:     Options{MaxBody: 32 << 20, Logger: quietLogger()},
	}
	if edit != nil {
		edit(&cfg)
	}
	wo := persistence.WALOptions{Dir: dir, Sync: persistence.SyncGroup, Logger: quietLogger()}
	if m := cfg.opts.Metrics; m != nil {
		wo.OnSync, wo.OnBatch = m.ObserveSync, m.ObserveBatch
	}
	wal, err := persistence.OpenWAL(wo)
	if err != nil {
		t.Fatal(err)
	}
	state, gen, err := actors.Load(dir, wal)
	if err != nil {
		wal.Close()
		t.Fatal(err)
	}
	co, err := actors.Start(cfg.settings, wal, state)
	if err != nil {
		wal.Close()
		t.Fatal(err)
	}
	if m := cfg.opts.Metrics; m != nil {
		m.Watch(co)
	}
	snap := &actors.Snapshotter{Coordinator: co, Log: wal, Dir: dir, Logger: quietLogger()}
	snap.SetGeneration(gen)
	ts, srv := serve(t, co, wal, cfg)
	w := &walServer{
		testServer: ts,
		WAL:        wal, Snap: snap, srv: srv,
	}
	t.Cleanup(func() { w.stop(t) })
	return w
}

// stop shuts the server, the coordinator and the log down, in that order
// (as cmd/crowd does); a second call does nothing.
func (w *walServer) stop(t testing.TB) {
	t.Helper()
	if w.done {
		return
	}
	w.done = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.srv.Shutdown(ctx); err != nil {
		t.Error(err)
	}
	if err := w.Co.Stop(ctx); err != nil {
		t.Error(err)
	}
	if err := w.WAL.Close(); err != nil {
		t.Error(err)
	}
}
