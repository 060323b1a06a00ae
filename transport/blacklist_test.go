package transport

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// CloudCrowd's blacklist: GET /blacklist, POST /blacklist action=...,
// DELETE /blacklist/:action. A paused action's units are not handed out.

// pauseDoc is a paused action as the blacklist routes show it.
type pauseDoc struct {
	ID        int64  `json:"id"`
	Action    string `json:"action"`
	CreatedAt string `json:"created_at"`
}

// wantPause requires a 200 with one pause record of action, created in
// [from, to] (to the second), and returns it.
func wantPause(t testing.TB, what string, r response, action string, from, to time.Time) pauseDoc {
	t.Helper()
	var p pauseDoc
	decodeStrict(t, what, r, &p)
	if keys := topKeys(t, r.Body); strings.Join(keys, ",") != "id,action,created_at" {
		t.Fatalf("%s: keys %v, want id, action, created_at", what, keys)
	}
	at, err := time.Parse(time.RFC3339, p.CreatedAt)
	if err != nil || !strings.HasSuffix(p.CreatedAt, "Z") {
		t.Fatalf("%s: created_at %q is not RFC 3339 in UTC: %v", what, p.CreatedAt, err)
	}
	if p.ID <= 0 || p.Action != action || at.Before(from.Truncate(time.Second)) || at.After(to) {
		t.Fatalf("%s = %s, want a pause of %s created in [%s, %s]", what, r.Body, action, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}
	return p
}

func pauseJSON(p pauseDoc) string {
	b, _ := json.Marshal(p)
	return string(b)
}

func TestBlacklistPauseAndResume(t *testing.T) {
	s := startServer(t, nil)
	const gm, wc = "graphics_magick", "word_count"
	wantJSON(t, "GET /blacklist", s.do(t, "GET", "/blacklist", nil), `[]`)
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a","b"]}`) // units 1, 2
	s.mustCreate(t, `{"action":"word_count","inputs":["c"]}`)          // unit 3

	before := time.Now()
	pg := wantPause(t, "POST /blacklist action=graphics_magick", s.do(t, "POST", "/blacklist", form("action", gm)), gm, before, time.Now())
	if pg.ID != 1 {
		t.Errorf("first pause has id %d, want 1", pg.ID)
	}
	// Pausing it again answers the same pause.
	wantJSON(t, "POST /blacklist again", s.do(t, "POST", "/blacklist", form("action", gm)), pauseJSON(pg))
	wantJSON(t, "GET /blacklist", s.do(t, "GET", "/blacklist", nil), `[`+pauseJSON(pg)+`]`)

	// The paused action's units stay queued; another action's are handed out.
	wantNoContent(t, "POST /work for graphics_magick", s.take(t, "w1", gm))
	wantJSON(t, "POST /work for both", s.take(t, "w2", gm+","+wc), unitJSON(3, 2, "c", 0, wc, 1))
	s.summaryEventually(t, counts{
		Jobs:    map[string]int{"processing": 2, "succeeded": 0, "failed": 0, "splitting": 0, "merging": 0, "incomplete": 2, "total": 2},
		Units:   map[string]int{"ready": 2, "leased": 1, "waiting": 0, "incomplete": 3},
		Workers: 2, Paused: []string{gm},
	})

	// The query string works as a form field does.
	pp := wantPause(t, "POST /blacklist?action=process_pdfs", s.do(t, "POST", "/blacklist?action=process_pdfs", nil), "process_pdfs", before, time.Now())
	if pp.ID != 2 {
		t.Errorf("second pause has id %d, want 2", pp.ID)
	}
	wantJSON(t, "GET /blacklist", s.do(t, "GET", "/blacklist", nil), `[`+pauseJSON(pg)+`,`+pauseJSON(pp)+`]`)

	// Resuming answers the pause that ended; the units are handed out again,
	// oldest first.
	wantJSON(t, "DELETE /blacklist/graphics_magick", s.do(t, "DELETE", "/blacklist/"+gm, nil), pauseJSON(pg))
	wantJSON(t, "GET /blacklist", s.do(t, "GET", "/blacklist", nil), `[`+pauseJSON(pp)+`]`)
	wantJSON(t, "POST /work for graphics_magick", s.take(t, "w1", gm), unitJSON(1, 1, "a", 0, gm, 1))
	wantJSON(t, "PUT /work/1", s.report(t, 1, "w1", "succeeded", `{"output":1}`, gm), unitJSON(2, 1, "b", 0, gm, 1))

	// CloudCrowd's _method override reaches DELETE /blacklist/:action.
	wantJSON(t, "POST /blacklist/process_pdfs _method=DELETE", s.do(t, "POST", "/blacklist/process_pdfs", form("_method", "DELETE")), pauseJSON(pp))
	wantJSON(t, "GET /blacklist", s.do(t, "GET", "/blacklist", nil), `[]`)

	// A new pause of a resumed action is a new record.
	again := wantPause(t, "POST /blacklist again", s.do(t, "POST", "/blacklist", form("action", gm)), gm, before, time.Now())
	if again.ID != 3 {
		t.Errorf("third pause has id %d, want 3", again.ID)
	}
}

func TestBlacklistErrors(t *testing.T) {
	s := startServer(t, nil)
	for _, name := range []string{"", "Word_count", "word-count", "word count", "_word", "1word", "wörd", "word_count\n", "a/b"} {
		msg := wantError(t, "POST /blacklist action="+name, s.do(t, "POST", "/blacklist", form("action", name)), 400)
		if msg != "action names must be alphabetic snakecase" {
			t.Errorf("POST /blacklist action=%q: error %q", name, msg)
		}
	}
	wantError(t, "POST /blacklist without action", s.do(t, "POST", "/blacklist", nil), 400)
	wantJSON(t, "GET /blacklist", s.do(t, "GET", "/blacklist", nil), `[]`)

	wantError(t, "DELETE /blacklist/word_count (not paused)", s.do(t, "DELETE", "/blacklist/word_count", nil), 404)
	for _, name := range []string{"Word", "Not-A-Name", "word%20count", "w%C3%B6rd", "1word"} {
		msg := wantError(t, "DELETE /blacklist/"+name, s.do(t, "DELETE", "/blacklist/"+name, nil), 400)
		if msg != "action names must be alphabetic snakecase" {
			t.Errorf("DELETE /blacklist/%s: error %q", name, msg)
		}
	}
	wantError(t, "DELETE /blacklist", s.do(t, "DELETE", "/blacklist", nil), 405)
	wantError(t, "PUT /blacklist", s.do(t, "PUT", "/blacklist", form("action", "word_count")), 405)

	// Resuming twice: the second is a 404.
	wantPause(t, "POST /blacklist", s.do(t, "POST", "/blacklist", form("action", "word_count")), "word_count", time.Now().Add(-time.Second), time.Now())
	if r := s.do(t, "DELETE", "/blacklist/word_count", nil); r.Code != 200 {
		t.Fatalf("DELETE /blacklist/word_count = %d %s", r.Code, r.Body)
	}
	wantError(t, "DELETE /blacklist/word_count again", s.do(t, "DELETE", "/blacklist/word_count", nil), 404)
	// An action the catalog does not know can still be paused (its name is
	// only checked for shape).
	wantPause(t, "POST /blacklist action=not_installed", s.do(t, "POST", "/blacklist", form("action", "not_installed")),
		"not_installed", time.Now().Add(-time.Second), time.Now())
}

// A worker's report does not hand it the next unit of a paused action, be
// it a ready unit or one the report itself made (a merge unit).
func TestBlacklistHoldsBackTheNextUnitOfAReport(t *testing.T) {
	s := startServer(t, nil)
	const gm, wc = "graphics_magick", "word_count"
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a","b"]}`) // units 1, 2
	s.mustCreate(t, `{"action":"word_count","inputs":["c"]}`)          // unit 3, merge unit 4
	wantJSON(t, "POST /work", s.take(t, "w", gm), unitJSON(1, 1, "a", 0, gm, 1))
	wantJSON(t, "POST /work", s.take(t, "w2", wc), unitJSON(3, 2, "c", 0, wc, 1))
	for _, a := range []string{gm, wc} {
		if r := s.do(t, "POST", "/blacklist", form("action", a)); r.Code != 200 {
			t.Fatalf("POST /blacklist action=%s = %d %s", a, r.Code, r.Body)
		}
	}
	// The units they hold can still be reported.
	wantNoContent(t, "PUT /work/1", s.report(t, 1, "w", "succeeded", `{"output":"A"}`, gm))
	wantNoContent(t, "PUT /work/3", s.report(t, 3, "w2", "succeeded", `{"output":3}`, wc))
	wantNoContent(t, "POST /work", s.take(t, "w2", gm+","+wc))
	// Resumed, each action's next unit is handed out.
	for _, a := range []string{gm, wc} {
		if r := s.do(t, "DELETE", "/blacklist/"+a, nil); r.Code != 200 {
			t.Fatalf("DELETE /blacklist/%s = %d %s", a, r.Code, r.Body)
		}
	}
	wantJSON(t, "POST /work for word_count", s.take(t, "w2", wc), unitJSON(4, 2, "[3]", 0, wc, 5))
	wantJSON(t, "POST /work for graphics_magick", s.take(t, "w", gm), unitJSON(2, 1, "b", 0, gm, 1))
}

// stopAndRestart stops a server on a data dir and starts another on it.
func stopAndRestart(t *testing.T, w *walServer, dir string) *walServer {
	t.Helper()
	w.stop(t)
	return startWALServer(t, dir, nil)
}

// A pause is durable: it survives restarts, replayed from the log and
// restored from a snapshot, and so does its end.
func TestBlacklistSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	const gm, wc = "graphics_magick", "word_count"
	s := startWALServer(t, dir, nil)
	s.mustCreate(t, `{"action":"graphics_magick","inputs":["a"]}`) // unit 1
	s.mustCreate(t, `{"action":"word_count","inputs":["b"]}`)      // unit 2
	before := time.Now()
	pg := wantPause(t, "POST /blacklist", s.do(t, "POST", "/blacklist", form("action", gm)), gm, before, time.Now())
	list := `[` + pauseJSON(pg) + `]`

	// Replayed from the log.
	s = stopAndRestart(t, s, dir)
	wantJSON(t, "GET /blacklist after a restart", s.do(t, "GET", "/blacklist", nil), list)
	wantNoContent(t, "POST /work for graphics_magick after a restart", s.take(t, "w", gm))
	wantJSON(t, "POST /work for word_count", s.take(t, "w", gm+","+wc), unitJSON(2, 2, "b", 0, wc, 1))
	wantJSON(t, "POST /blacklist again after a restart", s.do(t, "POST", "/blacklist", form("action", gm)), pauseJSON(pg))

	// Restored from a snapshot that holds it (the log before it is gone).
	if err := s.Snap.Take(); err != nil {
		t.Fatal(err)
	}
	s = stopAndRestart(t, s, dir)
	wantJSON(t, "GET /blacklist after a snapshot and a restart", s.do(t, "GET", "/blacklist", nil), list)
	wantNoContent(t, "POST /work for graphics_magick after a snapshot and a restart", s.take(t, "w", gm))
	s.summaryEventually(t, counts{
		Jobs:    map[string]int{"processing": 2, "succeeded": 0, "failed": 0, "splitting": 0, "merging": 0, "incomplete": 2, "total": 2},
		Units:   map[string]int{"ready": 2, "leased": 0, "waiting": 0, "incomplete": 2},
		Workers: 1, Paused: []string{gm},
	})

	// Resumed after the snapshot: the log's record ends the snapshot's pause.
	wantJSON(t, "DELETE /blacklist/graphics_magick", s.do(t, "DELETE", "/blacklist/"+gm, nil), pauseJSON(pg))
	s = stopAndRestart(t, s, dir)
	wantJSON(t, "GET /blacklist after resuming and a restart", s.do(t, "GET", "/blacklist", nil), `[]`)
	wantJSON(t, "POST /work for graphics_magick", s.take(t, "w", gm), unitJSON(1, 1, "a", 0, gm, 1))

	// Paused after a snapshot, then a snapshot with the pause ended.
	if err := s.Snap.Take(); err != nil {
		t.Fatal(err)
	}
	pw := wantPause(t, "POST /blacklist word_count", s.do(t, "POST", "/blacklist", form("action", wc)), wc, before, time.Now())
	s = stopAndRestart(t, s, dir)
	wantJSON(t, "GET /blacklist", s.do(t, "GET", "/blacklist", nil), `[`+pauseJSON(pw)+`]`)
	wantNoContent(t, "POST /work for word_count", s.take(t, "w", wc))
	wantJSON(t, "DELETE /blacklist/word_count", s.do(t, "DELETE", "/blacklist/"+wc, nil), pauseJSON(pw))
	if err := s.Snap.Take(); err != nil {
		t.Fatal(err)
	}
	s = stopAndRestart(t, s, dir)
	wantJSON(t, "GET /blacklist", s.do(t, "GET", "/blacklist", nil), `[]`)
	wantJSON(t, "POST /work for word_count", s.take(t, "w", wc), unitJSON(2, 2, "b", 0, wc, 1))
}

