#!/bin/sh
# Dogfood: run gatehouse's own checks on what operators deploy (this
# directory: the Dockerfile, the Helm chart rendered with its defaults, the
# compose file) and fail on anything the built-in policy blocks, or when the
# chart could not be rendered and so was not checked.
#
#   deploy/dogfood.sh                 # builds bin/gatehouse first
#   GATEHOUSE=/path/to/gatehouse deploy/dogfood.sh
#
# The dependencies check is left out by default: deploy/ has no lockfiles
# (it would pass without a DB, but gatehouse scan would first try to
# download one; add it with DOGFOOD_CHECKS=secrets,dependencies,iac).
# `go test ./deploy/` runs the same IaC check in-process (TestDogfoodIaC),
# plus the scaled-out manifests; this script is the CLI's view of it.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
checks=${DOGFOOD_CHECKS:-secrets,iac}
bin=${GATEHOUSE:-}
if [ -z "$bin" ]; then
	make -C "$root" build >/dev/null
	bin=$root/bin/gatehouse
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
"$bin" scan --checks "$checks" "$root/deploy" >"$out" || status=$?
cat "$out"
if [ "$status" -ne 0 ]; then
	echo "dogfood: gatehouse scan exited $status: deploy/ has blocking findings or a check could not run" >&2
	exit 1
fi
# A chart that does not render offline is listed as skipped, not failed.
if grep -q '^  skipped: ' "$out"; then
	echo "dogfood: some of deploy/ was skipped (see above), so it was not checked" >&2
	exit 1
fi
echo "dogfood: deploy/ passes gatehouse's own checks"
