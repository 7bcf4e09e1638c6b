#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the C unit tests and the busted specs, then prints one total line
# "N passed, N failed" (CI reads it). Exit status non-zero if anything failed.
#   $1 the C test binary   $2 the busted command   $3 extra busted arguments
ctest=$1; busted=$2; extra=$3
log=${TMPDIR:-/tmp}/scopelab-test.$$
trap 'rm -f "$log"' EXIT

"$ctest" | tee "$log"

cline=$(grep -E '^C tests: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
cp=$(echo "$cline" | sed -E 's/.* ([0-9]+) passed.*/\1/'); cp=${cp:-0}
cf=$(echo "$cline" | sed -E 's/.* ([0-9]+) failed.*/\1/'); cf=${cf:-1}
[ -z "$cline" ] && cf=1   # the binary died before its summary

# shellcheck disable=SC2086
$busted $extra spec 2>&1 | tee "$log"
bline=$(grep -E '^[0-9]+ success(es)? / [0-9]+ failures? / [0-9]+ errors?' "$log" | tail -n 1)
bp=$(echo "$bline" | sed -E 's/^([0-9]+) success.*/\1/'); bp=${bp:-0}
bf=$(echo "$bline" | sed -E 's/.* ([0-9]+) failures? \/ ([0-9]+) errors?.*/\1 + \2/')
bf=$(( ${bf:-1} ))
[ -z "$bline" ] && bf=$((bf + 1))   # busted died before its summary

passed=$((cp + bp)); failed=$((cf + bf))
echo
echo "C tests: $cp passed, $cf failed; specs: $bp passed, $bf failed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
