package transport

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/documentcloud/crowd/action"
	"github.com/documentcloud/crowd/actors"
	"github.com/documentcloud/crowd/persistence"
)

// testServer is a real coordinator behind a real fasthttp server on
// 127.0.0.1, with an in-memory journal that keeps its records.
type testServer struct {
	URL     string
	Srv     *Server
	Co      *actors.Coordinator
	Journal persistence.Journal
	Catalog *action.Catalog
	client  *http.Client
	user    string
	pass    string
}

type serverConfig struct {
	settings actors.Settings
	opts     Options
	actions  string // actions_path
	forget   bool   // the memory journal keeps no records, as in production
	// durable puts the journal on a write-ahead log in a temp dir, with
	// this sync mode.
	durable *persistence.SyncMode
}

// startServer starts a coordinator and its HTTP server; edit adjusts the
// settings before start. Everything stops when the test ends.
func startServer(t testing.TB, edit func(*serverConfig)) *testServer {
	t.Helper()
	cfg := serverConfig{
		settings: actors.Settings{WorkUnitRetries: 3, RetryBackoff: 0, Logger: quietLogger()},
		opts:     Options{MaxBody: 32 << 20, Logger: quietLogger()},
	}
	if edit != nil {
		edit(&cfg)
	}
	var journal persistence.Journal = persistence.NewMemory(!cfg.forget)
	if cfg.durable != nil {
		wal, err := persistence.OpenWAL(persistence.WALOptions{Dir: t.TempDir(), Sync: *cfg.durable, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		journal = wal
	}
	co, err := actors.Start(cfg.settings, journal, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts, srv := serve(t, co, journal, cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		co.Stop(ctx)
		journal.Close()
	})
	return ts
}

// serve puts a coordinator behind an HTTP server on 127.0.0.1.
func serve(t testing.TB, co *actors.Coordinator, journal persistence.Journal, cfg serverConfig) (*testServer, *Server) {
	t.Helper()
	catalog := action.NewCatalog(cfg.actions)
	cfg.opts.Coordinator, cfg.opts.Catalog = co, catalog
	srv := New(cfg.opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	return &testServer{
		URL: "http://" + ln.Addr().String(), Srv: srv, Co: co, Journal: journal, Catalog: catalog,
		client: &http.Client{Timeout: 30 * time.Second},
		user:   cfg.opts.Login, pass: cfg.opts.Password,
	}, srv
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// response is what a test reads back.
type response struct {
	Code   int
	Header http.Header
	Body   string
}

// do sends a request; form (may be nil) goes form-encoded in the body.
func (s *testServer) do(t testing.TB, method, path string, form url.Values) response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if s.user != "" {
		req.SetBasicAuth(s.user, s.pass)
	}
	return s.send(t, req)
}

func (s *testServer) send(t testing.TB, req *http.Request) response {
	t.Helper()
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Code: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// form builds url.Values from key, value pairs.
func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}
