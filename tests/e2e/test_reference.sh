#!/bin/bash
# tests/e2e/test_reference.sh - the cases of cases.sh against the Python
# reference daemon (mta-sts-daemon, port 8462) and against mtasts (port 8461),
# side by side in one namespace.  A case passes when both answer the same, or
# when the case carries a documented difference (listed below, spec section 10
# and [D] items).  MTASTS=path selects the binary (default ./mtasts); without
# it every case fails, nothing is skipped.
[ -n "$BASH_VERSION" ] || exec bash "$0" "$@"
. "$(dirname "$0")/lib.sh"
. "$E2E_DIR/cases.sh"

HAVE_MTASTS=yes

# compare ID DESC REF-ANSWER MTASTS-ANSWER EXPECTED [REFTAG]
compare() {
	local id=$1 desc=$2 r m e=$5 tag=${6:-}
	r=$(norm_order "$3")
	m=$(norm_order "$4")
	if [ "$HAVE_MTASTS" != yes ]; then
		fail "$id $desc: no mtasts to compare (ref: $r)"
	elif [ "$r" = "$m" ]; then
		ok "$id $desc: same${tag:+ (documented difference $tag not seen)}"
	elif [ -n "$tag" ]; then
		ok "$id $desc: differs (ref: $r, mtasts: $m), documented: $tag"
	else
		fail "$id $desc: differs (ref: $r, mtasts: $m), expected: $(norm_order "$e")"
	fi
}

# both CMD...: runs "CMD PORT" for the reference and for mtasts at the same
# time; the answers land in $T/ans.ref and $T/ans.mtasts
both() {
	local rp mp
	"$@" ref > "$T/ans.ref" &
	rp=$!
	if [ "$HAVE_MTASTS" = yes ]; then
		"$@" mtasts > "$T/ans.mtasts" &
		mp=$!
		wait "$mp"
	else
		echo "<no mtasts>" > "$T/ans.mtasts"
	fi
	wait "$rp"
}
port_of() { [ "$1" = ref ] && echo $REF_PORT || echo $MTASTS_PORT; }

do_q()     { qport "$(port_of "$3")" "$1" "$2"; }
do_raw()   { local who=${!#}; raw "$(port_of "$who")" "${@:1:$#-1}"; }
do_frame() { inns "$PY" "$TOOLS" framing 127.0.0.1 "$(port_of "$3")" "$1" "$2"; }

pcase() { # ID DESC ZONE KEY EXPECTED [REFTAG]
	both do_q "$3" "$4"
	compare "$1" "$2" "$(cat "$T/ans.ref")" "$(cat "$T/ans.mtasts")" "$5" "${6:-}"
}
kcase() { # ID DESC KEY EXPECTED [REFTAG]
	pcase "$1" "$2" postfix "$3" "$4" "${5:-}"
}
rcase() { # ID DESC N EXPECTED REFTAG CHUNK...
	local id=$1 desc=$2 n=$3 exp=$4 tag=$5
	shift 5
	both do_raw "$n" "$@"
	compare "$id" "$desc" "$(cat "$T/ans.ref")" "$(cat "$T/ans.mtasts")" "$exp" "$tag"
}
fcase() { # ID DESC BAD GOOD EXPECTED [REFTAG]
	both do_frame "$3" "$4"
	compare "$1" "$2" "$(cat "$T/ans.ref")" "$(cat "$T/ans.mtasts")" "$5" "${6:-}"
}

echo "Documented differences of the reference (mta-sts-daemon 1.1.2), each counted as a pass:"
printf '%s\n' "$REF_DIFFS" | sed 's/^/  /'
echo

world_up
write_mtasts_conf
write_ref_conf
start_ref || finish
start_mtasts || HAVE_MTASTS=no
echo "# reference on $REF_PORT, mtasts ($MTASTS) on $MTASTS_PORT: ${HAVE_MTASTS}"

run_cases
pcase HTTP-13 "hang.test: policy host never answers (zone timeout 2)" quick hang.test NOTFOUND
pcase SM-10 "dnsdrop.test: DNS never answers (zone timeout 2)" quick dnsdrop.test NOTFOUND

check SM-12 "reference daemon still running" yes "$(kill -0 "$REF_PID" 2>/dev/null && echo yes || echo no)"
if [ "$HAVE_MTASTS" = yes ]; then
	check SM-12 "mtasts still running" yes "$(kill -0 "$MTASTS_PID" 2>/dev/null && echo yes || echo no)"
fi
if [ "$FAILS" -ne 0 ] && [ -s "$T/mtasts.log" ]; then
	echo "--- tail of the mtasts log"
	tail -n 30 "$T/mtasts.log"
fi
finish
