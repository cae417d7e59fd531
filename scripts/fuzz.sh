#!/usr/bin/env bash
# Runs every fuzz target of the module (e2e/ excepted) for FUZZTIME each
# (default 5s). go test fuzzes one target of one package per run, so each
# gets its own. Database-backed targets need the services env loaded
# (make fuzz does that). A failing input is kept where go test writes it,
# testdata/fuzz/<Target>/, and named; on success nothing new is left there.
set -uo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-5s}"
GO="${GO:-go}"

# "dir Target" lines, e.g. "internal/money FuzzParseMajor".
targets=$(grep -rHoE --include='*_test.go' --exclude-dir={e2e,testdata,vendor,.git,.run} '^func Fuzz[A-Za-z0-9_]*\(' . |
  while IFS= read -r hit; do # ./internal/money/money_test.go:func FuzzParseMajor(
    name=${hit##*:func }
    echo "$(dirname "${hit%%:*}") ${name%(}"
  done | sed 's#^\./##' | sort -u)
if [ -z "$targets" ]; then
  echo "fuzz: no fuzz targets found" >&2
  exit 1
fi

# fuzz_target DIR NAME: one fuzzing run of one target, all output on stdout.
fuzz_target() {
  "$GO" test -run '^$' -fuzz "^$2\$" -fuzztime "$FUZZTIME" "./$1" 2>&1 </dev/null
}

# coordinator_race OUT CORPUS BEFORE: the run failed only because of the
# coordinator's deadline race: no new input appeared in CORPUS, one target
# failed, and its report (the target's own log lines, if any, then the
# coordinator's error) ends in the bare deadline line.
coordinator_race() {
  [ "$(find "$2" -type f 2>/dev/null | sort)" = "$3" ] || return 1
  grep -q 'Failing input written to' <<<"$1" && return 1
  [ "$(grep -c -- '--- FAIL:' <<<"$1")" = 1 ] || return 1
  awk '/--- FAIL:/ { f = 1; next } f && /^[[:space:]]*FAIL[[:space:]]*$/ { exit } f { last = $0 } END { print last }' <<<"$1" |
    grep -qxE '[[:space:]]*context deadline exceeded'
}

failed=()
start=$SECONDS
while read -r dir name; do
  corpus="$dir/testdata/fuzz/$name"
  before=$(find "$corpus" -type f 2>/dev/null | sort)
  t0=$SECONDS
  out=$(fuzz_target "$dir" "$name")
  rc=$?
  # Go up to 1.26 can fail a target at the -fuzztime boundary with a bare
  # "context deadline exceeded" having found nothing: its coordinator reads
  # the expired parent context before the workers' child context is
  # cancelled (go.dev/issue/75804, fixed in Go 1.27). That failure writes no
  # input; a real one always does. Such a run is retried, at most twice (it
  # was seen in about one run in 50).
  retries=0
  while [ $rc -ne 0 ] && [ $retries -lt 2 ] && coordinator_race "$out" "$corpus" "$before"; do
    retries=$((retries + 1))
    echo "retry $name ./$dir: go test reported the fuzztime deadline and wrote no input (go.dev/issue/75804)"
    out=$(fuzz_target "$dir" "$name")
    rc=$?
  done
  # A target grep found but go test did not (a build tag) fuzzed nothing.
  if [ $rc -eq 0 ] && grep -q 'no fuzz tests to fuzz' <<<"$out"; then
    out+=$'\nfuzz: go test did not find the target (build tags?)'
    rc=1
  fi
  new=$(comm -13 <(echo "$before") <(find "$corpus" -type f 2>/dev/null | sort))
  if [ $rc -eq 0 ]; then
    echo "ok    $name ./$dir ($((SECONDS - t0))s)"
    # Only failures belong in the committed corpus.
    [ -n "$new" ] && xargs rm -f <<<"$new"
    continue
  fi
  echo "FAIL  $name ./$dir ($((SECONDS - t0))s)"
  tail -n 40 <<<"$out" | sed 's/^/      /'
  [ -n "$new" ] && echo "      failing input kept: $new"
  failed+=("$name (./$dir)")
done <<<"$targets"

echo "fuzz: $(wc -l <<<"$targets") targets, ${FUZZTIME} each, $((SECONDS - start))s"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'fuzz: FAILED %s\n' "${failed[@]}" >&2
  exit 1
fi
