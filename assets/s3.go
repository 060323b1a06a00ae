package assets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// S3Config says how to reach an S3 bucket.
type S3Config struct {
	// Endpoint is the server: "host:port", or "http://host:port" /
	// "https://host:port", whose scheme then overrides Secure. Empty means
	// AWS (s3.amazonaws.com, always over HTTPS).
	Endpoint string
	// Region is the bucket's region; empty lets the client ask the server.
	// A bucket NewS3 creates is made in it (us-east-1 when empty).
	Region    string
	Bucket    string
	AccessKey string
	SecretKey string
	// Secure selects HTTPS for an Endpoint without a scheme.
	Secure bool
}

// S3 is a Store in one bucket of an S3-compatible server. A file saved
// under key is the object key in the bucket, and its URL is s3://<bucket>/<key>.
type S3 struct {
	client *minio.Client
	bucket string
}

var _ Store = (*S3)(nil)

// NewS3 connects to the bucket of c, creating the bucket when it is missing
// (as CloudCrowd did).
func NewS3(ctx context.Context, c S3Config) (*S3, error) {
	s, err := newS3(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("assets: s3 bucket %q: %w", c.Bucket, err)
	}
	return s, nil
}

func newS3(ctx context.Context, c S3Config) (*S3, error) {
	if err := s3utils.CheckValidBucketName(c.Bucket); err != nil {
		return nil, err
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		return nil, errors.New("the access key and the secret key are required")
	}
	host, secure, err := parseEndpoint(c.Endpoint, c.Secure)
	if err != nil {
		return nil, err
	}
	client, err := minio.New(host, &minio.Options{
		Creds:  credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""),
		Secure: secure,
		Region: c.Region,
	})
	if err != nil {
		return nil, err
	}
	exists, err := client.BucketExists(ctx, c.Bucket)
	if err != nil {
		return nil, err
	}
	if !exists {
		err := client.MakeBucket(ctx, c.Bucket, minio.MakeBucketOptions{Region: c.Region})
		// Another process may have made it in the meantime.
		if err != nil && minio.ToErrorResponse(err).Code != minio.BucketAlreadyOwnedByYou {
			return nil, fmt.Errorf("creating the bucket: %w", err)
		}
	}
	return &S3{client: client, bucket: c.Bucket}, nil
}

// parseEndpoint splits an endpoint into the host[:port] minio wants and
// whether to use HTTPS.
func parseEndpoint(endpoint string, secure bool) (host string, isSecure bool, err error) {
	if endpoint == "" {
		return "s3.amazonaws.com", true, nil
	}
	if !strings.Contains(endpoint, "://") {
		if strings.ContainsAny(endpoint, "/?#") {
			return "", false, fmt.Errorf("endpoint %q is not host[:port] or a URL", endpoint)
		}
		return endpoint, secure, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", false, fmt.Errorf("endpoint: %w", err)
	}
	switch u.Scheme {
	case "http":
		secure = false
	case "https":
		secure = true
	default:
		return "", false, fmt.Errorf("endpoint %q: scheme is not http or https", endpoint)
	}
	if u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", false, fmt.Errorf("endpoint %q is not scheme://host[:port]", endpoint)
	}
	return u.Host, secure, nil
}

// Bucket is the store's bucket.
func (s *S3) Bucket() string { return s.bucket }

// Save uploads the file at path as the object key and returns its s3:// URL.
func (s *S3) Save(ctx context.Context, path, key string) (string, error) {
	if err := checkS3Key(key); err != nil {
		return "", opError("save", key, err)
	}
	if _, err := s.client.FPutObject(ctx, s.bucket, key, path, minio.PutObjectOptions{}); err != nil {
		return "", opError("save", key, err)
	}
	return s.url(key), nil
}

func checkS3Key(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return s3utils.CheckValidObjectName(key)
}

// url is the s3:// URL of key, with the key URL-escaped.
func (s *S3) url(key string) string {
	return (&url.URL{Scheme: "s3", Host: s.bucket, Path: "/" + key}).String()
}

// Open reads an object by its s3://<bucket>/<key> URL. URLs of other buckets
// are refused.
func (s *S3) Open(ctx context.Context, rawURL string) (io.ReadCloser, error) {
	key, err := s.keyOf(rawURL)
	if err != nil {
		return nil, opError("open", rawURL, err)
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, opError("open", rawURL, s3Error(err))
	}
	// GetObject sends nothing until the first read; Stat makes the request,
	// so that a missing object is an error of Open.
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, opError("open", rawURL, s3Error(err))
	}
	return obj, nil
}

// keyOf is the key an s3:// URL of this store names.
func (s *S3) keyOf(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	if u.Scheme != "s3" || u.Opaque != "" || u.User != nil {
		return "", errors.New("not an s3:// URL")
	}
	if u.Host != s.bucket {
		return "", fmt.Errorf("not in the bucket %q", s.bucket)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", errors.New("an s3:// URL of the store has no query or fragment")
	}
	key := strings.TrimPrefix(u.Path, "/")
	if err := checkS3Key(key); err != nil {
		return "", err
	}
	return key, nil
}

// DeleteJob lists every object under <action>/job_<job>/ and removes them.
func (s *S3) DeleteJob(ctx context.Context, action string, job int64) error {
	prefix, err := checkJob(action, job)
	if err == nil {
		err = s.deletePrefix(ctx, prefix+"/")
	}
	if err != nil {
		return opError("delete", jobPrefix(action, job), err)
	}
	return nil
}

func (s *S3) deletePrefix(ctx context.Context, prefix string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Feed the listing to RemoveObjects, which deletes in batches.
	objects := make(chan minio.ObjectInfo)
	listed := make(chan struct{})
	var listErr error // written before listed is closed
	go func() {
		defer close(listed)
		defer close(objects)
		for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if obj.Err != nil {
				listErr = fmt.Errorf("listing: %w", obj.Err)
				return
			}
			select {
			case objects <- obj:
			case <-ctx.Done():
				listErr = ctx.Err()
				return
			}
		}
	}()

	var removeErr error
	for e := range s.client.RemoveObjects(ctx, s.bucket, objects, minio.RemoveObjectsOptions{}) {
		if removeErr == nil {
			removeErr = fmt.Errorf("removing %s: %w", e.ObjectName, e.Err)
		}
	}
	// RemoveObjects has stopped; release the lister if it still waits.
	cancel()
	<-listed
	if removeErr != nil {
		return removeErr
	}
	return listErr
}

// s3Error marks an error about a missing object so that it matches
// fs.ErrNotExist.
func s3Error(err error) error {
	switch minio.ToErrorResponse(err).Code {
	case minio.NoSuchKey, minio.NoSuchBucket:
		return notExist{err}
	}
	return err
}

type notExist struct{ err error }

func (e notExist) Error() string   { return e.err.Error() }
func (e notExist) Unwrap() []error { return []error{e.err, fs.ErrNotExist} }
