// SPDX-License-Identifier: Apache-2.0
// Reads a batch file in the browser: JSON Lines (one shipment object a line,
// exactly POST /v1/shipments's body) or CSV with a header row of the column
// names below (docs/console.md, "Batch upload"). Each line becomes either a
// shipment or a parse error naming what was wrong; nothing is sent from here.
'use strict';
(function () {
const PARTY = ['name', 'phone'];
const ADDR = ['country', 'province', 'city', 'district', 'street', 'detail'];
const TOP = ['merchant', 'merchant_ref', 'service', 'weight_g', 'parcels', 'note'];
const INTS = { weight_g: 1, parcels: 1 };
const COLUMNS = (() => {
	const c = [];
	for (const p of ['recipient', 'sender']) {
		for (const f of PARTY) c.push(`${p}_${f}`);
		for (const f of ADDR) c.push(`${p}_${f}`);
	}
	return c.concat(TOP);
})();

// RFC 4180 CSV -> [{line, cells}] (line is 1-based, where the record starts);
// a record's quoted value may span lines. Throws {line, code:'parse_quote'}.
function csvRecords(text) {
	const out = [];
	let i = 0, line = 1, start = 1, cells = [], cell = '', quoted = false, any = false;
	const n = text.length;
	while (i < n) {
		const ch = text[i];
		if (quoted) {
			if (ch === '"') {
				if (text[i + 1] === '"') { cell += '"'; i += 2; continue; }
				quoted = false; i++; continue;
			}
			if (ch === '\n') line++;
			cell += ch; i++; continue;
		}
		if (ch === '"' && cell === '') { quoted = true; any = true; i++; continue; }
		if (ch === ',') { cells.push(cell); cell = ''; any = true; i++; continue; }
		if (ch === '\r' && text[i + 1] === '\n') { i++; continue; }
		if (ch === '\n' || ch === '\r') {
			cells.push(cell);
			if (any || cells.length > 1 || cells[0] !== '') out.push({ line: start, cells });
			cells = []; cell = ''; any = false; line++; start = line; i++; continue;
		}
		cell += ch; any = true; i++;
	}
	if (quoted) throw { line: start, code: 'parse_quote' };
	cells.push(cell);
	if (any || cells.length > 1 || cells[0] !== '') out.push({ line: start, cells });
	return out;
}

function rowToShipment(header, cells) {
	const s = { recipient: { address: {} }, sender: { address: {} } };
	header.forEach((col, k) => {
		const v = cells[k].trim();
		if (v === '') return;
		const m = /^(recipient|sender)_(\w+)$/.exec(col);
		if (m) {
			if (PARTY.includes(m[2])) s[m[1]][m[2]] = v;
			else s[m[1]].address[m[2]] = v;
		} else if (INTS[col] && /^\d+$/.test(v)) {
			s[col] = Number(v);
		} else {
			s[col] = v; // a non-number weight goes as text: the API names the field
		}
	});
	return s;
}

// parse(text, filename) -> {items: [{line, ref, shipment} | {line, ref, error:{key, vars}}]}
// or {fatal: {key, vars}} when the file as a whole cannot be read.
function parse(text, name) {
	if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
	const items = [];
	const looksJson = /\.(jsonl|ndjson|json)$/i.test(name || '') || /^\s*[{[]/.test(text);
	if (looksJson) {
		const lines = text.split(/\r?\n/);
		lines.forEach((l, k) => {
			if (!l.trim()) return;
			let v;
			try { v = JSON.parse(l); } catch (e) { items.push({ line: k + 1, ref: '', error: { key: 'parse_json' } }); return; }
			if (!v || typeof v !== 'object' || Array.isArray(v)) { items.push({ line: k + 1, ref: '', error: { key: 'parse_object' } }); return; }
			items.push({ line: k + 1, ref: typeof v.merchant_ref === 'string' ? v.merchant_ref : '', shipment: v });
		});
		return { items };
	}
	let recs;
	try { recs = csvRecords(text); } catch (e) { return { fatal: { key: e.code, vars: {}, line: e.line } }; }
	if (!recs.length) return { items };
	const header = recs[0].cells.map(c => c.trim().toLowerCase());
	const bad = header.find(c => !COLUMNS.includes(c));
	if (bad !== undefined) return { fatal: { key: 'parse_header', vars: { c: bad }, line: recs[0].line } };
	for (const r of recs.slice(1)) {
		if (r.cells.length !== header.length) {
			items.push({ line: r.line, ref: '', error: { key: 'parse_cols', vars: { n: r.cells.length, m: header.length } } });
			continue;
		}
		const sh = rowToShipment(header, r.cells);
		items.push({ line: r.line, ref: sh.merchant_ref || '', shipment: sh });
	}
	return { items };
}

// A CSV a merchant can fill in: every column, and one example row that the
// API accepts as it is.
const EXAMPLE = {
	recipient_name: '张三明', recipient_phone: '13812345678', recipient_country: 'CN', recipient_province: '湖北省',
	recipient_city: '武汉市', recipient_district: '江汉区', recipient_street: '建设大道568号', recipient_detail: '3栋2单元1502室',
	sender_name: '王小二', sender_phone: '027-85699449', sender_country: 'CN', sender_province: '湖北省',
	sender_city: '武汉市', sender_district: '江汉区', sender_street: '泛海国际SOHO城', sender_detail: '7栋1201室',
	merchant_ref: 'order-1001', service: 'STANDARD', weight_g: '1200', parcels: '1', note: '易碎品，请轻拿轻放',
};
function template() {
	const cols = COLUMNS.filter(c => c !== 'merchant');
	const cell = v => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
	return `${cols.join(',')}\r\n${cols.map(c => cell(EXAMPLE[c] || '')).join(',')}\r\n`;
}

window.SmileBatch = { parse, csvRecords, template, COLUMNS };
})();
