#!/usr/bin/env bash
# Installs the programs that `crowd bench` compares crowd with. The harness
# skips any peer whose program is missing, so this is only needed for a
# side-by-side run. Run as root (or with sudo) from anywhere.
set -euo pipefail

FAKTORY_VERSION=v1.10.0

if command -v apt-get >/dev/null; then
	apt-get update
	# beanstalkd; redis-server (asynq's store, and Faktory starts its own);
	# PostgreSQL for River (initdb and pg_ctl live in its versioned bin
	# folder, which the harness finds by itself); wrk and hyperfine for
	# checks by hand.
	DEBIAN_FRONTEND=noninteractive apt-get install -y beanstalkd redis-server postgresql wrk hyperfine
	# The packages may start system-wide daemons on their default ports; the
	# harness starts its own on free ports and does not need them.
else
	echo "apt-get not found: install beanstalkd, redis-server and postgresql by hand" >&2
fi

# Faktory's server. The module proxy refuses Faktory's version list, which
# `go install pkg@version` asks for (to look up deprecations), so the exact
# version is fetched with go get in a throwaway module and built from there.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bin="$(go env GOPATH)/bin"
mkdir -p "$bin"
(
	cd "$tmp"
	go mod init faktory-install >/dev/null 2>&1
	go mod download "github.com/contribsys/faktory@${FAKTORY_VERSION}"
	go get "github.com/contribsys/faktory/cmd/faktory@${FAKTORY_VERSION}"
	go build -o "$bin/faktory" github.com/contribsys/faktory/cmd/faktory
)
echo "faktory ${FAKTORY_VERSION} installed in $bin (the harness looks there as well as on PATH)"
