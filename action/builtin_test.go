package action

import (
	"bytes"
	"context"
	"fmt"
	"github.com/documentcloud/crowd/action/pdftest"
	"image/png"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestWordCount(t *testing.T) {
	c := NewCatalog("")
	s := newTestStore(t)
	var n int
	run(t, c, "word_count", PhaseProcess, s.unit(t, " the quick\tbrown\n\nfox  ", nil), &n)
	if n != 4 {
		t.Fatalf("words of the text = %d, want 4", n)
	}

	u := s.unit(t, "file:///somewhere/words.txt", nil)
	long := strings.Repeat("x", 200_000) // longer than bufio.Scanner's token limit
	u.InputPath = writeFileT(t, u.WorkDir, "words.txt", strings.Repeat("one two\nthree ", 1000)+long+" é ü\n", 0o644)
	run(t, c, "word_count", PhaseProcess, u, &n)
	if n != 3003 {
		t.Fatalf("words of the file = %d, want 3003", n)
	}

	raw, err := c.Run(context.Background(), "word_count", PhaseMerge, s.unit(t, ParseInput("[1,2,39]"), nil))
	if err != nil || string(raw) != "42" {
		t.Fatalf("merge = %s, %v; want 42", raw, err)
	}
	for _, input := range []any{ParseInput(`[1,"2"]`), "7", ParseInput(`{"a":1}`)} {
		if _, err := c.Run(context.Background(), "word_count", PhaseMerge, s.unit(t, input, nil)); err == nil {
			t.Errorf("merge of %#v: no error", input)
		}
	}
	if _, err := c.Run(context.Background(), "word_count", PhaseProcess, s.unit(t, ParseInput("[1]"), nil)); err == nil {
		t.Error("process of an array: no error")
	}
}

// identify returns gm's "<width>x<height> <format>" of an image.
func identify(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("gm", "identify", "-format", "%wx%h %m", path).CombinedOutput()
	if err != nil {
		t.Fatalf("gm identify %s: %v: %s", path, err, out)
	}
	return strings.TrimSpace(string(out))
}

func TestGraphicsMagick(t *testing.T) {
	needTools(t, "gm")
	t.Parallel()
	c := NewCatalog("")
	s := newTestStore(t)
	opts := ParseInput(`{"steps": [
		{"name": "small", "command": "convert", "options": "-resize 32x32", "extension": "png"},
		{"name": "gray", "command": "convert", "options": " -colorspace  GRAY -resize 50% ", "extension": "jpg", "input": "small"},
		{"name": "wide", "command": "convert", "options": "-resize 128x32!", "extension": "gif"}
	]}`).(map[string]any)
	u := s.unit(t, "file:///images/in.png", opts)
	u.InputPath = filepath.Join(u.WorkDir, "in.png")
	if out, err := exec.Command("gm", "convert", "-size", "64x64", "xc:red", u.InputPath).CombinedOutput(); err != nil {
		t.Fatalf("making the image: %v: %s", err, out)
	}
	var urls map[string]string
	run(t, c, "graphics_magick", PhaseProcess, u, &urls)
	want := map[string]string{"small": "32x32 PNG", "gray": "16x16 JPEG", "wide": "128x32 GIF"}
	if len(urls) != len(want) {
		t.Fatalf("outputs = %v, want steps %v", urls, want)
	}
	for name, w := range want {
		p := localPath(t, urls[name])
		if base := filepath.Base(p); !strings.HasPrefix(base, "in_"+name+".") {
			t.Errorf("step %s saved %s, want in_%s.<ext>", name, base, name)
		}
		if got := identify(t, p); got != w {
			t.Errorf("step %s: %s, want %s", name, got, w)
		}
	}

	for _, steps := range []string{
		`[]`,
		`[{"name": "a", "command": "convert", "options": "", "extension": "png", "input": "b"},
		  {"name": "b", "command": "convert", "options": "", "extension": "png"}]`,
		`[{"name": "../up", "command": "convert", "options": "", "extension": "png"}]`,
		`[{"name": "bad", "command": "convert", "options": "-no-such-option", "extension": "png"}]`,
	} {
		bad := s.unit(t, "x", map[string]any{"steps": ParseInput(steps)})
		bad.InputPath = u.InputPath
		if _, err := c.Run(context.Background(), "graphics_magick", PhaseProcess, bad); err == nil {
			t.Errorf("steps %s: no error", steps)
		} else if strings.Contains(steps, "no-such") && !strings.Contains(err.Error(), "no-such-option") {
			t.Errorf("a failing gm: %v, want gm's message", err)
		}
	}
}

func names(files map[string][]byte) []string {
	var out []string
	for name := range files {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

func TestProcessPDFs(t *testing.T) {
	needTools(t, "gm", "gs", "pdfseparate", "pdftotext")
	t.Parallel()
	c := NewCatalog("")
	s := newTestStore(t)
	opts := map[string]any{"batch_size": 2.0}
	texts := []string{"Page one text", "Page two text", "Page three text"}

	u := s.unit(t, "file:///docs/report.pdf", opts)
	u.InputPath = writeFileT(t, u.WorkDir, "report.pdf", string(pdftest.PDF(texts)), 0o644)
	var batches []string
	run(t, c, "process_pdfs", PhaseSplit, u, &batches)
	if len(batches) != 2 {
		t.Fatalf("split gave %v, want 2 batches", batches)
	}
	for i, want := range [][]string{{"report_00001.pdf", "report_00002.pdf"}, {"report_00003.pdf"}} {
		p := localPath(t, batches[i])
		if base := filepath.Base(p); base != fmt.Sprintf("%05d.tar", i) {
			t.Errorf("batch %d is %s", i, base)
		}
		if got := names(pdftest.ReadTar(t, p)); !reflect.DeepEqual(got, want) {
			t.Errorf("batch %d holds %v, want %v", i, got, want)
		}
	}

	// The first batch comes downloaded, as a worker does for a URL input;
	// the second the action downloads itself.
	var processed []any
	for i, batch := range batches {
		u := s.unit(t, batch, opts)
		if i == 0 {
			u.InputPath = filepath.Join(u.WorkDir, "00000.tar")
			if err := s.download(context.Background(), batch, u.InputPath); err != nil {
				t.Fatal(err)
			}
		}
		var out string
		run(t, c, "process_pdfs", PhaseProcess, u, &out)
		if base := filepath.Base(localPath(t, out)); base != fmt.Sprintf("report_%05d.tar", i) {
			t.Errorf("batch %d processed into %s", i, base)
		}
		processed = append(processed, out)
	}
	if got, want := names(pdftest.ReadTar(t, localPath(t, processed[1].(string)))), []string{"report_00003.txt", "report_00003_normal.png"}; !reflect.DeepEqual(got, want) {
		t.Errorf("processed batch 1 holds %v, want %v", got, want)
	}

	var merged string
	processed[0], processed[1] = processed[1], processed[0] // merge inputs come in any order
	run(t, c, "process_pdfs", PhaseMerge, s.unit(t, processed, opts), &merged)
	if base := filepath.Base(localPath(t, merged)); base != "processed_pdfs.tar" {
		t.Errorf("merge saved %s", base)
	}
	files := pdftest.ReadTar(t, localPath(t, merged))
	want := []string{
		"report/images/normal/report_00001.png", "report/images/normal/report_00002.png", "report/images/normal/report_00003.png",
		"report/text/full/report.txt",
		"report/text/pages/report_00001.txt", "report/text/pages/report_00002.txt", "report/text/pages/report_00003.txt",
	}
	if got := names(files); !reflect.DeepEqual(got, want) {
		t.Fatalf("processed_pdfs.tar holds\n%v\nwant\n%v", got, want)
	}
	full := string(files["report/text/full/report.txt"])
	last := -1
	for i, text := range texts {
		page := string(files[fmt.Sprintf("report/text/pages/report_%05d.txt", i+1)])
		if strings.TrimSpace(page) != text {
			t.Errorf("page %d text = %q, want %q", i+1, page, text)
		}
		at := strings.Index(full, text)
		if at <= last {
			t.Fatalf("full text %q does not hold %q after the previous page", full, text)
		}
		last = at
		img, err := png.DecodeConfig(bytes.NewReader(files[fmt.Sprintf("report/images/normal/report_%05d.png", i+1)]))
		if err != nil || img.Width != 700 {
			t.Errorf("page %d image: %+v, %v; want a PNG 700 wide", i+1, img, err)
		}
	}

	bad := s.unit(t, batches[0], map[string]any{"images": ParseInput(`[{"name": "big_thumb", "options": "", "extension": "png"}]`)})
	if _, err := c.Run(context.Background(), "process_pdfs", PhaseProcess, bad); err == nil || !strings.Contains(err.Error(), "bad image") {
		t.Errorf("an image name with _: %v, want an error", err)
	}
	notPDF := s.unit(t, "file:///x.pdf", opts)
	notPDF.InputPath = writeFileT(t, notPDF.WorkDir, "x.pdf", "not a pdf", 0o644)
	if _, err := c.Run(context.Background(), "process_pdfs", PhaseSplit, notPDF); err == nil || !strings.Contains(err.Error(), "pdfseparate") {
		t.Errorf("splitting a file that is not a PDF: %v, want pdfseparate's error", err)
	}
}
