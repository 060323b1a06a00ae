// Package config holds the settings of crowd's coordinator and workers.
//
// Settings come, in rising order of precedence, from Default, a YAML file
// with CloudCrowd's config.yml keys (LoadFile), command-line flags (Set)
// and CROWD_* environment variables (ApplyEnv).
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/documentcloud/crowd/wire"
)

// Config is the settings of a coordinator or worker process.
type Config struct {
	CentralServer      string        // central_server; default "http://localhost:9173"
	Listen             string        // listen; default ":9173"
	DataDir            string        // data_dir; default "crowd-data"
	Fsync              string        // fsync: "group" (default), "interval", "off"
	FsyncInterval      time.Duration // fsync_interval; default 50ms
	SnapshotEvery      int           // snapshot_every (records); default 100000
	WorkUnitRetries    int           // work_unit_retries: total attempts per unit; default 3; must be >= 1
	RetryBackoff       time.Duration // retry_backoff; default 1s; 0 allowed
	WorkerTimeout      time.Duration // worker_timeout; default 120s; must be > 0
	UnitTimeout        time.Duration // unit_timeout; default 0 = none
	JobRetention       time.Duration // job_retention; default 7 days; 0 = finished jobs are kept
	CallbackRetries    int           // callback_retries; default 5
	MaxBody            int64         // max_body in bytes; default 32 MiB; must be > 0
	HTTPAuthentication bool          // http_authentication
	Login, Password    string        // login, password
	Storage            string        // storage: "filesystem" (default) or "s3"
	LocalStoragePath   string        // local_storage_path
	TempStoragePath    string        // temp_storage_path
	ActionsPath        string        // actions_path; default "" (none)
	DisabledActions    []string      // disabled_actions: a YAML list, or a comma-separated string in env/flags
	MaxWorkers         int           // max_workers; default 0 = number of CPUs (decided by the worker)
	MaxWorkerWait      time.Duration // max_worker_wait; default 10s
	MinWorkerWait      time.Duration // min_worker_wait; default 100ms
	ServerTimeout      time.Duration // server_timeout; default 30s
	OpenTimeout        time.Duration // open_timeout; default 5s

	S3Bucket, S3Endpoint, S3Region, AWSAccessKey, AWSSecretKey string // s3_bucket, s3_endpoint, s3_region (default "us-east-1"), aws_access_key, aws_secret_key

	// Cluster mode (replicas on raft), when ClusterID is set.
	ClusterID        string   // cluster_id: this node's id among ClusterPeers
	ClusterPeers     []string // cluster_peers: id=host:port, each node's API address; raft uses the port after it
	ClusterBootstrap bool     // cluster_bootstrap: form the cluster of ClusterPeers (first start; ignored after)
	// A node snapshots its state once cluster_snapshot_entries entries
	// came after its last snapshot (checked every cluster_snapshot_interval)
	// and keeps that many entries behind it for followers that lag; one
	// further behind catches up from the snapshot. Default 100,000
	// entries, as snapshot_every; 0 takes raft's defaults (a snapshot after
	// 8192 entries, checked every 120 s; 10,240 entries kept).
	ClusterSnapshotEntries  int
	ClusterSnapshotInterval time.Duration
}

// Default returns the settings used when nothing else is given.
func Default() Config {
	return Config{
		CentralServer: "http://localhost:9173",
		Listen:        ":9173",
		DataDir:       "crowd-data",
		Fsync:         "group",
		FsyncInterval: 50 * time.Millisecond,
		SnapshotEvery: 100000,
		// Raft's own default, 8192, would snapshot a state of a million
		// finished jobs (a third of a second with the FSM held, 250 MB
		// written) every few seconds under load.
		ClusterSnapshotEntries: 100000,
		WorkUnitRetries:        3,
		RetryBackoff:           time.Second,
		WorkerTimeout:          120 * time.Second,
		CallbackRetries:        5,
		JobRetention:           7 * 24 * time.Hour,
		MaxBody:                32 << 20,
		Storage:                "filesystem",
		LocalStoragePath:       filepath.Join(os.TempDir(), "cloud_crowd_storage"),
		TempStoragePath:        filepath.Join(os.TempDir(), "cloud_crowd_tmp"),
		MaxWorkerWait:          10 * time.Second,
		MinWorkerWait:          100 * time.Millisecond,
		ServerTimeout:          30 * time.Second,
		OpenTimeout:            5 * time.Second,
		S3Region:               "us-east-1",
	}
}

// A key is one setting. Its field's type decides how its text is parsed:
// *string, *bool, *int (a whole number), *int64 (a size),
// *time.Duration or *[]string (a list).
type key struct {
	name  string
	field func(*Config) any
}

