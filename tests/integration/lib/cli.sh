# shellcheck shell=bash
# Helpers for the integration tests that run only the tapestry CLI on
# files (t_cli_*.sh); sourced.
#
#   cli_init [jq]   T (the tapestry binary), $dir (a temp dir, removed on
#                   exit); with jq, SKIP (exit 77) unless jq is installed
#   fail MSG...     print FAIL and exit 1

: "${BUILD:=build}"
T=${TAPESTRY_ROOT:-$PWD}/$BUILD/bin/tapestry

fail() { echo "FAIL: $*"; exit 1; }

cli_init() {
	if [ "${1:-}" = jq ] && ! command -v jq >/dev/null; then
		echo "SKIP: jq is not installed (scripts/deps.sh installs it)"
		exit 77
	fi
	dir=$(mktemp -d "/tmp/$(basename "$0" .sh).XXXXXX")
	trap 'rm -rf "$dir"' EXIT
}
