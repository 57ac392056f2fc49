/* SPDX-License-Identifier: Apache-2.0 */
/*
 * svc_retention.c - the retention job: erase personal data as configured,
 * for `serve` (periodically) and the `retention` command (once).
 *
 * It erases as the caller svc_caller_retention, so the store records each
 * erasure ("erasure" audit entry, "erased" event) with "retention" as the
 * reason, and it logs retention.erased once per pass.
 */
#include "smile/log.h"
#include "svc.h"

#define DAY_MS (24LL * 3600 * 1000)

size_t svc_retention_run(struct gateway *g, int64_t now)
{
	uint64_t ids[256];
	size_t n, erased = 0;
	int64_t delivered_before =
		g->cfg.retention_after_delivery_days ? now - g->cfg.retention_after_delivery_days * DAY_MS : 0;
	int64_t created_before =
		g->cfg.retention_after_issue_days ? now - g->cfg.retention_after_issue_days * DAY_MS : 0;

	/* expired and idle console sessions go with the same pass */
	svc_session_purge(g, now);
	if (!delivered_before && !created_before)
		return 0;
	for (;;) {
		size_t before = erased;
		if (smile_store_retention_due(g->store, delivered_before, created_before, ids,
					      sizeof(ids) / sizeof(ids[0]), &n) != SMILE_OK)
			break;
		for (size_t i = 0; i < n; i++)
			if (smile_store_erase_personal(g->store, ids[i], now,
						       svc_caller_retention.door) ==
			    SMILE_OK)
				erased++;
		/* a full page means more may be due; no progress means stop */
		if (n < sizeof(ids) / sizeof(ids[0]) || erased == before)
			break;
	}
	if (erased) {
		smile_metrics_add(SMILE_COUNTER_RETENTION_ERASURES, erased);
		smile_log(SMILE_LOG_INFO, "retention.erased", SMILE_KV_INT("count", (long long)erased));
	}
	return erased;
}
