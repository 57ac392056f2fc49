#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_cluster.sh on a private PostgreSQL cluster (pg_start): two nodes, one
# broker, one PostgreSQL store.
SMILE_CLUSTER_STORE=postgresql exec bash "$(dirname "$0")/test_cluster.sh"
