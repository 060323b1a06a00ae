package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// writeFile writes a config file into a fresh test directory.
func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	if c.MaxBody != 33554432 || c.WorkUnitRetries != 3 || c.Fsync != "group" || c.Storage != "filesystem" {
		t.Errorf("Default() = %+v", c)
	}
}

func TestLoadFile(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    func(*Config)
		unknown []string
	}{
		{
			name: "both key spellings",
			yaml: ":work_unit_retries: 5\nlogin: bob\n",
			want: func(c *Config) { c.WorkUnitRetries = 5; c.Login = "bob" },
		},
		{
			name: "CloudCrowd config.yml",
			yaml: `:central_server: http://example.com:9173/
:node_timeout: 10
:max_workers: 5
:storage: filesystem
:s3_authentication: false
:http_authentication: no
:login: admin
:password: secret
:disabled_actions: [graphics_magick, process_pdfs]
:server_timeout: 20
:open_timeout: 0.5
:actions_path:
`,
			want: func(c *Config) {
				c.CentralServer = "http://example.com:9173"
				c.MaxWorkers = 5
				c.Login, c.Password = "admin", "secret"
				c.DisabledActions = []string{"graphics_magick", "process_pdfs"}
				c.ServerTimeout = 20 * time.Second
				c.OpenTimeout = 500 * time.Millisecond
			},
			unknown: []string{"node_timeout", "s3_authentication"},
		},
		{
			name: "new keys and typed scalars",
			yaml: `data_dir: /var/crowd
fsync: interval
fsync_interval: 10ms
max_body: 10MB
http_authentication: yes
login: x
retry_backoff: 0
worker_timeout: 1m30s
unit_timeout: "45s"
disabled_actions: "a, b"
`,
			want: func(c *Config) {
				c.DataDir = "/var/crowd"
				c.Fsync = "interval"
				c.FsyncInterval = 10 * time.Millisecond
				c.MaxBody = 10000000
				c.HTTPAuthentication = true
				c.Login = "x"
				c.RetryBackoff = 0
				c.WorkerTimeout = 90 * time.Second
				c.UnitTimeout = 45 * time.Second
				c.DisabledActions = []string{"a", "b"}
			},
		},
		{
			name: "block list",
			yaml: "disabled_actions:\n  - one\n  - two\n",
			want: func(c *Config) { c.DisabledActions = []string{"one", "two"} },
		},
		{
			name: "empty list",
			yaml: "disabled_actions: []\n",
			want: func(c *Config) { c.DisabledActions = []string{} },
		},
		{
			name: "only comments",
			yaml: "# nothing here\n",
			want: func(*Config) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := Default()
			tt.want(&want)
			got := Default()
			unknown, err := got.LoadFile(writeFile(t, tt.yaml))
			if err != nil {
				t.Fatalf("LoadFile: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			if !reflect.DeepEqual(unknown, tt.unknown) {
				t.Errorf("unknown = %q, want %q", unknown, tt.unknown)
			}
		})
	}
}

func TestLoadFileErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string // after the file name
	}{
		{"bad int", ":work_unit_retries: x\n", `work_unit_retries: "x" is not a whole number`},
		{"list for a scalar", "login: [a, b]\n", "login: line 1: a list is not allowed here"},
		{"mapping value", "storage: {a: b}\n", "storage: line 1: a mapping is not allowed here"},
		{"not a mapping", "- a\n- b\n", "line 1: not a mapping of keys to values"},
		{"bad yaml", "a: [\n", "yaml: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.yaml)
			c := Default()
			_, err := c.LoadFile(path)
			prefix := "config: " + path + ": " + tt.want
			if err == nil || !strings.HasPrefix(err.Error(), prefix) {
				t.Fatalf("err = %v, want prefix %q", err, prefix)
			}
			if !reflect.DeepEqual(c, Default()) {
				t.Errorf("config changed by a failed load: %+v", c)
			}
		})
	}
}

func TestLoadFileMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yml")
	c := Default()
	_, err := c.LoadFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want a not-exist error naming %s", err, path)
	}
}

