#!/bin/sh
# tests/fuzz.sh - libFuzzer targets: fuzz/fuzz_NAME.c with seeds in fuzz/corpus/NAME/
#   sh tests/fuzz.sh regress  run every target over its corpus once
#   sh tests/fuzz.sh gate     the fuzzing inside `make check`: every target
#                             replays its whole corpus, then runs a fixed
#                             number of inputs (runs_for below) from a fixed
#                             seed, so the result depends only on the commit;
#                             what it adds goes to build/fuzz/gate-NAME/ and
#                             is thrown away at the next gate
#   sh tests/fuzz.sh run      open-ended: fuzz each target for FUZZ_SECONDS
#                             (default 60), new inputs go to build/fuzz/new-NAME/
# Folding finds into the corpus: fuzz/README.md.
cd "$(dirname "$0")/.." || exit 2
mode=${1:-regress}
secs=${FUZZ_SECONDS:-60}
seed=${FUZZ_SEED:-1}

# Inputs per target in the gate: about 9 s each on the CI machine (2
# cores, sanitizers) when idle, so all twelve take 1-2 minutes.
# Changing a count or the seed changes what the gate explores: do it in
# a commit of its own.
runs_for() {
	case $1 in
	anchors)   echo 500000 ;;
	conf)      echo 1000000 ;;
	control)   echo 2000000 ;;
	dns)       echo 1000000 ;;
	http)      echo 700000 ;;
	httpd)     echo 700000 ;;
	key)       echo 3000000 ;;
	idn)       echo 1000000 ;;
	netstring) echo 1000000 ;;
	policy)    echo 1500000 ;;
	resp)      echo 1000000 ;;
	snapshot)  echo 400000 ;;
	txt)       echo 1600000 ;;
	x509cache) echo 300000 ;;
	*)         echo 500000 ;;
	esac
}

# A fixed seed is not enough: with address space randomisation on, the
# same seed explores different inputs from run to run (libFuzzer's
# features see addresses), so the gate runs with it off for the fuzzer;
# and the output directory is not reread on a timer (-reload=0 below).
norandom=
if [ "$mode" = gate ]; then
	if setarch "$(uname -m)" -R true 2>/dev/null; then
		norandom="setarch $(uname -m) -R"
	else
		echo "WARNING: setarch -R unavailable: this gate is not reproducible"
	fi
fi

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
	case $mode in
	run)
		mkdir -p "build/fuzz/new-$short"
		"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 \
		    "build/fuzz/new-$short" "$corpus" >"build/fuzz/$name.log" 2>&1
		;;
	gate)
		# the first directory receives new inputs: an empty one each
		# time, so earlier gates do not change this one's starting set
		rm -rf "build/fuzz/gate-$short"
		mkdir -p "build/fuzz/gate-$short"
		# -reload=0: no rereading of that directory every second,
		# which made the inputs run depend on the clock
		$norandom "$bin" -seed="$seed" -runs="$(runs_for "$short")" -reload=0 \
		    -timeout=60 -rss_limit_mb=2048 -print_final_stats=1 \
		    "build/fuzz/gate-$short" "$corpus" >"build/fuzz/$name.log" 2>&1
		;;
	*)
		"$bin" -runs=0 -timeout=10 "$corpus" >"build/fuzz/$name.log" 2>&1
		;;
	esac
	if [ $? -eq 0 ]; then
		pass=$((pass + 1))
		if [ "$mode" = gate ]; then
			echo "ok $name ($(ls "$corpus" | wc -l) seeds, seed $seed," \
			    "$(runs_for "$short") runs, $(grep -o 'cov: [0-9]*' "build/fuzz/$name.log" | tail -1))"
		else
			echo "ok $name ($(ls "$corpus" | wc -l) seeds)"
		fi
	else
		fail=$((fail + 1)); echo "FAIL $name: see build/fuzz/$name.log"
		grep -E 'ERROR|SUMMARY|Test unit written' "build/fuzz/$name.log" | head -5
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
