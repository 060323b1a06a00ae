#!/usr/bin/env bash
# Installs what the tests need when it is missing: Debian packages for the
# built-in actions and the browser tests, versitygw for the S3 store tests,
# and the console tests' npm packages. Safe to run again: it only installs
# what is not there.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v gm >/dev/null || need+=(graphicsmagick)
command -v gs >/dev/null || need+=(ghostscript)
command -v pdftotext >/dev/null || need+=(poppler-utils)
command -v python3 >/dev/null || need+=(python3)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v npm >/dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
	echo "deps: installing Debian packages: ${need[*]}"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi

gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
if ! command -v versitygw >/dev/null && [ ! -x "$gobin/versitygw" ]; then
	echo "deps: installing versitygw"
	go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
fi

if [ -f webui/e2e/package-lock.json ] && [ ! -d webui/e2e/node_modules/playwright-core ]; then
	echo "deps: installing the console tests' npm packages"
	(cd webui/e2e && npm ci --no-audit --no-fund)
fi
go mod download
