# SPDX-License-Identifier: Apache-2.0
# Sourced by scripts/demo, scripts/demo-cluster and tests/integration/lib.sh.
#
# free_port: a TCP port on 127.0.0.1 that nothing listens on right now,
# below the kernel's ephemeral range: a port in that range can be taken by
# any outgoing connection (the gateway's to the broker, PostgreSQL, curl)
# between this check and the server's bind ("Address already in use").
free_port() {
	local p i lo span
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	[[ "$lo" =~ ^[0-9]+$ ]] && [ "$lo" -gt 12000 ] || lo=32768
	span=$((lo - 10000))
	for i in $(seq 1 50); do
		p=$((10000 + (RANDOM * 32768 + RANDOM) % span))
		if ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	return 1
}
