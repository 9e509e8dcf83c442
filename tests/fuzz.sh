#!/bin/sh
# tests/fuzz.sh - libFuzzer targets: fuzz/fuzz_NAME.c with seeds in fuzz/corpus/NAME/
#   sh tests/fuzz.sh regress   run every target over its corpus once (make check)
#   sh tests/fuzz.sh run       fuzz each target for FUZZ_SECONDS (default 60),
#                              new inputs go to build/fuzz/new-NAME/
cd "$(dirname "$0")/.." || exit 2
mode=${1:-regress}
secs=${FUZZ_SECONDS:-60}
pass=0
fail=0
for src in fuzz/fuzz_*.c; do
	[ -f "$src" ] || continue
	name=$(basename "$src" .c)
	short=${name#fuzz_}
	bin=build/fuzz/$name
	make -s "$bin" >/dev/null 2>&1 || { echo "FAIL build $name"; fail=$((fail + 1)); continue; }
	corpus=fuzz/corpus/$short
	mkdir -p "$corpus"
	if [ "$mode" = run ]; then
		mkdir -p "build/fuzz/new-$short"
		"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 \
		    "build/fuzz/new-$short" "$corpus" >"build/fuzz/$name.log" 2>&1
	else
		"$bin" -runs=0 -timeout=10 "$corpus" >"build/fuzz/$name.log" 2>&1
	fi
	if [ $? -eq 0 ]; then
		pass=$((pass + 1)); echo "ok $name ($(ls "$corpus" | wc -l) seeds)"
	else
		fail=$((fail + 1)); echo "FAIL $name: see build/fuzz/$name.log"
		grep -E 'ERROR|SUMMARY' "build/fuzz/$name.log" | head -5
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
