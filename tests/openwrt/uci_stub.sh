# tests/openwrt/uci_stub.sh - stand-ins for the parts of OpenWrt's
# /lib/functions.sh and procd.sh that /etc/init.d/mtasts uses, so its
# rendering can run on any POSIX shell.  A UCI file is valid shell once
# "config", "option" and "list" are functions, which is how these
# stand-ins read a fixture: config_load NAME sources $UCI_DIR/NAME.
# procd_* calls and rc.common actions are appended to $STUB_LOG.
# shellcheck shell=dash disable=SC2034

STUB_SECTIONS=""
STUB_CUR=""
STUB_ANON=0

config() {
	local name=$2
	if [ -z "$name" ]; then
		STUB_ANON=$((STUB_ANON + 1))
		name="cfg$STUB_ANON"
	fi
	STUB_SECTIONS="$STUB_SECTIONS $name"
	STUB_CUR=$name
	eval "STUB_TYPE_$name=\$1"
}

option() {
	eval "STUB_V_${STUB_CUR}_$1=\$2"
}

list() {
	local old
	eval "old=\${STUB_V_${STUB_CUR}_$1-}"
	if [ -n "$old" ]; then
		eval "STUB_V_${STUB_CUR}_$1=\"\$old\$STUB_NL\$2\""
	else
		eval "STUB_V_${STUB_CUR}_$1=\$2"
	fi
}
STUB_NL='
'

package() { :; }

config_load() {
	local s
	for s in $STUB_SECTIONS; do
		unset "STUB_TYPE_$s"
	done
	STUB_SECTIONS=""
	STUB_ANON=0
	# shellcheck disable=SC1090
	. "$UCI_DIR/$1"
}

# config_get VAR SECTION OPTION [DEFAULT]  or  config_get SECTION OPTION
# (the locals have odd names: the caller's VAR must not be one of them)
config_get() {
	local _stub_cg
	if [ $# -le 2 ]; then
		eval "printf '%s\n' \"\${STUB_V_$1_$2-}\""
		return 0
	fi
	eval "_stub_cg=\${STUB_V_$2_$3:-\$4}"
	eval "$1=\$_stub_cg"
}

config_get_bool() {
	local _stub_cb
	config_get _stub_cb "$2" "$3" "$4"
	case $_stub_cb in
	1|on|true|yes|enabled) _stub_cb=1 ;;
	0|off|false|no|disabled) _stub_cb=0 ;;
	*) _stub_cb=$4 ;;
	esac
	eval "$1=\$_stub_cb"
}

config_foreach() {
	local fn=$1 type=$2 s t
	for s in $STUB_SECTIONS; do
		eval "t=\${STUB_TYPE_$s}"
		[ "$t" = "$type" ] && "$fn" "$s"
	done
	return 0
}

config_list_foreach() {
	local sec=$1 opt=$2 fn=$3 items item
	shift 3
	eval "items=\${STUB_V_${sec}_${opt}-}"
	[ -n "$items" ] || return 0
	printf '%s\n' "$items" | while IFS= read -r item; do
		"$fn" "$item" "$@"
	done
}

procd_open_instance() { echo "procd_open_instance $*" >> "$STUB_LOG"; }
procd_set_param() { echo "procd_set_param $*" >> "$STUB_LOG"; }
procd_close_instance() { echo "procd_close_instance" >> "$STUB_LOG"; }
procd_send_signal() { echo "procd_send_signal $*" >> "$STUB_LOG"; }
procd_add_reload_trigger() { echo "procd_add_reload_trigger $*" >> "$STUB_LOG"; }
restart() { echo "restart" >> "$STUB_LOG"; }
stop() { echo "stop" >> "$STUB_LOG"; }
