/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mode.h - mode barcodes: scanning "SMILE:MODE:<EVENT>" switches the event
 * that following scans record (docs/bridge.md "Mode barcodes").
 *
 * <EVENT> is an event name of docs/protocol.md in any letter case, '-' or
 * '_' between words: SMILE:MODE:DELIVERED, SMILE:MODE:OUT_FOR_DELIVERY,
 * smile:mode:hub-in. The prefix is matched without regard to case, so a
 * keyboard-wedge scanner with Caps Lock on still switches modes.
 */
#ifndef BRIDGE_MODE_H
#define BRIDGE_MODE_H

#include <stddef.h>

#include "smile/proto.h"

#define BRIDGE_MODE_PREFIX "SMILE:MODE:"

/* 0: code is not a mode barcode; 1: it is one and *event is set; -1: it
 * starts with the prefix but names no event (*event untouched). */
int bridge_mode_parse(const char *code, size_t len, enum smile_event *event) SMILE_MUST_CHECK;

#endif
