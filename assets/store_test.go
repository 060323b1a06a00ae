package assets

import (
	"context"
	"strings"
	"testing"

	"github.com/documentcloud/crowd/config"
)

func TestKey(t *testing.T) {
	tests := []struct {
		action    string
		job, unit int64
		file      string
		want      string
	}{
		{"word_count", 1, 2, "a.txt", "word_count/job_1/unit_2/a.txt"},
		{"word_count", 1, 1, "/srv/work/test_action.rb", "word_count/job_1/unit_1/test_action.rb"},
		{"process_pdfs", 42, 9000, "out/page 1.png", "process_pdfs/job_42/unit_9000/page 1.png"},
		{"graphics_magick", 7, 3, "dir/", "graphics_magick/job_7/unit_3/dir"},
		{"a", 0, 0, "f", "a/job_0/unit_0/f"},
	}
	for _, tt := range tests {
		if got := Key(tt.action, tt.job, tt.unit, tt.file); got != tt.want {
			t.Errorf("Key(%q, %d, %d, %q) = %q, want %q", tt.action, tt.job, tt.unit, tt.file, got, tt.want)
		}
		if err := checkKey(tt.want); err != nil {
			t.Errorf("checkKey(%q) = %v, want nil", tt.want, err)
		}
	}
}

func TestCheckKeyRejects(t *testing.T) {
	for _, key := range []string{
		"",
		"/etc/passwd",
		"../x",
		"a/../../x",
		"a/..",
		"..",
		"a/./b",
		".",
		"a//b",
		"a/b/",
		"a/\x00b",
		Key("word_count", 1, 2, ""), // the base of "" is "."
	} {
		if err := checkKey(key); err == nil {
			t.Errorf("checkKey(%q) = nil, want an error", key)
		}
	}
}

func TestFromConfig(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.LocalStoragePath = t.TempDir()
	s, err := FromConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if fs, ok := s.(*Filesystem); !ok || fs.Root() != cfg.LocalStoragePath {
		t.Errorf("FromConfig(filesystem) = %#v, want a Filesystem in %s", s, cfg.LocalStoragePath)
	}

	cfg.Storage = "cloudfiles"
	if _, err := FromConfig(ctx, cfg); err == nil || !strings.Contains(err.Error(), "cloudfiles") {
		t.Errorf("FromConfig(cloudfiles) error = %v, want one naming the storage", err)
	}

	cfg.Storage = "s3"
	cfg.S3Bucket = "" // checked before any request
	if _, err := FromConfig(ctx, cfg); err == nil {
		t.Error("FromConfig(s3) without a bucket: no error")
	}
}

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		endpoint   string
		secure     bool
		wantHost   string
		wantSecure bool
	}{
		{"127.0.0.1:7070", false, "127.0.0.1:7070", false},
		{"127.0.0.1:7070", true, "127.0.0.1:7070", true},
		{"http://127.0.0.1:7070", true, "127.0.0.1:7070", false},
		{"https://s3.example.com", false, "s3.example.com", true},
		{"http://127.0.0.1:7070/", true, "127.0.0.1:7070", false},
		{"", false, "s3.amazonaws.com", true},
	}
	for _, tt := range tests {
		host, secure, err := parseEndpoint(tt.endpoint, tt.secure)
		if err != nil || host != tt.wantHost || secure != tt.wantSecure {
			t.Errorf("parseEndpoint(%q, %v) = %q, %v, %v; want %q, %v, nil",
				tt.endpoint, tt.secure, host, secure, err, tt.wantHost, tt.wantSecure)
		}
	}
	for _, bad := range []string{"ftp://host", "http://", "http://host/path", "host/path", "http://u:p@host"} {
		if _, _, err := parseEndpoint(bad, false); err == nil {
			t.Errorf("parseEndpoint(%q): no error", bad)
		}
	}
}