// Pause ids stay unique across restarts, as CloudCrowd's table ids were,
// also when the newest pause was resumed before the restart.
func TestBlacklistPauseIDsUniqueAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	s := startWALServer(t, dir, nil)
	first := wantPause(t, "POST /blacklist", s.do(t, "POST", "/blacklist", form("action", "word_count")), "word_count", time.Now().Add(-time.Second), time.Now())
	if r := s.do(t, "DELETE", "/blacklist/word_count", nil); r.Code != 200 {
		t.Fatalf("DELETE /blacklist/word_count = %d %s", r.Code, r.Body)
	}
	s = stopAndRestart(t, s, dir)
	next := wantPause(t, "POST /blacklist after a restart", s.do(t, "POST", "/blacklist", form("action", "process_pdfs")), "process_pdfs", time.Now().Add(-time.Second), time.Now())
	if next.ID <= first.ID {
		t.Fatalf("the pause after a restart has id %d; id %d was given before", next.ID, first.ID)
	}
}

// Action names are at most 1024 bytes, as worker names are: a longer pause
// could never be resumed (its DELETE URL would be too long to read).
func TestBlacklistNamesBounded(t *testing.T) {
	s := startServer(t, nil)
	long := strings.Repeat("a", 1025)
	wantError(t, "POST /blacklist action=<1025 bytes>", s.do(t, "POST", "/blacklist", form("action", long)), 400)
	wantError(t, "DELETE /blacklist/<1025 bytes>", s.do(t, "DELETE", "/blacklist/"+long, nil), 400)
	wantJSON(t, "GET /blacklist", s.do(t, "GET", "/blacklist", nil), `[]`)

	longest := strings.Repeat("a", 1024)
	p := wantPause(t, "POST /blacklist action=<1024 bytes>", s.do(t, "POST", "/blacklist", form("action", longest)),
		longest, time.Now().Add(-time.Second), time.Now())
	wantJSON(t, "DELETE /blacklist/<1024 bytes>", s.do(t, "DELETE", "/blacklist/"+longest, nil), pauseJSON(p))
	wantJSON(t, "GET /blacklist", s.do(t, "GET", "/blacklist", nil), `[]`)
}