func TestEnvOverridesFile(t *testing.T) {
	path := writeFile(t, ":login: bob\ndata_dir: from-file\nmax_workers: 2\n")
	env := map[string]string{
		"CROWD_DATA_DIR":         "from-env",
		"CROWD_LOGIN":            "alice",
		"CROWD_DISABLED_ACTIONS": "a, b",
		"CROWD_MAX_BODY":         "512KiB",
		"CROWD_CENTRAL_SERVER":   "http://h:1/",
		"DATA_DIR":               "ignored",
	}
	c := Default()
	if _, err := c.LoadFile(path); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.DataDir = "from-env"
	want.Login = "alice"
	want.MaxWorkers = 2
	want.DisabledActions = []string{"a", "b"}
	want.MaxBody = 512 * 1024
	want.CentralServer = "http://h:1"
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}
}

func TestApplyEnvError(t *testing.T) {
	c := Default()
	err := c.ApplyEnv(func(k string) (string, bool) {
		if k == "CROWD_WORKER_TIMEOUT" {
			return "soon", true
		}
		return "", false
	})
	want := `config: CROWD_WORKER_TIMEOUT: "soon" is not a duration`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("err = %v, want prefix %q", err, want)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"45s", 45 * time.Second, false},
		{"1m30s", 90 * time.Second, false},
		{"50ms", 50 * time.Millisecond, false},
		{"30", 30 * time.Second, false},
		{"0.5", 500 * time.Millisecond, false},
		{"0", 0, false},
		{" 2 ", 2 * time.Second, false},
		{"-1", 0, true},
		{"-1s", 0, true},
		{"abc", 0, true},
		{"", 0, true},
		{"NaN", 0, true},
		{"1e300", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{"32MiB", 33554432, false},
		{"10MB", 10000000, false},
		{"1048576", 1048576, false},
		{"512KiB", 524288, false},
		{"1GiB", 1 << 30, false},
		{"100kb", 100000, false},
		{"2 gb", 2000000000, false},
		{"7B", 7, false},
		{"0", 0, false}, // parses; Validate rejects it
		{"12XB", 0, true},
		{"MiB", 0, true},
		{"-5", 0, true},
		{"1.5MiB", 0, true},
		{"", 0, true},
		{"99999999999GiB", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseSize(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestSet(t *testing.T) {
	tests := []struct {
		key, value string
		check      func(Config) any
		want       any
	}{
		{"http_authentication", "true", func(c Config) any { return c.HTTPAuthentication }, true},
		{"http_authentication", "Yes", func(c Config) any { return c.HTTPAuthentication }, true},
		{"http_authentication", "on", func(c Config) any { return c.HTTPAuthentication }, true},
		{"http_authentication", "1", func(c Config) any { return c.HTTPAuthentication }, true},
		{"http_authentication", "false", func(c Config) any { return c.HTTPAuthentication }, false},
		{"http_authentication", "NO", func(c Config) any { return c.HTTPAuthentication }, false},
		{"http_authentication", "off", func(c Config) any { return c.HTTPAuthentication }, false},
		{"http_authentication", "0", func(c Config) any { return c.HTTPAuthentication }, false},
		{"disabled_actions", "a, b", func(c Config) any { return c.DisabledActions }, []string{"a", "b"}},
		{"disabled_actions", "", func(c Config) any { return c.DisabledActions }, []string(nil)},
		{"central_server", "http://x:9173/", func(c Config) any { return c.CentralServer }, "http://x:9173"},
		{"central_server", "http://x:9173", func(c Config) any { return c.CentralServer }, "http://x:9173"},
		{"max_body", "100kb", func(c Config) any { return c.MaxBody }, int64(100000)},
		{"work_unit_retries", "7", func(c Config) any { return c.WorkUnitRetries }, 7},
		{"min_worker_wait", "0.25", func(c Config) any { return c.MinWorkerWait }, 250 * time.Millisecond},
		{"password", " spaced ", func(c Config) any { return c.Password }, " spaced "},
	}
	for _, tt := range tests {
		c := Default()
		if err := c.Set(tt.key, tt.value); err != nil {
			t.Errorf("Set(%q, %q): %v", tt.key, tt.value, err)
			continue
		}
		if got := tt.check(c); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Set(%q, %q): got %#v, want %#v", tt.key, tt.value, got, tt.want)
		}
	}
}

func TestSetErrors(t *testing.T) {
	tests := []struct{ key, value, want string }{
		{"work_unit_retries", "x", `config: work_unit_retries: "x" is not a whole number`},
		{"work_unit_retries", "-2", `config: work_unit_retries: "-2" is not a whole number`},
		{"http_authentication", "maybe", `config: http_authentication: "maybe" is not true or false`},
		{"max_body", "12XB", `config: max_body: "12XB" is not a size (such as 1048576, 512KiB, 32MiB or 10MB)`},
		{"retry_backoff", "-1", `config: retry_backoff: "-1" is negative`},
		{"no_such_key", "1", `config: unknown key "no_such_key"`},
	}
	for _, tt := range tests {
		c := Default()
		err := c.Set(tt.key, tt.value)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Set(%q, %q) = %v, want %s", tt.key, tt.value, err, tt.want)
		}
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("Set(%q, %q) changed the config on error", tt.key, tt.value)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"fsync", func(c *Config) { c.Fsync = "always" }, `config: fsync: "always" is not group, interval or off`},
		{"storage", func(c *Config) { c.Storage = "cloudfiles" }, `config: storage: "cloudfiles" is not filesystem or s3`},
		{"retries", func(c *Config) { c.WorkUnitRetries = 0 }, "config: work_unit_retries: 0 is not from 1 to 1000000; it counts every attempt"},
		{"too many retries", func(c *Config) { c.WorkUnitRetries = 3_000_000_000 }, "config: work_unit_retries: 3000000000 is not from 1 to 1000000; it counts every attempt"},
		{"negative duration", func(c *Config) { c.RetryBackoff = -time.Second }, "config: retry_backoff: -1s is negative"},
		{"negative count", func(c *Config) { c.MaxWorkers = -1 }, "config: max_workers: -1 is negative"},
		{"worker timeout", func(c *Config) { c.WorkerTimeout = 0 }, "config: worker_timeout: must be more than 0"},
		{"max body zero", func(c *Config) { _ = c.Set("max_body", "0") }, "config: max_body: 0 bytes is too small; it must be more than 0"},
		{"auth without login", func(c *Config) { c.HTTPAuthentication = true }, "config: http_authentication is on but login is empty"},
		{"auth with login", func(c *Config) { c.HTTPAuthentication = true; c.Login = "a" }, ""},
		{"empty listen", func(c *Config) { c.Listen = "" }, "config: listen: empty; give an address such as :9173"},
		{"empty data dir", func(c *Config) { c.DataDir = "" }, "config: data_dir: empty; give a folder for the journal"},
		{"zero backoff", func(c *Config) { c.RetryBackoff = 0; c.UnitTimeout = 0 }, ""},
		{"s3", func(c *Config) { c.Storage = "s3"; c.Fsync = "off" }, ""},
	}
	for _, tt := range tests {
		c := Default()
		tt.change(&c)
		err := c.Validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%s: Validate() = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestKeys(t *testing.T) {
	ks := Keys()
	if len(ks) != reflect.TypeOf(Config{}).NumField() || !sort.StringsAreSorted(ks) {
		t.Fatalf("Keys() = %q", ks)
	}
	// Every key must be settable, which also proves each field has a handled type.
	for _, k := range ks {
		c := Default()
		v := "1"
		if k == "fsync" || k == "storage" {
			v = "off"
		}
		if err := c.Set(k, v); err != nil {
			t.Errorf("Set(%q, %q): %v", k, v, err)
		}
	}
	// A copy-paste slip in the table would point two keys at one field.
	var c Config
	seen := map[uintptr]string{}
	for _, k := range keys {
		p := reflect.ValueOf(k.field(&c)).Pointer()
		if other, dup := seen[p]; dup {
			t.Errorf("keys %s and %s share a field", other, k.name)
		}
		seen[p] = k.name
	}
}
