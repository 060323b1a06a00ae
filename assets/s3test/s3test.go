// Package s3test starts a real S3-compatible server, versitygw, for the
// tests of the S3 asset store and of the workers that use it.
package s3test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Server is a running versitygw.
type Server struct {
	Endpoint  string // "http://127.0.0.1:<port>"
	AccessKey string // root credentials
	SecretKey string
}

// Start starts versitygw on a free port of 127.0.0.1, with its
// posix back-end serving a fresh temporary directory, and stops it when the
// test ends. It is started as
//
//	ROOT_ACCESS_KEY=<key> ROOT_SECRET_KEY=<secret> \
//	versitygw --port 127.0.0.1:<port> --quiet posix --sidecar <tmp>/meta <tmp>/data
//
// The binary is looked up in PATH, then in $GOBIN and $(go env GOPATH)/bin.
// When it is not found the test is skipped, unless CROWD_REQUIRE_S3=1, in
// which case it fails (install it with
// `go install github.com/versity/versitygw/cmd/versitygw@v1.8.0`).
func Start(t testing.TB) Server {
	t.Helper()
	bin, err := findVersityGW()
	if err != nil {
		if os.Getenv("CROWD_REQUIRE_S3") == "1" {
			t.Fatalf("CROWD_REQUIRE_S3=1 but versitygw is not installed: %v", err)
		}
		t.Skipf("skipping the S3 test: %v (install it with `go install github.com/versity/versitygw/cmd/versitygw@v1.8.0`, or set CROWD_REQUIRE_S3=1 to make this a failure)", err)
	}
	srv := Server{AccessKey: "crowdtest", SecretKey: "crowdtest-secret"}
	// The free port is found by binding and releasing it, so another process
	// can take it before versitygw does; try again in that case.
	const attempts = 3
	for i := 1; ; i++ {
		endpoint, err := runVersityGW(t, bin, srv.AccessKey, srv.SecretKey)
		if err == nil {
			srv.Endpoint = endpoint
			return srv
		}
		if i == attempts {
			t.Fatalf("starting versitygw: %v", err)
		}
		t.Logf("starting versitygw (attempt %d): %v; trying again", i, err)
	}
}

// findVersityGW returns the path of the versitygw binary.
func findVersityGW() (string, error) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	var dirs []string
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		// One line each; GOBIN's is empty when it is not set.
		lines := strings.Split(strings.TrimRight(string(out), "\r\n"), "\n")
		if len(lines) == 2 {
			if gobin := strings.TrimSpace(lines[0]); gobin != "" {
				dirs = append(dirs, gobin)
			}
			for _, gopath := range filepath.SplitList(strings.TrimSpace(lines[1])) {
				dirs = append(dirs, filepath.Join(gopath, "bin"))
			}
		}
	}
	for _, dir := range dirs {
		p := filepath.Join(dir, "versitygw")
		if info, err := os.Stat(p); err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	if len(dirs) == 0 {
		return "", errors.New("versitygw is not in PATH, and `go env GOBIN GOPATH` did not answer")
	}
	return "", fmt.Errorf("versitygw is not in PATH nor in %s", strings.Join(dirs, ", "))
}

// runVersityGW starts one versitygw and waits until it answers HTTP. On
// success the process is stopped by t.Cleanup.
func runVersityGW(t testing.TB, bin, accessKey, secretKey string) (endpoint string, err error) {
	t.Helper()
	addr, err := freeAddr()
	if err != nil {
		return "", err
	}
	dir := t.TempDir()
	data, meta := filepath.Join(dir, "data"), filepath.Join(dir, "meta")
	for _, d := range []string{data, meta} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return "", err
		}
	}
	logPath := filepath.Join(dir, "versitygw.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return "", err
	}
	defer logFile.Close() // the child has its own descriptor

	// Metadata goes to a sidecar directory rather than extended attributes,
	// which not every temporary file system supports.
	cmd := exec.Command(bin, "--port", addr, "--quiet", "posix", "--sidecar", meta, data)
	cmd.Env = append(hermeticEnv(), "ROOT_ACCESS_KEY="+accessKey, "ROOT_SECRET_KEY="+secretKey)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	output := func() string {
		b, _ := os.ReadFile(logPath)
		return string(bytes.TrimSpace(b))
	}

	endpoint = "http://" + addr
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			return "", fmt.Errorf("versitygw exited (%v); its output: %s", err, output())
		default:
		}
		resp, err := client.Get(endpoint + "/")
		if err == nil {
			resp.Body.Close() // any answer (403 without credentials) means it serves
			break
		}
		if time.Now().After(deadline) {
			stop()
			return "", fmt.Errorf("versitygw did not answer on %s: %v; its output: %s", addr, err, output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Registered after t.TempDir, so it runs before the directory is removed.
	t.Cleanup(stop)
	return endpoint, nil
}

// freeAddr is a 127.0.0.1 address with a port that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// hermeticEnv is the environment without the variables versitygw reads
// (VGW_*, ROOT_*, ...), so a developer's settings cannot change the server.
func hermeticEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "VGW_"), strings.HasPrefix(name, "ROOT_"),
			name == "LOGFILE", name == "WEBHOOK":
			continue
		}
		env = append(env, kv)
	}
	return env
}
