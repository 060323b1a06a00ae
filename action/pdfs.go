package action

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// processPDFs is CloudCrowd's process_pdfs. Split bursts a PDF into pages
// and packs them, options.batch_size at a time, into tar files; process
// renders each page of a batch as images (options.images) and extracts its
// text; merge lays every batch's files out per document in one tar file.
//
// File names carry the structure, as in CloudCrowd: a page is
// <doc>_<page>.pdf (page numbers of five digits or more), its text
// <doc>_<page>.txt and its images <doc>_<page>_<image name>.<extension>.
// Image names may not hold "_", so these names parse from the right
// whatever the document's name.
//
// Tools: pdfseparate and pdftotext (poppler-utils), and gm (GraphicsMagick),
// which reads PDFs through ghostscript (gs); gm renders the page PDF itself,
// so options such as -density act as in CloudCrowd.
type processPDFs struct{}

// pdfImage is one entry of options.images.
type pdfImage struct {
	Name      string `json:"name"`
	Options   string `json:"options"` // split on whitespace, no shell
	Extension string `json:"extension"`
}

var defaultPDFImages = []pdfImage{{Name: "normal", Options: "-resize 700x", Extension: "png"}}

const defaultBatchSize = 10

var (
	pageStem  = regexp.MustCompile(`^(.+)_([0-9]{5,})$`)                 // doc, page
	imageStem = regexp.MustCompile(`^(.+)_([0-9]{5,})_([A-Za-z0-9-]+)$`) // doc, page, image name
)

func (processPDFs) Split(ctx context.Context, u *Unit) ([]any, error) {
	if u.InputPath == "" {
		return nil, errors.New("process_pdfs: the input must be the URL of a PDF")
	}
	size := defaultBatchSize
	if err := optionAs(u.Options, "batch_size", &size); err != nil || size < 1 {
		return nil, fmt.Errorf("process_pdfs: options.batch_size must be a positive integer (%v)", err)
	}
	doc := docName(u.InputPath)
	in, err := filepath.Abs(u.InputPath)
	if err != nil {
		return nil, err
	}
	// pdfseparate runs in a directory of its own with a relative pattern, so
	// that no "%" in the work directory's path can reach the pattern.
	dir := filepath.Join(u.WorkDir, "pages")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	if err := runTool(ctx, dir, "pdfseparate", in, "p%d.pdf"); err != nil {
		return nil, fmt.Errorf("process_pdfs: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	pages := make([]int, 0, len(ents))
	for _, e := range ents {
		if n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(e.Name(), "p"), ".pdf")); err == nil {
			pages = append(pages, n)
		}
	}
	sort.Ints(pages)

	urls := []any{}
	for b := 0; b*size < len(pages); b++ {
		var files []tarFile
		for _, n := range pages[b*size : min((b+1)*size, len(pages))] {
			files = append(files, tarFile{
				name: fmt.Sprintf("%s_%05d.pdf", doc, n),
				path: filepath.Join(dir, "p"+strconv.Itoa(n)+".pdf"),
			})
		}
		batch := filepath.Join(u.WorkDir, fmt.Sprintf("%05d.tar", b))
		if err := writeTar(batch, files); err != nil {
			return nil, fmt.Errorf("process_pdfs: %w", err)
		}
		url, err := u.save(ctx, batch)
		if err != nil {
			return nil, fmt.Errorf("process_pdfs: saving batch %d: %w", b, err)
		}
		urls = append(urls, url)
	}
	return urls, nil
}

func (processPDFs) Process(ctx context.Context, u *Unit) (any, error) {
	images := defaultPDFImages // only read: decoding into it would overwrite it
	if _, set := u.Options["images"]; set {
		images = nil
		if err := optionAs(u.Options, "images", &images); err != nil || len(images) == 0 {
			return nil, fmt.Errorf("process_pdfs: options.images must be a non-empty array of {name, options, extension} (%v)", err)
		}
	}
	for _, img := range images {
		if !safeName(img.Name) || strings.Contains(img.Name, "_") || !safeName(img.Extension) {
			return nil, fmt.Errorf("process_pdfs: bad image %+v: name must be letters, digits or -, extension letters, digits, _ or -", img)
		}
	}
	batch, err := localInput(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("process_pdfs: %w", err)
	}
	in, out := filepath.Join(u.WorkDir, "in"), filepath.Join(u.WorkDir, "out")
	names, err := untar(batch, in)
	if err == nil {
		err = os.Mkdir(out, 0o755)
	}
	if err != nil {
		return nil, fmt.Errorf("process_pdfs: %w", err)
	}
	doc := ""
	var files []tarFile
	for _, name := range names {
		stem := strings.TrimSuffix(name, ".pdf")
		m := pageStem.FindStringSubmatch(stem)
		if m == nil || stem == name {
			return nil, fmt.Errorf("process_pdfs: %q in the batch is not a page <doc>_<page>.pdf", name)
		}
		doc = m[1]
		pdf := filepath.Join(in, name)
		for _, img := range images {
			file := stem + "_" + img.Name + "." + img.Extension
			args := append(append([]string{"convert"}, strings.Fields(img.Options)...), pdf, filepath.Join(out, file))
			if err := runTool(ctx, "", "gm", args...); err != nil {
				return nil, fmt.Errorf("process_pdfs: %w", err)
			}
			files = append(files, tarFile{name: file, path: filepath.Join(out, file)})
		}
		txt := filepath.Join(out, stem+".txt")
		if err := runTool(ctx, "", "pdftotext", "-enc", "UTF-8", "-layout", "-q", pdf, txt); err != nil {
			return nil, fmt.Errorf("process_pdfs: %w", err)
		}
		files = append(files, tarFile{name: stem + ".txt", path: txt})
	}
	if doc == "" {
		return nil, errors.New("process_pdfs: the batch holds no pages")
	}
	result := filepath.Join(u.WorkDir, doc+"_"+fileName(batch)+".tar")
	if err := writeTar(result, files); err != nil {
		return nil, fmt.Errorf("process_pdfs: %w", err)
	}
	return u.save(ctx, result)
}

