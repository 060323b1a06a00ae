// Package peers runs the job servers that crowd bench compares crowd with:
// beanstalkd, Redis + asynq, Faktory and River on PostgreSQL. It is a
// module of its own so that crowd's go.mod carries none of their
// dependencies; it uses crowd's bench package (through a replace directive)
// for the workloads, so every system runs the same code.
package peers

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/documentcloud/crowd/bench"
)

// pgGlob finds PostgreSQL's programs where Debian keeps them, off PATH.
const pgGlob = "/usr/lib/postgresql/*/bin"

// Systems builds the named peers' systems (all variants), with their
// scratch data under dir. A peer whose program is missing is skipped with
// a line saying what to install.
func Systems(names []string, dir string) (systems []bench.System, skipped []string) {
	skip := func(peer, what string) {
		skipped = append(skipped, "skipped: "+peer+" not installed ("+what+")")
	}
	for _, n := range names {
		switch n {
		case "beanstalkd":
			bin, ok := bench.FindProgram("beanstalkd")
			if !ok {
				skip("beanstalkd", "apt-get install beanstalkd")
				continue
			}
			for _, s := range []string{"none", "50", "0"} {
				systems = append(systems, &Beanstalkd{Bin: bin, Dir: dir, Sync: s})
			}
		case "asynq":
			bin, ok := bench.FindProgram("redis-server")
			if !ok {
				skip("asynq", "it needs redis-server: apt-get install redis-server")
				continue
			}
			for _, aof := range []bool{false, true} {
				systems = append(systems, &Asynq{RedisBin: bin, Dir: dir, AOF: aof})
			}
		case "faktory":
			bin, ok := bench.FindProgram("faktory")
			if !ok {
				skip("faktory", "bench/install-peers.sh builds it: go mod download github.com/contribsys/faktory@v1.10.0, then go get and go build of its cmd/faktory")
				continue
			}
			if _, ok := bench.FindProgram("redis-server"); !ok {
				skip("faktory", "it starts its own redis-server: apt-get install redis-server")
				continue
			}
			systems = append(systems, &Faktory{Bin: bin, Dir: dir})
		case "river":
			initdb, ok1 := bench.FindProgram("initdb", pgGlob)
			pgctl, ok2 := bench.FindProgram("pg_ctl", pgGlob)
			if !ok1 || !ok2 {
				skip("river", "it needs PostgreSQL's initdb and pg_ctl: apt-get install postgresql")
				continue
			}
			systems = append(systems, &River{InitDB: initdb, PgCtl: pgctl})
		default:
			skipped = append(skipped, "skipped: "+n+" (no such peer; known: "+strings.Join(bench.PeerNames, ", ")+")")
		}
	}
	return systems, skipped
}

// Versions reports the peers' programs and Go modules.
func Versions(systems []bench.System) map[string]string {
	v := map[string]string{}
	run := func(key, bin string, args ...string) {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err == nil {
			line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
			v[key] = line
		}
	}
	for _, s := range systems {
		switch x := s.(type) {
		case *Beanstalkd:
			run("beanstalkd", x.Bin, "-v")
		case *Asynq:
			run("redis-server", x.RedisBin, "--version")
		case *Faktory:
			run("faktory", x.Bin, "-v")
		case *River:
			run("postgresql", filepath.Join(filepath.Dir(x.PgCtl), "postgres"), "--version")
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			switch d.Path {
			case "github.com/hibiken/asynq", "github.com/riverqueue/river", "github.com/jackc/pgx/v5", "github.com/contribsys/faktory":
				v[d.Path] = d.Version
			}
		}
	}
	return v
}

// Scratch makes the folder for the peers' data.
func Scratch() (string, error) { return os.MkdirTemp("", "crowd-bench-peers-") }
