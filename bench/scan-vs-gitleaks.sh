#!/bin/sh
# gatehouse scan DIR (all three checks) against gitleaks dir alone on the
# same tree, side by side in one run, each in a fresh process:
#   cold      gatehouse scan --no-cache (every file read, every engine run)
#   first     gatehouse scan with an empty finding cache (fills it)
#   again     gatehouse scan of the unchanged tree (the cache answers)
#   gitleaks  gitleaks dir
# RUNS rounds; prints wall time and peak RSS of each run, then the medians
# and the ratios. DIR defaults to trivy's source from the module cache. The
# gitleaks CLI is used when installed, else built from the module gatehouse
# links (go.mod's version).
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
run() { # name, command...
	name=$1
	shift
	/usr/bin/time -f "%e %M" "$@" >/dev/null 2>"$TMP/err" || true
	set -- $(tail -1 "$TMP/err")
	printf '%-9s %6s s  peak RSS %6d MiB\n' "$name" "$1" $(($2 / 1024))
	echo "$1" >>"$TMP/t.$name"
}
for i in $(seq "$RUNS"); do
	rm -f "$TMP/data/scan-cache.db"
	run cold "$TMP/gatehouse" scan --no-cache --data-dir "$TMP/data" --format json "$DIR"
	run first "$TMP/gatehouse" scan --data-dir "$TMP/data" --format json "$DIR"
	run again "$TMP/gatehouse" scan --data-dir "$TMP/data" --format json "$DIR"
	run gitleaks "$GITLEAKS" dir --no-banner --exit-code 0 --report-path "$TMP/gl.json" "$DIR"
done
med() { sort -n "$TMP/t.$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "medians: cold $(med cold) s, first $(med first) s, again $(med again) s, gitleaks dir $(med gitleaks) s"
awk -v c="$(med cold)" -v f="$(med first)" -v a="$(med again)" -v g="$(med gitleaks)" 'BEGIN {
	printf "gatehouse scan vs gitleaks dir alone: %.2fx (cold), %.2fx (first, filling the cache)\n", g / c, g / f
	printf "re-scan of the unchanged tree: %.1fx faster than the first scan\n", f / a }'
echo "load at end: $(cat /proc/loadavg)"
