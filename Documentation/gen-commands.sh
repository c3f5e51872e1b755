#!/bin/sh
# Made from Documentation/command-list.txt, the one list of commands:
#   gen-commands.sh header          the C++ table (PACH_COMMAND_LIST)
#   gen-commands.sh adoc pach.adoc  pach(1) with its COMMANDS lists filled in
set -e
list="$(dirname "$0")/command-list.txt"
case "$1" in
header)
	echo "// Generated from Documentation/command-list.txt by gen-commands.sh."
	echo "#define PACH_COMMAND_LIST(X) \\"
	awk '!/^#/ && NF >= 3 {
		name = substr($1, 6); id = name; gsub("-", "_", id)
		desc = $0; sub(/^[^ \t]+[ \t]+[^ \t]+[ \t]+/, "", desc); gsub(/\\/, "\\\\", desc); gsub(/"/, "\\\"", desc)
		printf "\tX(%s, \"%s\", %s, \"%s\") \\\n", id, name, $2, desc
	}' "$list"
	echo ""
	;;
adoc)
	awk -v list="$list" '
	BEGIN {
		while ((getline line < list) > 0) {
			if (line ~ /^#/ || split(line, f, /[ \t]+/) < 3)
				continue
			desc = line; sub(/^[^ \t]+[ \t]+[^ \t]+[ \t]+/, "", desc)
			text[f[2]] = text[f[2]] "*" f[1] "*(1)::\n  " desc "\n"
		}
	}
	/^\/\/ @porcelain-commands@/ { printf "%s", text["porcelain"]; next }
	/^\/\/ @plumbing-commands@/ { printf "%s", text["plumbing"]; next }
	{ print }' "$2"
	;;
*)
	echo "usage: $0 header | adoc FILE" >&2
	exit 2
	;;
esac
