// SPDX-License-Identifier: Apache-2.0
// The merchant console (docs/console.md): sign-in, the shipments list with
// live updates, a shipment's detail, the new shipment form and batch upload.
//
// One idea holds it together: the console is only another client of the
// JSON API (docs/api.md). The session cookie stands in for the API key, every
// state change carries the X-CSRF-Token the session gave us, and any 401 means
// the session is over: back to sign-in, saying so. Views are sections of
// index.html switched by the URL's fragment (#/, #/s/WAYBILL, #/new, #/batch);
// nothing is built from HTML strings, so no value can become markup.
'use strict';
(function () {
const { t } = window.I18N;
const $ = (sel, root) => (root || document).querySelector(sel);
const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
const PAGE = 25;
const BATCH_CHUNK = 100;
const BATCH_MAX_LINES = 10000;
const STATUSES = ['created', 'pickup', 'hub_in', 'hub_out', 'out_for_delivery', 'delivery_failed', 'delivered', 'returned'];

let session = null; // {csrf_token, role, merchant, expires_at}
let expiryTimer = 0;
let idleTimer = 0;
let stream = null;
let view = null;
const list = { q: '', status: '', cursors: [''], page: 0, rows: new Map(), reloadTimer: 0 };
let detailWb = null;
let detailEvents = new Set();

// ---------------------------------------------------------------- helpers

function el(tag, attrs, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false) continue;
		if (k === 'class') e.className = v;
		else if (k === 'text') e.textContent = v;
		else if (k.startsWith('data-')) e.setAttribute(k, v);
		else if (k in e && typeof v !== 'string') e[k] = v;
		else e.setAttribute(k, v);
	}
	for (const c of kids) if (c !== null && c !== undefined) e.append(c.nodeType ? c : String(c));
	return e;
}
function fmtTime(s) {
	if (!s) return '';
	const d = typeof s === 'number' ? new Date(s) : new Date(s);
	if (isNaN(d)) return String(s);
	return new Intl.DateTimeFormat(window.I18N.locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}
function statusText(s) { return window.I18N.has(`st_${s}`) ? t(`st_${s}`) : String(s || ''); }
function badge(status) {
	return el('span', { class: `badge badge-${/^[a-z_]+$/.test(status || '') ? status : 'other'}`, 'data-status': status || '' }, statusText(status));
}
function randomKey() {
	const b = new Uint8Array(16);
	crypto.getRandomValues(b);
	return 'console-' + Array.from(b, x => x.toString(16).padStart(2, '0')).join('');
}

function banner(kind, text) {
	const b = $('#tpl-banner').content.firstElementChild.cloneNode(true);
	b.classList.add(`banner-${kind}`);
	$('.banner-text', b).textContent = text;
	$('.banner-close', b).setAttribute('aria-label', t('dismiss'));
	$('.banner-close', b).addEventListener('click', () => b.remove());
	$('#banners').append(b);
	if (kind !== 'error') setTimeout(() => b.remove(), 6000);
	return b;
}
function clearBanners() { $('#banners').replaceChildren(); }

function apiErrorText(res) {
	if (!res) return t('err_network');
	if (res.status === 403) return t('err_forbidden');
	if (res.status === 404) return t('err_not_found');
	if (res.status === 429) return t('err_rate');
	const e = res.data && res.data.error;
	if (res.status >= 500 || !e) return t('err_server', { s: res.status });
	return errorText(e);
}
// the API's messages are English (docs/api.md): in Chinese, the error code's
// own words lead, the message follows as the detail
function codeText(e) {
	return window.I18N.lang === 'zh' && e.code && window.I18N.has(`code_${e.code}`) ? t(`code_${e.code}`) : '';
}
function errorText(e) {
	const msg = e.field ? `${e.field}: ${e.message}` : e.message;
	const code = codeText(e);
	return code ? `${code}：${msg}` : msg;
}

// fetch a JSON API; {status, data, headers}. A 401 ends the session.
async function api(method, path, body, headers, retried) {
	const h = Object.assign({ Accept: 'application/json' }, headers || {});
	if (method !== 'GET' && method !== 'HEAD' && session) h['X-CSRF-Token'] = session.csrf_token;
	const init = { method, headers: h, credentials: 'same-origin', cache: 'no-store' };
	if (body !== undefined) { h['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
	touch();
	let r;
	try { r = await fetch(path, init); } catch (e) { return { status: 0, data: null, network: true }; }
	let data = null;
	const ct = r.headers.get('Content-Type') || '';
	if (ct.includes('json')) { try { data = await r.json(); } catch (e) { data = null; } }
	if (r.status === 401 && session && !path.startsWith('/console/api/session')) expire();
	// 403 csrf: this page's token is an older session's (signed in again in
	// another tab): take the current one and try once more
	if (r.status === 403 && !retried && session && data && data.error && data.error.code === 'csrf') {
		await checkSession();
		if (session) return api(method, path, body, headers, true);
	}
	return { status: r.status, data, headers: r.headers };
}

// ---------------------------------------------------------------- session

// Keep what the server says of the session (top bar, timers); startSession
// also opens the live stream.
function applySession(s) {
	session = s;
	$('#topbar').hidden = false;
	const m = $('#merchant-name');
	m.textContent = s.merchant || s.role || '';
	m.title = s.role || '';
	clearTimeout(expiryTimer);
	const at = Date.parse(s.expires_at || '');
	if (!isNaN(at)) {
		// past the expiry the server refuses the cookie; ask it, so a clock
		// that differs from the server's does not sign anyone out early
		expiryTimer = setTimeout(checkSession, Math.min(Math.max(at - Date.now() + 1000, 1000), 0x7fffffff));
	}
}
function startSession(s) {
	applySession(s);
	openStream();
}
// The server also ends a session unused for idle_timeout_s: when that much
// time has passed without a request, ask it, so an idle console says so
// instead of failing at the next click.
function touch() {
	clearTimeout(idleTimer);
	if (session && session.idle_timeout_s > 0) idleTimer = setTimeout(checkSession, (session.idle_timeout_s + 5) * 1000);
}
function endSession() {
	session = null;
	clearTimeout(expiryTimer);
	clearTimeout(idleTimer);
	clearTimeout(streamTimer);
	streamTimer = 0;
	if (stream) { stream.close(); stream = null; }
	$('#topbar').hidden = true;
	list.rows.clear();
}
async function checkSession() {
	const r = await api('GET', '/console/api/session');
	if (!session) return;
	if (r.status === 200 && r.data) {
		// another tab signed in again, maybe with another key: show its data
		const other = session.key_id && r.data.key_id !== session.key_id;
		applySession(r.data);
		if (other) route();
	} else if (r.status === 401) expire();
}
function expire() {
	if (!session) return;
	endSession();
	showSignin('session_expired');
}
function showSignin(msgKey) {
	show('signin');
	const m = $('#signin-msg');
	m.hidden = !msgKey;
	if (msgKey) m.textContent = t(msgKey);
	m.dataset.key = msgKey || '';
	$('#api-key-error').hidden = true;
	$('#api-key').value = '';
	$('#api-key').focus();
}
async function signIn(ev) {
	ev.preventDefault();
	const key = $('#api-key').value.trim();
	const err = $('#api-key-error');
	const btn = $('#signin-form button[type=submit]');
	err.hidden = true;
	if (!key) { err.textContent = t('api_key_missing'); err.hidden = false; $('#api-key').focus(); return; }
	btn.disabled = true; btn.textContent = t('signing_in');
	const r = await api('POST', '/console/api/session', { api_key: key });
	btn.disabled = false; btn.textContent = t('sign_in');
	if (r.status === 200 || r.status === 201) {
		$('#api-key').value = '';
		$('#signin-msg').hidden = true;
		startSession(r.data);
		if (!location.hash || location.hash === '#') location.hash = '#/';
		route();
		return;
	}
	err.textContent = r.status === 401 || r.status === 403 || r.status === 422 ? t('api_key_bad') : apiErrorText(r);
	err.hidden = false;
	$('#api-key').setAttribute('aria-invalid', 'true');
	$('#api-key').focus();
}
async function signOut() {
	const r = await api('DELETE', '/console/api/session');
	if (r.network) { banner('error', t('err_network')); return; }
	endSession();
	history.replaceState(null, '', '#/');
	showSignin('signed_out');
}

// ---------------------------------------------------------------- live updates

function setLive(state) {
	const dot = $('#live-dot');
	dot.className = `live-dot live-${state}`;
	const txt = $('#live-text');
	txt.dataset.i18n = state === 'on' ? 'live_on' : state === 'off' ? 'live_off' : 'live_connecting';
	txt.textContent = t(txt.dataset.i18n);
}
let streamRetry = 0, streamTimer = 0;
function openStream() {
	if (stream || !session || typeof EventSource === 'undefined') return;
	clearTimeout(streamTimer);
	streamTimer = 0;
	setLive('connecting');
	const es = stream = new EventSource('/v1/events/stream', { withCredentials: true });
	es.addEventListener('open', () => { streamRetry = 0; setLive('on'); });
	es.addEventListener('error', async () => {
		if (stream !== es) return;
		setLive('off');
		// the browser retries a dropped stream by itself; a closed one was
		// refused (401: the session ended; 503: the node is full): ask
		// whether the session lives, then try again later, backing off
		if (es.readyState !== EventSource.CLOSED) return;
		stream = null;
		await checkSession();
		if (session && !streamTimer) streamTimer = setTimeout(openStream, Math.min(60000, 2000 * 2 ** streamRetry++));
	});
	// the gateway names its events "event" (docs/console.md); unnamed ones
	// arrive as "message"
	const onMessage = e => {
		let ev;
		try { ev = JSON.parse(e.data); } catch (x) { return; }
		if (ev && typeof ev.waybill === 'string') onEvent(ev);
	};
	es.addEventListener('event', onMessage);
	es.addEventListener('message', onMessage);
}
function eventStatus(ev) { return ev.status || ev.event; }
function onEvent(ev) {
	const st = eventStatus(ev);
	const row = list.rows.get(ev.waybill);
	if (row && st && st !== 'erased') {
		$('.cell-status', row).replaceChildren(badge(st));
		row.classList.remove('flash');
		void row.offsetWidth; // restart the animation
		row.classList.add('flash');
	} else if (!row && view === 'list' && list.page === 0 && !list.q && !list.status) {
		clearTimeout(list.reloadTimer);
		list.reloadTimer = setTimeout(() => loadList(true), 400);
	}
	if (view === 'detail' && detailWb === ev.waybill) {
		addTimeline(ev, true);
		if (st && st !== 'erased') $('#d-status').replaceChildren(badge(st));
	}
}

// ---------------------------------------------------------------- views

function show(name) {
	view = name;
	for (const s of $$('.view')) s.hidden = s.id !== `view-${name}`;
	for (const a of $$('[data-nav]')) {
		if (a.dataset.nav === name || (name === 'detail' && a.dataset.nav === 'list')) a.setAttribute('aria-current', 'page');
		else a.removeAttribute('aria-current');
	}
	document.body.dataset.view = name;
	const h = $(`#view-${name} h1`);
	document.title = `${h && h.textContent && name !== 'detail' ? h.textContent + ' · ' : ''}Smile`;
}

function parseHash() {
	const h = location.hash.replace(/^#/, '') || '/';
	const [path, qs] = h.split('?');
	return { path, params: new URLSearchParams(qs || '') };
}
let firstRoute = true;
function route() {
	clearBanners(); // they spoke of the page left behind
	if (!session) { showSignin($('#signin-msg').dataset.key || ''); return; }
	const { path, params } = parseHash();
	const m = /^\/s\/([A-Za-z0-9-]{1,32})$/.exec(path);
	if (m) { show('detail'); loadDetail(m[1]); }
	else if (path === '/new') { show('new'); }
	else if (path === '/batch') { show('batch'); }
	else {
		show('list');
		list.q = params.get('q') || '';
		list.status = STATUSES.includes(params.get('status')) ? params.get('status') : '';
		$('#q').value = list.q;
		$('#status').value = list.status;
		list.cursors = ['']; list.page = 0;
		loadList();
	}
	if (!firstRoute) $('#main').focus({ preventScroll: true });
	firstRoute = false;
	window.scrollTo(0, 0);
}

// ---------------------------------------------------------------- list

function listQuery(extra) {
	const p = new URLSearchParams();
	if (list.status) p.set('status', list.status);
	if (list.q) p.set('q', list.q);
	for (const [k, v] of Object.entries(extra || {})) if (v !== '' && v !== undefined) p.set(k, v);
	return p.toString();
}
function recipientText(s) {
	const r = s.recipient || (s.label && s.label.recipient) || {};
	const name = s.recipient_name || r.name || '';
	// region is "CN/湖北省/武汉市/江汉区" (empty parts left empty)
	const region = typeof s.region === 'string' ? s.region.split('/').filter(Boolean).join(' ') : '';
	const city = region || (Array.isArray(r.address) ? r.address[0] : '') || '';
	return [name, city].filter(Boolean).join(' · ');
}
async function loadList(quiet) {
	const table = $('#list-table'), empty = $('#list-empty'), loading = $('#list-loading');
	if (!quiet) { loading.hidden = false; table.hidden = true; empty.hidden = true; $('#pager').hidden = true; }
	$('#export-csv').href = `/v1/shipments?${listQuery({ format: 'csv' })}`;
	const r = await api('GET', `/v1/shipments?${listQuery({ limit: PAGE, cursor: list.cursors[list.page] })}`);
	loading.hidden = true;
	if (view !== 'list') return;
	if (r.status !== 200 || !r.data) { if (r.status !== 401) banner('error', apiErrorText(r)); return; }
	const rows = r.data.shipments || [];
	list.rows.clear();
	const body = $('#list-body');
	body.replaceChildren(...rows.map(s => {
		const tr = el('tr', { 'data-waybill': s.waybill },
			el('td', { class: 'cell-wb', 'data-label': t('waybill') }, el('a', { class: 'mono', href: `#/s/${encodeURIComponent(s.waybill)}` }, s.waybill)),
			el('td', { class: 'cell-ref', 'data-label': t('merchant_ref') }, s.merchant_ref || '—'),
			el('td', { class: 'cell-rcpt', 'data-label': t('recipient') }, recipientText(s) || '—'),
			el('td', { class: 'cell-status', 'data-label': t('status') }, badge(s.status)),
			el('td', { class: 'cell-created', 'data-label': t('created') }, fmtTime(s.created_at)));
		list.rows.set(s.waybill, tr);
		return tr;
	}));
	table.hidden = rows.length === 0;
	const filtered = !!(list.q || list.status);
	empty.hidden = rows.length !== 0;
	$('h2', empty).textContent = t(filtered ? 'empty_filtered_title' : 'empty_title');
	$('#list-empty-text').textContent = t(filtered ? 'empty_filtered_text' : 'empty_text');
	$('.empty-actions', empty).hidden = filtered;
	const next = r.data.next_cursor || '';
	list.cursors.length = list.page + 1;
	if (next) list.cursors.push(next);
	$('#pager').hidden = list.page === 0 && !next;
	$('#prev-page').disabled = list.page === 0;
	$('#next-page').disabled = !next;
	$('#page-no').textContent = t('page', { n: list.page + 1 });
}
function onFilter(ev) {
	ev.preventDefault();
	const p = new URLSearchParams();
	const q = $('#q').value.trim();
	const st = $('#status').value;
	if (q) p.set('q', q);
	if (st) p.set('status', st);
	const h = `#/${p.toString() ? '?' + p : ''}`;
	if (location.hash === h) route(); else location.hash = h;
}

// ---------------------------------------------------------------- detail

function kv(dl, key, value) {
	if (value === undefined || value === null || value === '') return;
	dl.append(el('dt', {}, t(key)), el('dd', {}, value));
}
function party(p) {
	if (!p) return null;
	const lines = Array.isArray(p.address) ? p.address : [];
	return el('div', { class: 'party' },
		el('div', { class: 'party-name' }, p.name || ''),
		el('div', { class: 'party-phone mono' }, p.phone || ''),
		...lines.map(l => el('div', { class: 'party-addr' }, l)));
}
function timelineItem(ev) {
	const st = ev.event || ev.status || '';
	const src = ev.source && window.I18N.has(`src_${ev.source}`) ? t(`src_${ev.source}`) : '';
	const role = ev.device_role && window.I18N.has(`role_${ev.device_role}`) ? t('by_role', { r: t(`role_${ev.device_role}`) }) : '';
	return el('li', { class: `tl-item tl-${/^[a-z_]+$/.test(st) ? st : 'other'}`, 'data-event': st },
		el('span', { class: 'tl-dot', 'aria-hidden': 'true' }),
		el('div', { class: 'tl-body' },
			el('div', { class: 'tl-title' }, statusText(st)),
			el('div', { class: 'tl-meta muted' }, [fmtTime(ev.time || ev.time_ms), src, role].filter(Boolean).join(' · '))));
}
function addTimeline(ev, live) {
	const id = ev.event_id || `${ev.event}-${ev.time_ms || ev.time}`;
	if (detailEvents.has(id)) return;
	detailEvents.add(id);
	const ol = $('#d-timeline');
	const empty = $('.tl-empty', ol);
	if (empty) empty.remove();
	const li = timelineItem(ev);
	if (live) li.classList.add('flash');
	ol.prepend(li);
}
async function loadDetail(wb) {
	detailWb = wb;
	detailEvents = new Set();
	$('#detail').hidden = true;
	$('#detail-loading').hidden = false;
	const [s, e] = await Promise.all([
		api('GET', `/v1/shipments/${encodeURIComponent(wb)}`),
		api('GET', `/v1/shipments/${encodeURIComponent(wb)}/events`)]);
	if (detailWb !== wb || view !== 'detail') return;
	$('#detail-loading').hidden = true;
	if (s.status !== 200 || !s.data) { if (s.status !== 401) banner('error', apiErrorText(s)); return; }
	renderDetail(s.data);
	const ol = $('#d-timeline');
	ol.replaceChildren();
	const evs = (e.status === 200 && e.data && e.data.events) || [];
	evs.slice().sort((a, b) => (a.time_ms || 0) - (b.time_ms || 0)).forEach(x => addTimeline(x, false));
	if (!evs.length) ol.append(el('li', { class: 'tl-empty muted' }, t('no_events')));
	$('#detail').hidden = false;
	document.title = `${wb} · Smile`;
}
function renderDetail(d) {
	const label = d.label || {};
	$('#d-waybill').textContent = d.waybill;
	$('#d-ref').textContent = d.merchant_ref ? t('ref_line', { ref: d.merchant_ref }) : '';
	$('#d-status').replaceChildren(badge(d.status));
	const dl = $('#d-kv');
	dl.replaceChildren();
	kv(dl, 'merchant', d.merchant || label.merchant);
	kv(dl, 'created', fmtTime(d.created_at));
	kv(dl, 'service', label.service && window.I18N.has(`svc_${label.service}`) ? t(`svc_${label.service}`) : label.service);
	kv(dl, 'weight', label.weight_g ? `${(label.weight_g / 1000).toFixed(2)} kg` : '');
	kv(dl, 'parcels', label.parcel ? String(label.parcel.count) : '');
	kv(dl, 'sort_code', label.sort_code);
	kv(dl, 'recipient', party(label.recipient));
	kv(dl, 'sender', party(label.sender));
	kv(dl, 'note', label.note);
	const base = `/v1/shipments/${encodeURIComponent(d.waybill)}/label?format=`;
	for (const f of ['png', 'pdf', 'zpl']) {
		const a = $(`#dl-${f}`);
		a.href = base + f;
		a.setAttribute('download', `${d.waybill}.${f}`);
	}
	const erased = d.personal_data === 'erased';
	$('#d-personal').textContent = erased ? (d.erased_at ? t('erased', { t: fmtTime(d.erased_at) }) : t('erased_plain')) : t('held');
	$('#d-personal').dataset.state = erased ? 'erased' : 'held';
	$('#erase-btn').hidden = erased;
	$('#erase-btn').disabled = session && session.role === 'warehouse';
}
function askErase() {
	$('#erase-wb').textContent = detailWb;
	const dlg = $('#erase-dialog');
	dlg.returnValue = '';
	dlg.showModal();
	$('#erase-cancel').focus();
}
async function onEraseClose() {
	if ($('#erase-dialog').returnValue !== 'erase' || !detailWb) { $('#erase-btn').focus(); return; }
	const wb = detailWb;
	const btn = $('#erase-btn');
	btn.disabled = true;
	const r = await api('DELETE', `/v1/shipments/${encodeURIComponent(wb)}/personal`);
	btn.disabled = false;
	if (r.status !== 200) { if (r.status !== 401) banner('error', apiErrorText(r)); return; }
	banner('success', t('erase_done'));
	if (view === 'detail' && detailWb === wb) loadDetail(wb);
}

// ---------------------------------------------------------------- new shipment

const PARTY_FIELDS = [
	['name', 'name', { required: true, autocomplete: 'off', maxlength: 64 }],
	['phone', 'phone', { required: true, inputmode: 'tel', autocomplete: 'off', maxlength: 32 }],
	['address.country', 'country', { maxlength: 64, value: 'CN' }],
	['address.province', 'province', { maxlength: 64 }],
	['address.city', 'city', { required: true, maxlength: 64 }],
	['address.district', 'district', { maxlength: 64 }],
	['address.street', 'street', { required: true, maxlength: 64, wide: true }],
	['address.detail', 'detail', { maxlength: 128, wide: true, hint: 'detail_hint' }],
];
function buildPartyFields() {
	for (const grid of $$('[data-party]')) {
		const p = grid.dataset.party;
		for (const [path, key, o] of PARTY_FIELDS) {
			const id = `f-${p}-${path.replace('.', '-')}`;
			const input = el('input', { id, name: `${p}.${path}`, maxlength: o.maxlength, autocomplete: o.autocomplete || 'off',
				inputmode: o.inputmode, required: o.required ? 'required' : null, value: o.value });
			grid.append(el('div', { class: `field${o.wide ? ' field-wide' : ''}` },
				el('label', { for: id, 'data-i18n': key }, t(key)), input,
				o.hint ? el('p', { class: 'hint', 'data-i18n': o.hint }, t(o.hint)) : null,
				el('p', { class: 'field-error', hidden: true })));
		}
	}
}
function formBody(form) {
	const body = {};
	for (const inp of $$('input[name], select[name]', form)) {
		let v = inp.value.trim();
		if (v === '') continue;
		if ((inp.name === 'weight_g' || inp.name === 'parcels') && /^\d{1,9}$/.test(v)) v = Number(v);
		const parts = inp.name.split('.');
		let o = body;
		for (const k of parts.slice(0, -1)) o = o[k] = o[k] || {};
		o[parts[parts.length - 1]] = v;
	}
	return body;
}
function clearFieldErrors(form) {
	for (const p of $$('.field-error', form)) { p.hidden = true; p.textContent = ''; }
	for (const i of $$('[aria-invalid]', form)) { i.removeAttribute('aria-invalid'); i.removeAttribute('aria-describedby'); }
	$('#new-error').hidden = true;
}
function fieldError(form, field, message) {
	const inp = form.querySelector(`[name="${CSS.escape(field)}"]`);
	if (!inp) return false;
	const p = $('.field-error', inp.closest('.field'));
	p.textContent = message;
	p.id = `${inp.id}-err`;
	p.hidden = false;
	inp.setAttribute('aria-invalid', 'true');
	inp.setAttribute('aria-describedby', p.id);
	return inp;
}
let newKey = randomKey();
async function submitNew(ev) {
	ev.preventDefault();
	const form = ev.target;
	clearFieldErrors(form);
	$('#new-done').hidden = true;
	const btn = $('#new-submit');
	btn.disabled = true; btn.textContent = t('issuing');
	const r = await api('POST', '/v1/shipments', formBody(form), { 'Idempotency-Key': newKey });
	btn.disabled = false; btn.textContent = t('issue');
	if (r.status === 201 && r.data) {
		newKey = randomKey();
		form.reset();
		const done = $('#new-done');
		done.replaceChildren(el('span', {}, t('issued', { wb: r.data.waybill }) + ' '),
			el('a', { href: `#/s/${encodeURIComponent(r.data.waybill)}`, class: 'mono', 'data-waybill': r.data.waybill }, t('open_it')));
		done.hidden = false;
		done.scrollIntoView({ block: 'center' });
		return;
	}
	if (r.status === 401) return;
	const e = r.data && r.data.error;
	if (e && e.field) {
		const code = codeText(e);
		const inp = fieldError(form, e.field, code ? `${code}：${e.message}` : e.message);
		if (inp) {
			const top = $('#new-error');
			top.textContent = t('form_has_errors');
			top.hidden = false;
			inp.focus();
			return;
		}
	}
	// a different body is a new request: a new key for it
	if (r.status === 422 && e && e.code === 'idempotency_key_reused') newKey = randomKey();
	$('#new-error').textContent = apiErrorText(r);
	$('#new-error').hidden = false;
}

// ---------------------------------------------------------------- batch

function batchRow(item) {
	const tr = el('tr', { 'data-line': item.line, class: 'row-pending' },
		el('td', { 'data-label': t('line') }, String(item.line)),
		el('td', { 'data-label': t('merchant_ref') }, item.ref || '—'),
		el('td', { class: 'cell-result', 'data-label': t('result') }, el('span', { class: 'badge badge-pending' }, '…')),
		el('td', { class: 'cell-outcome', 'data-label': t('waybill_or_error') }, ''));
	item.row = tr;
	return tr;
}
function batchResult(item, ok, content) {
	item.row.className = ok ? 'row-ok' : 'row-bad';
	item.row.dataset.result = ok ? 'ok' : 'failed';
	$('.cell-result', item.row).replaceChildren(el('span', { class: `badge ${ok ? 'badge-delivered' : 'badge-delivery_failed'}` }, t(ok ? 'ok' : 'failed')));
	$('.cell-outcome', item.row).replaceChildren(content);
}
async function onBatchFile() {
	const input = $('#batch-file');
	const file = input.files && input.files[0];
	if (!file) return;
	const errBox = $('#batch-error');
	errBox.hidden = true;
	$('#batch-file-name').textContent = file.name;
	const parsed = window.SmileBatch.parse(await file.text(), file.name);
	input.value = '';
	if (parsed.fatal) {
		errBox.textContent = `${t('line')} ${parsed.fatal.line}: ${t(parsed.fatal.key, parsed.fatal.vars)}`;
		errBox.hidden = false;
		return;
	}
	const items = parsed.items;
	if (!items.length) { errBox.textContent = t('batch_empty'); errBox.hidden = false; return; }
	if (items.length > BATCH_MAX_LINES) { errBox.textContent = t('batch_too_many', { n: items.length }); errBox.hidden = false; return; }
	$('#batch-body').replaceChildren(...items.map(batchRow));
	$('#batch-table').hidden = false;
	$('#batch-progress-wrap').hidden = false;
	input.disabled = true;
	let done = 0, ok = 0, bad = 0;
	const progress = () => {
		$('#batch-progress').max = items.length;
		$('#batch-progress').value = done;
		$('#batch-progress-text').textContent = done === items.length ? t('batch_done', { ok, bad }) : t('batch_progress', { done, total: items.length });
		$('#batch-counts').textContent = done === items.length ? '' : t('batch_counts', { ok, bad });
	};
	for (const it of items) if (it.error) { batchResult(it, false, t(it.error.key, it.error.vars)); done++; bad++; }
	progress();
	const todo = items.filter(i => i.shipment);
	for (let k = 0; k < todo.length; k += BATCH_CHUNK) {
		const chunk = todo.slice(k, k + BATCH_CHUNK);
		let r;
		for (let attempt = 0; attempt < 3; attempt++) {
			// the same key on a retry: a chunk whose answer was lost is not issued twice
			r = await api('POST', '/v1/shipments/batch', { shipments: chunk.map(i => i.shipment) },
				{ 'Idempotency-Key': chunk.key || (chunk.key = randomKey()) });
			if (!r.network && r.status < 500 && r.status !== 429) break;
			await new Promise(res => setTimeout(res, 500 * (attempt + 1)));
		}
		if (r.status === 401) { input.disabled = false; return; }
		if (r.status === 200 && r.data && Array.isArray(r.data.results)) {
			for (const res of r.data.results) {
				const it = chunk[res.index];
				if (!it) continue;
				if (res.status_code === 201) {
					ok++;
					batchResult(it, true, el('a', { class: 'mono', href: `#/s/${encodeURIComponent(res.waybill)}` }, res.waybill));
				} else {
					bad++;
					const e = res.error || {};
					batchResult(it, false, e.message ? errorText(e) : String(res.status_code));
				}
				done++;
			}
		} else {
			const msg = apiErrorText(r);
			for (const it of chunk) { bad++; done++; batchResult(it, false, msg); }
		}
		progress();
	}
	input.disabled = false;
}

// ---------------------------------------------------------------- start

function relabel() {
	window.I18N.apply();
	const sel = $('#status');
	const cur = sel.value;
	sel.replaceChildren(el('option', { value: '' }, t('all_statuses')), ...STATUSES.map(s => el('option', { value: s }, statusText(s))));
	sel.value = cur;
	if (!session) { const m = $('#signin-msg'); if (m.dataset.key) m.textContent = t(m.dataset.key); return; }
	// what was drawn from data: draw again in the new language
	if (view === 'list') loadList(true);
	else if (view === 'detail' && detailWb) loadDetail(detailWb);
	show(view);
}

async function boot() {
	buildPartyFields();
	relabel();
	$('#signin-form').addEventListener('submit', signIn);
	$('#api-key').addEventListener('input', () => $('#api-key').removeAttribute('aria-invalid'));
	$('#signout').addEventListener('click', signOut);
	for (const b of $$('[data-lang-switch]')) b.addEventListener('click', () => { window.I18N.set(window.I18N.lang === 'zh' ? 'en' : 'zh'); relabel(); });
	$('#filters').addEventListener('submit', onFilter);
	$('#status').addEventListener('change', onFilter);
	$('#prev-page').addEventListener('click', () => { if (list.page > 0) { list.page--; loadList(); } });
	$('#next-page').addEventListener('click', () => { if (list.cursors[list.page + 1]) { list.page++; loadList(); } });
	$('#erase-btn').addEventListener('click', askErase);
	$('#erase-dialog').addEventListener('close', onEraseClose);
	$('#new-form').addEventListener('submit', submitNew);
	$('#new-form').addEventListener('reset', e => { clearFieldErrors(e.target); });
	$('#batch-file').addEventListener('change', onBatchFile);
	$('#csv-template').addEventListener('click', () => {
		const url = URL.createObjectURL(new Blob(['\ufeff' + window.SmileBatch.template()], { type: 'text/csv;charset=utf-8' }));
		const a = el('a', { href: url, download: 'smile-batch-template.csv' });
		document.body.append(a);
		a.click();
		a.remove();
		setTimeout(() => URL.revokeObjectURL(url), 10000);
	});
	// the skip link moves focus only: the fragment is the console's route
	$('.skip').addEventListener('click', e => { e.preventDefault(); $('#main').focus(); });
	window.addEventListener('hashchange', route);
	const r = await api('GET', '/console/api/session');
	if (r.status === 200 && r.data) startSession(r.data);
	document.body.classList.add('ready');
	if (r.network) banner('error', t('err_network'));
	route();
}
document.addEventListener('DOMContentLoaded', boot);
})();