// keys declares every setting, once; Set, Keys, ApplyEnv, LoadFile and
// Validate all work from it.
var keys = []key{
	{"central_server", func(c *Config) any { return &c.CentralServer }},
	{"listen", func(c *Config) any { return &c.Listen }},
	{"data_dir", func(c *Config) any { return &c.DataDir }},
	{"fsync", func(c *Config) any { return &c.Fsync }},
	{"fsync_interval", func(c *Config) any { return &c.FsyncInterval }},
	{"snapshot_every", func(c *Config) any { return &c.SnapshotEvery }},
	{"work_unit_retries", func(c *Config) any { return &c.WorkUnitRetries }},
	{"retry_backoff", func(c *Config) any { return &c.RetryBackoff }},
	{"worker_timeout", func(c *Config) any { return &c.WorkerTimeout }},
	{"unit_timeout", func(c *Config) any { return &c.UnitTimeout }},
	{"job_retention", func(c *Config) any { return &c.JobRetention }},
	{"callback_retries", func(c *Config) any { return &c.CallbackRetries }},
	{"max_body", func(c *Config) any { return &c.MaxBody }},
	{"http_authentication", func(c *Config) any { return &c.HTTPAuthentication }},
	{"login", func(c *Config) any { return &c.Login }},
	{"password", func(c *Config) any { return &c.Password }},
	{"storage", func(c *Config) any { return &c.Storage }},
	{"local_storage_path", func(c *Config) any { return &c.LocalStoragePath }},
	{"temp_storage_path", func(c *Config) any { return &c.TempStoragePath }},
	{"actions_path", func(c *Config) any { return &c.ActionsPath }},
	{"disabled_actions", func(c *Config) any { return &c.DisabledActions }},
	{"max_workers", func(c *Config) any { return &c.MaxWorkers }},
	{"max_worker_wait", func(c *Config) any { return &c.MaxWorkerWait }},
	{"min_worker_wait", func(c *Config) any { return &c.MinWorkerWait }},
	{"server_timeout", func(c *Config) any { return &c.ServerTimeout }},
	{"open_timeout", func(c *Config) any { return &c.OpenTimeout }},
	{"s3_bucket", func(c *Config) any { return &c.S3Bucket }},
	{"s3_endpoint", func(c *Config) any { return &c.S3Endpoint }},
	{"s3_region", func(c *Config) any { return &c.S3Region }},
	{"aws_access_key", func(c *Config) any { return &c.AWSAccessKey }},
	{"aws_secret_key", func(c *Config) any { return &c.AWSSecretKey }},
	{"cluster_id", func(c *Config) any { return &c.ClusterID }},
	{"cluster_peers", func(c *Config) any { return &c.ClusterPeers }},
	{"cluster_bootstrap", func(c *Config) any { return &c.ClusterBootstrap }},
	{"cluster_snapshot_entries", func(c *Config) any { return &c.ClusterSnapshotEntries }},
	{"cluster_snapshot_interval", func(c *Config) any { return &c.ClusterSnapshotInterval }},
}

func lookupKey(name string) (key, bool) {
	for _, k := range keys {
		if k.name == name {
			return k, true
		}
	}
	return key{}, false
}

// Keys lists every key Set accepts, sorted (for help texts and the env variable list).
func Keys() []string {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.name
	}
	sort.Strings(names)
	return names
}

// EnvName is the environment variable that ApplyEnv reads for key.
func EnvName(key string) string {
	return "CROWD_" + strings.ToUpper(key)
}

// Set sets one key, given by its config-file name (e.g. "work_unit_retries"), from its text form.
// Errors name the key and the bad value: `config: work_unit_retries: "x" is not a whole number`.
func (c *Config) Set(key, value string) error {
	k, ok := lookupKey(key)
	if !ok {
		return fmt.Errorf("config: unknown key %q", key)
	}
	if err := k.set(c, value); err != nil {
		return fmt.Errorf("config: %s: %w", key, err)
	}
	return nil
}

// set parses value into k's field of c; errors do not name the key.
func (k key) set(c *Config, value string) error {
	switch p := k.field(c).(type) {
	case *string:
		if k.name == "central_server" {
			// URLs are joined onto it as "/jobs" and so on.
			value = strings.TrimRight(value, "/")
		}
		*p = value
	case *bool:
		b, err := parseBool(value)
		if err != nil {
			return err
		}
		*p = b
	case *int:
		n, err := parseWhole(value)
		if err != nil {
			return err
		}
		*p = n
	case *int64:
		n, err := parseSize(value)
		if err != nil {
			return err
		}
		*p = n
	case *time.Duration:
		d, err := wire.ParseDuration(value)
		if err != nil {
			return err
		}
		*p = d
	case *[]string:
		*p = splitList(value)
	default:
		panic("config: key " + k.name + " has a field of an unhandled type")
	}
	return nil
}

// ApplyEnv sets every key whose variable CROWD_<KEY IN CAPITALS> is set
// (CROWD_DATA_DIR, CROWD_LOGIN, ...), using lookup (os.LookupEnv in production).
// On error c is left unchanged.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	n := *c
	for _, k := range keys {
		name := EnvName(k.name)
		if v, ok := lookup(name); ok {
			if err := k.set(&n, v); err != nil {
				return fmt.Errorf("config: %s: %w", name, err)
			}
		}
	}
	*c = n
	return nil
}

