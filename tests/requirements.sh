#!/bin/sh
# tests/requirements.sh - every requirement ID cited in the code, the tests
# and the README is defined in docs/requirements.md, and each definition
# is there once.  IDs look like HTTP-14; names such as RSA-2048, UTF-8 or
# CRC-32 are not IDs.
cd "$(dirname "$0")/.." || exit 2
doc=docs/requirements.md
notids='^(RSA|UTF|CRC|NOW|SHA|ISO|RFC|TLS1|AES)-'
pass=0
fail=0
cited=$(grep -rhoE '\b[A-Z]{2,6}-[0-9]+\b' --include='*.c' --include='*.h' \
    --include='*.sh' --include='*.py' --include='*.md' --include=Makefile \
    --include=README --include='*.conf' \
    *.c *.h tests fuzz bench man contrib README Makefile mta-sts.conf 2>/dev/null |
    grep -vE "$notids" | sort -u)
for id in $cited; do
	n=$(grep -cE "^- \*\*$id\*\* " "$doc")
	if [ "$n" -eq 1 ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAIL $id: defined $n times in $doc"
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