func (processPDFs) Merge(ctx context.Context, u *Unit) (any, error) {
	urls, ok := u.Input.([]any)
	if !ok {
		return nil, fmt.Errorf("process_pdfs merge: the input is %T, want an array of URLs", u.Input)
	}
	dir := filepath.Join(u.WorkDir, "batches")
	for i, x := range urls {
		url, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("process_pdfs merge: %v (%T) is not a URL", x, x)
		}
		batch := filepath.Join(u.WorkDir, fmt.Sprintf("batch_%d.tar", i)) // URLs' base names may repeat
		if err := u.download(ctx, url, batch); err != nil {
			return nil, fmt.Errorf("process_pdfs merge: %w", err)
		}
		if _, err := untar(batch, dir); err != nil {
			return nil, fmt.Errorf("process_pdfs merge: %s: %w", url, err)
		}
		if err := os.Remove(batch); err != nil {
			return nil, err
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) { // no batches: an empty tar
		return nil, err
	}
	type pageText struct {
		page int
		path string
	}
	texts := map[string][]pageText{} // by document
	var files []tarFile
	for _, e := range ents {
		name, src := e.Name(), filepath.Join(dir, e.Name())
		ext := filepath.Ext(name)
		stem := strings.TrimSuffix(name, ext)
		if m := pageStem.FindStringSubmatch(stem); m != nil && ext == ".txt" {
			n, _ := strconv.Atoi(m[2])
			texts[m[1]] = append(texts[m[1]], pageText{n, src})
			files = append(files, tarFile{name: path.Join(m[1], "text/pages", name), path: src})
		} else if m := imageStem.FindStringSubmatch(stem); m != nil {
			files = append(files, tarFile{name: path.Join(m[1], "images", m[3], m[1]+"_"+m[2]+ext), path: src})
		} else {
			return nil, fmt.Errorf("process_pdfs merge: unexpected file %q in a batch", name)
		}
	}
	for doc, pages := range texts {
		sort.Slice(pages, func(i, j int) bool { return pages[i].page < pages[j].page })
		full := filepath.Join(u.WorkDir, "full_"+doc+".txt")
		paths := make([]string, len(pages))
		for i, p := range pages {
			paths[i] = p.path
		}
		if err := concat(full, paths); err != nil {
			return nil, fmt.Errorf("process_pdfs merge: %w", err)
		}
		files = append(files, tarFile{name: path.Join(doc, "text/full", doc+".txt"), path: full})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	result := filepath.Join(u.WorkDir, "processed_pdfs.tar")
	if err := writeTar(result, files); err != nil {
		return nil, fmt.Errorf("process_pdfs merge: %w", err)
	}
	return u.save(ctx, result)
}

// docName is the document's name in file names: the input's file name,
// with anything but letters, digits, _ and - made "-".
func docName(input string) string {
	doc := strings.Map(func(r rune) rune {
		if safeName(string(r)) {
			return r
		}
		return '-'
	}, fileName(input))
	if doc == "" {
		return "document"
	}
	return doc
}

// localInput returns the unit's input file: the one the worker downloaded,
// or else the input URL downloaded into the work directory.
func localInput(ctx context.Context, u *Unit) (string, error) {
	if u.InputPath != "" {
		return u.InputPath, nil
	}
	url, ok := u.Input.(string)
	if !ok || url == "" {
		return "", fmt.Errorf("the input is %v, want the URL of a batch", u.Input)
	}
	base := path.Base(strings.SplitN(url, "?", 2)[0])
	if !filepath.IsLocal(base) {
		base = "batch.tar"
	}
	p := filepath.Join(u.WorkDir, base)
	return p, u.download(ctx, url, p)
}

// tarFile is a local file to put into a tar file under name.
type tarFile struct{ name, path string }

// writeTar writes the files, in order, into a new tar file at dst.
func writeTar(dst string, files []tarFile) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	for _, tf := range files {
		if err := addToTar(tw, tf); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func addToTar(tw *tar.Writer, tf tarFile) error {
	src, err := os.Open(tf.path)
	if err != nil {
		return err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: tf.name, Mode: 0o644, Size: fi.Size(), ModTime: fi.ModTime()}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.Copy(tw, src)
	return err
}

// untar extracts the regular files of the tar file src into dir (created if
// need be) and returns their names, sorted. Our tar files are flat, so an
// entry that is not a plain file name is refused: it could write outside dir.
func untar(src, dir string) ([]string, error) {
	f, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var names []string
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			sort.Strings(names)
			return names, nil
		}
		if err != nil {
			return nil, err
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		if strings.Contains(hdr.Name, "/") || !filepath.IsLocal(hdr.Name) {
			return nil, fmt.Errorf("tar entry %q is not a plain file name", hdr.Name)
		}
		if err := writeFile(filepath.Join(dir, hdr.Name), tr); err != nil {
			return nil, err
		}
		names = append(names, hdr.Name)
	}
}

func writeFile(dst string, r io.Reader) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// concat writes the files, in order, into dst.
func concat(dst string, paths []string) error {
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	for _, p := range paths {
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, in)
		in.Close()
		if err != nil {
			return err
		}
	}
	return out.Close()
}
