#!/bin/bash
# timeout: 60
#
# Issue 2, acceptance 4: each error case of `tapestry report io`,
# `tapestry trace slow` and `tapestryd run` is clear, exits with the
# documented status (2 for bad usage, with the usage on stderr; 1 for
# failures), never crashes, and leaves nothing pinned.
. "$(dirname "$0")/lib_tracer.sh"
tr_init
command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"

# expect STATUS PATTERN CMD...: CMD exits STATUS and its stderr matches
# PATTERN; no output on stdout when it fails; nothing pinned.
expect() {
	local want=$1 pattern=$2 rc
	shift 2
	"$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ $rc -ne "$want" ]; then
		cat "$TMP/err"
		fail "'$*' exited $rc, want $want"
	fi
	grep -q -- "$pattern" "$TMP/err" ||
		{ cat "$TMP/err"; fail "'$*': stderr lacks '$pattern'"; }
	[ ! -s "$TMP/out" ] || { cat "$TMP/out"; fail "'$*' wrote to stdout"; }
	[ ! -e "$PIN_ROOT" ] || fail "'$*' left $PIN_ROOT behind"
	echo "ok: $* -> $rc"
}

P=(--pin-root "$PIN_ROOT")

# Bad flags: usage on stderr, exit 2.
expect 2 "usage: tapestry report io" "$TAPESTRY" report io --bogus "${P[@]}"
expect 2 "bad --interval" "$TAPESTRY" report io --interval 0 "${P[@]}"
expect 2 "bad --interval" "$TAPESTRY" report io --interval soon "${P[@]}"
expect 2 "bad --count" "$TAPESTRY" report io --count -3 "${P[@]}"
expect 2 "exclude each other" "$TAPESTRY" report io --json --prometheus "${P[@]}"
expect 2 "bad --percentiles" "$TAPESTRY" report io --percentiles 50,,99 "${P[@]}"
expect 2 "needs a value" "$TAPESTRY" report io "${P[@]}" --device
expect 2 "bad --attach" "$TAPESTRY" report io --attach kprobe "${P[@]}"
expect 2 "usage: tapestry report" "$TAPESTRY" report
expect 2 "unknown report" "$TAPESTRY" report nosuch
expect 2 "usage: tapestry trace slow" "$TAPESTRY" trace slow --threshold-ms -1 "${P[@]}"
expect 2 "usage: tapestry trace slow" "$TAPESTRY" trace slow --bogus "${P[@]}"
expect 2 "at most 3600000" "$TAPESTRY" trace slow --threshold-ms 4000000 "${P[@]}"
expect 2 "unknown trace" "$TAPESTRY" trace nosuch

# Unknown device: a clear message before anything is loaded.
expect 1 "unknown device 'nosuchdisk0'" "$TAPESTRY" report io --device nosuchdisk0 "${P[@]}"
expect 1 "unknown device 'nosuchdisk0'" "$TAPESTRY" trace slow --device nosuchdisk0 "${P[@]}"

# Capabilities: not root; root without CAP_BPF (and CAP_SYS_ADMIN, which
# the kernel accepts in its place); root without CAP_PERFMON.
expect 1 "not root, and missing capability CAP_BPF" \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$TAPESTRY" report io "${P[@]}"
expect 1 "missing capability CAP_BPF" \
	setpriv --bounding-set=-bpf,-sys_admin --inh-caps=-bpf,-sys_admin \
	"$TAPESTRY" report io "${P[@]}"
expect 1 "missing capability CAP_PERFMON" \
	setpriv --bounding-set=-perfmon,-sys_admin --inh-caps=-perfmon,-sys_admin \
	"$TAPESTRY" report io "${P[@]}"
expect 1 "missing capability CAP_PERFMON" \
	setpriv --bounding-set=-perfmon,-sys_admin --inh-caps=-perfmon,-sys_admin \
	"$TAPESTRY" trace slow "${P[@]}"

# No BTF: the kernel's hidden (an empty directory over /sys/kernel/btf in
# a private mount namespace), unless libbpf would find a vmlinux image
# elsewhere; a BTF file that is not there; one that is not BTF.
r=$(uname -r)
if ! ls /boot/vmlinux-"$r" /lib/modules/"$r"/vmlinux-"$r" \
	/lib/modules/"$r"/build/vmlinux /usr/lib/modules/"$r"/kernel/vmlinux \
	/usr/lib/debug/boot/vmlinux-"$r" /usr/lib/debug/boot/vmlinux-"$r".debug \
	/usr/lib/debug/lib/modules/"$r"/vmlinux >/dev/null 2>&1 &&
   command -v unshare >/dev/null; then
	mkdir -p "$TMP/nobtf"
	for cmd in "$TAPESTRY report io" "$TAPESTRY report zones" \
		   "$TAPESTRYD run"; do
		expect 1 "no BTF for the running kernel: /sys/kernel/btf/vmlinux is missing" \
			unshare -m --propagation private sh -c \
			"mount --bind $TMP/nobtf /sys/kernel/btf && exec $cmd --pin-root $PIN_ROOT"
	done
else
	echo "note: a vmlinux image outside /sys/kernel/btf exists; not hiding BTF"
fi
expect 1 "no BTF: /nonexistent/vmlinux does not exist" \
	"$TAPESTRY" report io --btf /nonexistent/vmlinux "${P[@]}"
echo "not btf" > "$TMP/bogus.btf"
expect 1 "is not a BTF file" "$TAPESTRY" report io --btf "$TMP/bogus.btf" "${P[@]}"

# tapestryd run: the same cases, and a pin root off bpffs.  A daemon that
# fails to start leaves neither pins nor the directory it made.
expect 2 "usage: tapestryd run" "$TAPESTRYD" run --bogus "${P[@]}"
expect 2 "bad --slow-ms" "$TAPESTRYD" run --slow-ms -5 "${P[@]}"
expect 1 "missing capability CAP_BPF" \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$TAPESTRYD" run "${P[@]}"
expect 1 "missing capability CAP_PERFMON" \
	setpriv --bounding-set=-perfmon,-sys_admin --inh-caps=-perfmon,-sys_admin \
	"$TAPESTRYD" run "${P[@]}"
expect 1 "no BTF: /nonexistent/vmlinux does not exist" \
	"$TAPESTRYD" run --btf /nonexistent/vmlinux "${P[@]}"
expect 1 "not on a BPF filesystem" "$TAPESTRYD" run --pin-root "$TMP/not-bpffs"
[ ! -e "$TMP/not-bpffs" ] || fail "tapestryd made a directory off bpffs"

# --help works everywhere and exits 0.
for cmd in "report io" "report" "trace slow" "trace" ""; do
	# shellcheck disable=SC2086
	"$TAPESTRY" $cmd --help >"$TMP/out" 2>&1 || fail "'$cmd --help' failed"
	grep -q "usage:" "$TMP/out" || fail "'$cmd --help' prints no usage"
done
for cmd in "run" ""; do
	# shellcheck disable=SC2086
	"$TAPESTRYD" $cmd --help >"$TMP/out" 2>&1 || fail "'tapestryd $cmd --help' failed"
	grep -q "usage:" "$TMP/out" || fail "'tapestryd $cmd --help' prints no usage"
done
echo "PASS"
