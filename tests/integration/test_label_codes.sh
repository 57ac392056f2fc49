#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every label scans: Chinese, Latin-diacritic and right-to-left records at
# 203 and 300 dpi on all three sizes, as PNG and as PDF (rasterised by
# pdftoppm at the printer's resolution), decoded by zbarimg: the QR reads back
# the exact token and the Code128 the exact waybill. ZPL carries the same
# data in native ^BQ/^BC with the page size in dots.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/label.sh"

recs="$LABEL_DATA/records.jsonl"
n=$(grep -c . "$recs")
t_eq "three fixture records (Chinese, Polish, Arabic/Hebrew)" 3 "$n"

for size in 100x150 100x180 76x130; do
	for dpi in 203 300; do
		d="$T/$size-$dpi"
		"$LABEL" render --in "$recs" --format png --dpi "$dpi" --size "$size" --out "$d/png/" \
			2>"$d.err"
		t_eq "$size@$dpi: PNG rendered without errors" "0:" "$?:$(cat "$d.err")"
		"$LABEL" render --in "$recs" --format pdf --dpi "$dpi" --size "$size" --out "$d.pdf"
		pages=$(pdfinfo "$d.pdf" 2>/dev/null | awk '/^Pages:/ {print $2}')
		t_eq "$size@$dpi: PDF has one page per label" "$n" "$pages"
		pdftoppm -r "$dpi" -png "$d.pdf" "$d/page"
		for i in $(seq 1 "$n"); do
			wb=$(field "$i" waybill)
			want=$(expected_codes "$i")
			t_eq "$size@$dpi record $i: PNG scans to token and waybill" "$want" \
				"$(decode "$d/png/$wb.png")"
			# pdftoppm names pages page-1.png or page-01.png by page count
			page=$(ls "$d"/page-*"$i".png | head -n1)
			t_eq "$size@$dpi record $i: PDF page scans to token and waybill" "$want" \
				"$(decode "$page")"
		done
		"$LABEL" render --in "$recs" --format zpl --dpi "$dpi" --size "$size" --out "$d.zpl"
		w=$(head -c 64 "$d/png/$(field 1 waybill).png" | od -An -tu1 -j16 -N8 |
			awk '{print $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8}')
		t_eq "$size@$dpi: ZPL has ^XA..^XZ per label" "$n $n" \
			"$(grep -c '^\^XA' "$d.zpl") $(grep -c '^\^XZ' "$d.zpl")"
		t_eq "$size@$dpi: ^PW/^LL are the PNG's size in dots" "$w" \
			"$(grep -m1 -o '^\^PW[0-9]*' "$d.zpl" | cut -c4-) $(grep -m1 -o '^\^LL[0-9]*' "$d.zpl" | cut -c4-)"
		t_eq "$size@$dpi: ^CI28 on every label" "$n" "$(grep -c '^\^CI28$' "$d.zpl")"
		for i in $(seq 1 "$n"); do
			# (grep on the file: t_match pipes, and grep -q closing the pipe
			# early would fail the pipeline under pipefail)
			t_ok "$size@$dpi record $i: native ^BC with the waybill" grep -qE \
				"\\^BCN,[0-9]+,N,N,N,A\\^FD$(field "$i" waybill)\\^FS" "$d.zpl"
			tok=$(field "$i" token | sed 's/[][$.*+\^]/\\&/g')
			t_ok "$size@$dpi record $i: native ^BQ (ECC M, alphanumeric) with the token" \
				grep -qE "\\^BQN,2,[0-9]+,M\\^FDMM,A$tok\\^FS" "$d.zpl"
		done
		t_ok "$size@$dpi: text goes as Z64 graphics" grep -qE \
			'^\^FO[0-9]+,[0-9]+\^GFA,[0-9]+,[0-9]+,[0-9]+,:Z64:[A-Za-z0-9+/=]+:[0-9A-F]{4}\^FS$' \
			"$d.zpl"
		t_fails "$size@$dpi: no printer fonts used for text" grep -qE '\^A[0-9A-Z@]' "$d.zpl"
	done
done

t_done