// LoadFile reads a YAML file over c. Keys may be written `key:` or CloudCrowd's
// `:key:` (a leading colon is dropped). Values may be YAML scalars of any type
// or, for disabled_actions, a list; an empty value keeps the current setting,
// as a nil did in CloudCrowd. Unknown keys are not errors (CloudCrowd configs
// carry keys crowd does not use, such as node_timeout); they are returned, in
// file order, so the caller can log them. On error c is left unchanged.
func (c *Config) LoadFile(path string) (unknown []string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err) // the *PathError names the file
	}
	n := *c
	unknown, err = n.load(data)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	*c = n
	return unknown, nil
}

func (c *Config) load(data []byte) (unknown []string, err error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 {
		return nil, nil // empty, or only comments
	}
	root := resolve(doc.Content[0])
	if isNull(root) {
		return nil, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: not a mapping of keys to values", root.Line)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		kn, vn := resolve(root.Content[i]), resolve(root.Content[i+1])
		if kn.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: a key must be a name", kn.Line)
		}
		name := strings.TrimPrefix(kn.Value, ":")
		k, ok := lookupKey(name)
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		if err := k.setNode(c, vn); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return unknown, nil
}

// setNode sets k from a YAML value, going through the same text parsers as
// Set so that every type has one parser.
func (k key) setNode(c *Config, v *yaml.Node) error {
	switch {
	case isNull(v):
		return nil
	case v.Kind == yaml.ScalarNode:
		return k.set(c, v.Value)
	case v.Kind == yaml.SequenceNode:
		p, ok := k.field(c).(*[]string)
		if !ok {
			return fmt.Errorf("line %d: a list is not allowed here", v.Line)
		}
		list := []string{}
		for _, item := range v.Content {
			item = resolve(item)
			if item.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: a list item must be a name", item.Line)
			}
			if !isNull(item) {
				list = append(list, item.Value)
			}
		}
		*p = list
		return nil
	}
	return fmt.Errorf("line %d: a mapping is not allowed here", v.Line)
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// Validate reports the first setting that cannot work.
// maxAttempts bounds work_unit_retries, well within what the journal's
// records hold.
const maxAttempts = 1_000_000

func (c Config) Validate() error {
	switch c.Fsync {
	case "group", "interval", "off":
	default:
		return fmt.Errorf("config: fsync: %q is not group, interval or off", c.Fsync)
	}
	switch c.Storage {
	case "filesystem", "s3":
	default:
		return fmt.Errorf("config: storage: %q is not filesystem or s3", c.Storage)
	}
	// Set never produces negative numbers, but a Config can be built by hand.
	for _, k := range keys {
		switch p := k.field(&c).(type) {
		case *time.Duration:
			if *p < 0 {
				return fmt.Errorf("config: %s: %v is negative", k.name, *p)
			}
		case *int:
			if *p < 0 {
				return fmt.Errorf("config: %s: %d is negative", k.name, *p)
			}
		}
	}
	if c.WorkUnitRetries < 1 || c.WorkUnitRetries > maxAttempts {
		return fmt.Errorf("config: work_unit_retries: %d is not from 1 to %d; it counts every attempt", c.WorkUnitRetries, maxAttempts)
	}
	if c.WorkerTimeout <= 0 {
		return errors.New("config: worker_timeout: must be more than 0")
	}
	if c.MaxBody <= 0 {
		return fmt.Errorf("config: max_body: %d bytes is too small; it must be more than 0", c.MaxBody)
	}
	if c.HTTPAuthentication && c.Login == "" {
		return errors.New("config: http_authentication is on but login is empty")
	}
	if c.Listen == "" {
		return errors.New("config: listen: empty; give an address such as :9173")
	}
	if c.DataDir == "" {
		return errors.New("config: data_dir: empty; give a folder for the journal")
	}
	if c.ClusterID != "" {
		peers, err := c.Peers()
		if err != nil {
			return err
		}
		if _, ok := peers[c.ClusterID]; !ok {
			return fmt.Errorf("config: cluster_peers: no peer is cluster_id %q", c.ClusterID)
		}
	}
	if c.ClusterSnapshotEntries < 0 || c.ClusterSnapshotInterval < 0 {
		return errors.New("config: cluster_snapshot_entries and cluster_snapshot_interval must not be negative")
	}
	return nil
}

// Peers reads ClusterPeers: each node's id and API address (host:port).
func (c Config) Peers() (map[string]string, error) {
	peers := make(map[string]string, len(c.ClusterPeers))
	for _, p := range c.ClusterPeers {
		id, addr, ok := strings.Cut(p, "=")
		if !ok || id == "" {
			return nil, fmt.Errorf("config: cluster_peers: %q is not id=host:port", p)
		}
		if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
			return nil, fmt.Errorf("config: cluster_peers: %q is not id=host:port", p)
		}
		if _, dup := peers[id]; dup {
			return nil, fmt.Errorf("config: cluster_peers: %q is there twice", id)
		}
		peers[id] = addr
	}
	return peers, nil
}
