#!/bin/sh
# gatehouse scan DIR (all three checks) against gitleaks dir alone on the
# same tree, each run RUNS times in a fresh process; prints wall time and
# peak RSS of each run. DIR defaults to trivy's source from the module
# cache. The gitleaks CLI is used when installed, else built from the
# module gatehouse links (go.mod's version).
#
#   bench/scan-vs-gitleaks.sh [DIR] [RUNS]
set -eu
export GOEXPERIMENT=jsonv2
cd "$(dirname "$0")/.."
DIR=${1:-$(go list -m -f '{{.Dir}}' github.com/aquasecurity/trivy)}
RUNS=${2:-3}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
go build -o "$TMP/gatehouse" ./cmd/gatehouse
if command -v gitleaks >/dev/null 2>&1; then
	GITLEAKS=$(command -v gitleaks)
else
	go build -o "$TMP/gitleaks" github.com/zricethezav/gitleaks/v8
	GITLEAKS=$TMP/gitleaks
fi
go run ./bench/fixturedb "$TMP/data" # the vulnerability DB (fixture), already on disk as in serve
echo "tree: $DIR ($(find "$DIR" -type f | wc -l) files, $(du -sh "$DIR" | cut -f1)); load: $(cat /proc/loadavg)"
for i in $(seq "$RUNS"); do
	/usr/bin/time -f "gatehouse scan: %e s, peak RSS %M KB" "$TMP/gatehouse" scan --data-dir "$TMP/data" --format json "$DIR" >/dev/null 2>"$TMP/err" || true
	tail -1 "$TMP/err"
	/usr/bin/time -f "gitleaks dir:   %e s, peak RSS %M KB" "$GITLEAKS" dir --no-banner --exit-code 0 --report-path "$TMP/gl.json" "$DIR" >/dev/null 2>"$TMP/err" || true
	tail -1 "$TMP/err"
done
echo "load at end: $(cat /proc/loadavg)"
