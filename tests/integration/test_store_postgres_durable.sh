#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# On PostgreSQL nothing is acknowledged before it is durable, although the
# store's write lock is released before the flush (docs/operations.md,
# "Durability"): a write transaction commits asynchronously and the writer
# then waits for a flush covering it. Checked in the WAL itself
# (pg_walinspect, which reads flushed WAL only): when the HTTP answer of an issuance arrives, the commit
# record of the transaction that stored the shipment lies at or below the
# flush position. The WAL writer is slowed to 10 s, so without the flush
# wait the commit would still be in memory when the answer arrives.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/gateway.sh"

pg_start wal_writer_delay=10000 || die "postgres did not start"
psql_smile "CREATE EXTENSION pg_walinspect" >/dev/null || die "pg_walinspect"
D="$T/data"; GW_DATA=$D
SMILE_STORE=$PG_URL gw_init "$D" || die "init failed"
gw_start "$D" || die "gateway did not start"
gw_merchant_key ziyun || die "merchant key"

ship() { # REF -> STATUS, BODY
	api_json POST /v1/shipments "$KM" "$(jq -nc --arg r "$1" '{
	  recipient: {name: "张三明", phone: "13812345678", address: {country: "CN",
	    city: "武汉市", street: "建设大道568号"}},
	  sender: {name: "王小二", phone: "027-85699449", address: {country: "CN",
	    city: "武汉市", street: "中山大道1号"}}, merchant_ref: $r, weight_g: 500}')"
}

durable=0 late=0 n=5 msgs=0
for i in $(seq 1 $n); do
	start=$(psql_smile "SELECT pg_current_wal_insert_lsn()")
	ship "durable-$i"
	flushed=$(psql_smile "SELECT pg_current_wal_flush_lsn()") # as soon as the answer is in
	[ "$STATUS" = 201 ] || { t_eq "issued $i" 201 "$STATUS"; continue; }
	wb=$(jq_get "$BODY" .waybill)
	# the row's xmin: the transaction, or the subtransaction (savepoint) that
	# wrote it, which its top transaction's commit record lists
	xid=$(psql_smile "SELECT xmin FROM shipments WHERE waybill = '$wb'")
	commit_end=$(psql_smile "SELECT end_lsn FROM pg_get_wal_records_info('$start',
		pg_current_wal_flush_lsn()) WHERE resource_manager = 'Transaction'
		AND record_type = 'COMMIT' AND (xid = '$xid' OR description ~ 'subxacts:.*\\m$xid\\M')")
	if [ -z "$commit_end" ]; then
		echo "# shipment $wb (xid $xid): no commit record found after $start"
		late=$((late + 1))
	elif [ "$(psql_smile "SELECT '$commit_end'::pg_lsn <= '$flushed'::pg_lsn")" = t ]; then
		durable=$((durable + 1))
	else
		echo "# shipment $wb: commit ends at $commit_end, flushed only to $flushed"
		late=$((late + 1))
	fi
	msgs=$((msgs + $(psql_smile "SELECT count(*) FROM pg_get_wal_records_info('$start',
		pg_current_wal_flush_lsn()) WHERE resource_manager = 'LogicalMessage'")))
done
t_eq "every issuance's commit was flushed before its answer" "$n/0" "$durable/$late"
t_ok "... by the flush wait's logical message (smile.flush)" [ "$msgs" -ge "$n" ]
gw_stop
t_done
