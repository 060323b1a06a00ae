package worker

import (
	"strings"
	"testing"
)

func TestSafeFilename(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		// The two vectors of CloudCrowd's test_action.rb.
		{"http://example.com/Some%20(Crazy'Kinda%7E)'Filename.txt", "Some-Crazy-Kinda-Filename.txt"},
		{"http://example.com/file.pdf?one=two&three=four", "file.pdf"},
		// And its third: the query goes, the extension stays.
		{"http://example.com/file.format?parameter=value", "file.format"},
		{"file:///data/in/report.v2.final.pdf", "report-v2-final.pdf"},
		{"s3://bucket/word_count/job_1/unit_2/a%2Fb.txt", "a-b.txt"},
		{"https://example.com/dir/", "dir"},
		{"https://example.com/%E2%82%AC uro.png", "-uro.png"},
		{"https://example.com/..", "input"},
		{"https://example.com/.hidden", "-hidden"}, // Ruby: no extension, so the dot goes
		{"https://example.com/bad%zzescape.txt", "bad-zzescape.txt"},
	} {
		if got := SafeFilename(tc.url); got != tc.want {
			t.Errorf("SafeFilename(%q) = %q, want %q", tc.url, got, tc.want)
		}
	}
	long := SafeFilename("http://example.com/" + strings.Repeat("a", 300) + ".txt")
	if len(long) > maxFileName || !strings.HasSuffix(long, ".txt") {
		t.Errorf("a long name gives %q (%d bytes), want at most %d bytes ending in .txt", long, len(long), maxFileName)
	}
}

func TestURLScheme(t *testing.T) {
	for in, want := range map[string]string{
		"http://x/a": "http", "HTTPS://x/a": "https", "file:///a": "file", "s3://b/k": "s3",
		"foo:bar": "", "plain text": "", "http:": "", "": "", "[1,2]": "",
	} {
		if got := urlScheme(in); got != want {
			t.Errorf("urlScheme(%q) = %q, want %q", in, got, want)
		}
	}
}
