package assets

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/documentcloud/crowd/assets/s3test"
	"github.com/minio/minio-go/v7"
)

// newTestS3 starts versitygw and connects a store to bucket in it.
func newTestS3(t *testing.T, bucket string) *S3 {
	t.Helper()
	srv := s3test.Start(t)
	ctx := context.Background()
	s, err := NewS3(ctx, S3Config{
		Endpoint:  srv.Endpoint,
		Region:    "us-east-1",
		Bucket:    bucket,
		AccessKey: srv.AccessKey,
		SecretKey: srv.SecretKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// listKeys lists every object key in the store's bucket.
func listKeys(t *testing.T, s *S3) []string {
	t.Helper()
	var keys []string
	for obj := range s.client.ListObjects(context.Background(), s.bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatalf("listing: %v", obj.Err)
		}
		keys = append(keys, obj.Key)
	}
	slices.Sort(keys)
	return keys
}

func TestS3CreatesBucket(t *testing.T) {
	s := newTestS3(t, "crowd-assets")
	ctx := context.Background()
	ok, err := s.client.BucketExists(ctx, "crowd-assets")
	if err != nil || !ok {
		t.Fatalf("BucketExists after NewS3 = %v, %v; want true", ok, err)
	}
	// Connecting again to the existing bucket is fine.
	endpoint := s.client.EndpointURL().String()
	if _, err := NewS3(ctx, S3Config{Endpoint: endpoint, Bucket: "crowd-assets", AccessKey: "crowdtest", SecretKey: "crowdtest-secret"}); err != nil {
		t.Errorf("NewS3 on an existing bucket: %v", err)
	}
	// Wrong credentials fail in NewS3, not later.
	if _, err := NewS3(ctx, S3Config{Endpoint: endpoint, Bucket: "crowd-assets", AccessKey: "crowdtest", SecretKey: "wrong"}); err == nil {
		t.Error("NewS3 with a wrong secret key: no error")
	}
}

func TestS3SaveOpen(t *testing.T) {
	s := newTestS3(t, "crowd-assets")
	ctx := context.Background()
	const content = "the quick brown fox\n"
	src := writeTemp(t, "a b.txt", content)
	key := Key("word_count", 1, 2, src)

	u, err := s.Save(ctx, src, key)
	if err != nil {
		t.Fatal(err)
	}
	if want := "s3://crowd-assets/word_count/job_1/unit_2/a%20b.txt"; u != want {
		t.Errorf("Save URL = %q, want %q", u, want)
	}
	if got := readURL(t, s, u); got != content {
		t.Errorf("Open gave %q, want %q", got, content)
	}
	if got := listKeys(t, s); !slices.Equal(got, []string{key}) {
		t.Errorf("bucket holds %q, want [%q]", got, key)
	}

	if _, err := s.Save(ctx, src, "../escape.txt"); err == nil {
		t.Error("Save with a key holding ..: no error")
	}
	if _, err := s.Save(ctx, src+".missing", key); err == nil || !strings.HasPrefix(err.Error(), "assets: save "+key+": ") {
		t.Errorf("Save of a missing file: error %v, want `assets: save %s: ...`", err, key)
	}
}

func TestS3OpenErrors(t *testing.T) {
	s := newTestS3(t, "crowd-assets")
	ctx := context.Background()

	missing := "s3://crowd-assets/word_count/job_1/unit_1/none.txt"
	rc, err := s.Open(ctx, missing)
	if err == nil {
		rc.Close()
		t.Fatal("Open of a missing key: no error")
	}
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "assets: open "+missing+": ") {
		t.Errorf("Open of a missing key: %v, want `assets: open %s: ...` matching fs.ErrNotExist", err, missing)
	}

	for _, u := range []string{
		"s3://other-bucket/word_count/job_1/unit_1/a.txt",
		"s3://crowd-assets/word_count/../../a.txt",
		"s3://crowd-assets/",
		"file:///srv/a.txt",
	} {
		if rc, err := s.Open(ctx, u); err == nil {
			rc.Close()
			t.Errorf("Open(%q): no error", u)
		}
	}
}

func TestS3DeleteJob(t *testing.T) {
	s := newTestS3(t, "crowd-assets")
	ctx := context.Background()
	var want []string
	save := func(action string, job, unit int64, name string, keep bool) {
		t.Helper()
		src := writeTemp(t, name, action+name)
		key := Key(action, job, unit, src)
		if _, err := s.Save(ctx, src, key); err != nil {
			t.Fatal(err)
		}
		if keep {
			want = append(want, key)
		}
	}
	save("word_count", 1, 1, "a.txt", false)
	save("word_count", 1, 2, "b.txt", false)
	save("word_count", 1, 2, "c.txt", false)
	save("word_count", 11, 3, "d.txt", true) // job_11 shares job_1's text prefix
	save("word_count", 2, 4, "e.txt", true)
	save("process_pdfs", 1, 5, "f.txt", true)
	slices.Sort(want)

	if err := s.DeleteJob(ctx, "word_count", 1); err != nil {
		t.Fatal(err)
	}
	if got := listKeys(t, s); !slices.Equal(got, want) {
		t.Errorf("after DeleteJob the bucket holds %q, want %q", got, want)
	}
	if err := s.DeleteJob(ctx, "word_count", 1); err != nil {
		t.Errorf("second DeleteJob: %v", err)
	}
	if err := s.DeleteJob(ctx, "never_used", 9); err != nil {
		t.Errorf("DeleteJob of a job with no files: %v", err)
	}
	if err := s.DeleteJob(ctx, "..", 1); err == nil {
		t.Error("DeleteJob(\"..\"): no error")
	}
}
