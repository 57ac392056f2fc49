// SPDX-License-Identifier: Apache-2.0
// The merchant console (docs/console.md) in headless Chromium against a real
// gateway, started by tests/integration/test_console.sh, which passes:
//   GW_URL      the gateway                KM        a merchant API key
//   WB, REF     a shipment of KM's merchant and its merchant_ref
//   PHONE       its recipient's phone (must never be on a page)
//   SCAN_CMD    a shell command; `$SCAN_CMD EVENT SEQ` scans WB from a hub
//   KM2         another key of the merchant; REVOKE_CMD revokes it
//   KM3         a third key, whose streams fill the node (STREAMS_PER_KEY)
//   OUT         where screenshots go        DL        downloads
// Every step asserts what the merchant sees; every page is checked for
// console errors and CSP violations, and for horizontal overflow at 390 px.
'use strict';
const { launch, watch, ok, diag, done, overflowsX, WIDTHS } = require('./browser.js');
const { execFileSync, execSync, spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

const env = k => { const v = process.env[k]; if (!v) { console.log(`Bail out! ${k} not set`); process.exit(1); } return v; };
const GW = env('GW_URL'), KM = env('KM'), WB = env('WB'), REF = env('REF'), PHONE = env('PHONE');
const KM2 = env('KM2'), REVOKE_CMD = env('REVOKE_CMD');
const KM3 = env('KM3'), STREAMS_PER_KEY = Number(env('STREAMS_PER_KEY'));
const SCAN_CMD = env('SCAN_CMD'), OUT = env('OUT'), DL = env('DL');
const sleep = ms => new Promise(r => setTimeout(r, ms));
// Chromium reports every non-2xx fetch as a console error; the statuses a
// step expects (a wrong key: 401, a form error: 422) are allowed there only.
let allowed = [];
const expectStatus = (...codes) => { allowed = codes.map(c => `status of ${c}`); };

// Text whose contrast with its background is under WCAG AA (4.5:1): every
// visible element with text of its own, against the first opaque background
// behind it (disabled controls are exempt, as WCAG allows).
async function lowContrast(page) {
	return page.evaluate(() => {
		const rgb = s => (s.match(/[\d.]+/g) || []).map(Number);
		const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
			.reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
		const bad = [];
		for (const e of document.querySelectorAll('body *')) {
			if (![...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
			if (!e.getClientRects().length || e.closest('[hidden], :disabled, .visually-hidden, .skip')) continue;
			const cs = getComputedStyle(e);
			if (cs.visibility === 'hidden') continue;
			let bg = null;
			for (let a = e; a && !bg; a = a.parentElement) {
				const c = rgb(getComputedStyle(a).backgroundColor);
				if (c.length === 3 || (c.length === 4 && c[3] === 1)) bg = c.slice(0, 3);
			}
			bg = bg || [255, 255, 255];
			const [l1, l2] = [lum(rgb(cs.color)), lum(bg)].sort((x, y) => y - x);
			const ratio = (l1 + 0.05) / (l2 + 0.05);
			if (ratio < 4.5) bad.push(`${e.tagName.toLowerCase()}.${e.className} "${e.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
		}
		return bad;
	});
}
async function shot(page, name) {
	// desktop and phone (browser.js WIDTHS: no reload between them), with
	// the contrast and overflow checks between the two
	fs.mkdirSync(OUT, { recursive: true });
	await page.setViewport(WIDTHS.desktop);
	await sleep(200);
	const low = await lowContrast(page);
	ok(low.length === 0, `${name}: all text has a contrast of 4.5:1 or more`, low.join('\n'));
	await page.screenshot({ path: path.join(OUT, `${name}-desktop.png`), fullPage: true });
	await page.setViewport(WIDTHS.phone);
	await sleep(200);
	const over = await overflowsX(page);
	await page.screenshot({ path: path.join(OUT, `${name}-phone.png`), fullPage: true });
	await page.setViewport(WIDTHS.desktop);
	ok(!over, `${name}: no horizontal scrolling at 390 px`);
}
// With DOC_SHOTS set: what docs/console.md shows, one screen each (not the
// whole page), so the files stay small.
async function docShot(page, name) {
	const dir = process.env.DOC_SHOTS;
	if (!dir) return;
	fs.mkdirSync(dir, { recursive: true });
	await page.setViewport({ width: 1200, height: 760 });
	await sleep(200);
	await page.screenshot({ path: path.join(dir, `console-${name}-desktop.png`) });
	await page.setViewport({ width: 390, height: 844 });
	await sleep(200);
	await page.screenshot({ path: path.join(dir, `console-${name}-phone.png`) });
	await page.setViewport(WIDTHS.desktop);
}
function clean(log, name) {
	const bad = log.errors.filter(e => !allowed.some(a => e.includes(a)));
	ok(bad.length === 0, `${name}: no console errors or CSP violations`, bad.join('\n'));
	log.errors.length = 0;
}
const visible = (page, sel, timeout = 10000) => page.waitForSelector(sel, { visible: true, timeout });
const text = (page, sel) => page.$eval(sel, e => e.textContent.trim());
async function waitFor(page, fn, arg, timeout = 10000) {
	try { await page.waitForFunction(fn, { timeout, polling: 100 }, arg); return true; } catch (e) { return false; }
}
async function fill(page, sel, value) {
	await page.$eval(sel, e => { e.value = ''; });
	await page.type(sel, value);
}
async function waitFile(file, ms) {
	for (let i = 0; i < ms / 100; i++) {
		if (fs.existsSync(file) && fs.statSync(file).size > 0) { await sleep(200); return true; }
		await sleep(100);
	}
	return false;
}
async function apiStatus(pth, cookie) {
	const r = await fetch(GW + pth, { headers: cookie ? { Cookie: cookie } : {} });
	return r.status;
}

(async () => {
	const browser = await launch();
	const page = await browser.newPage();
	const log = watch(page);
	// a CSP violation becomes a console error, whatever Chromium says of it
	await page.evaluateOnNewDocument(() => {
		document.addEventListener('securitypolicyviolation', e => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
		// English to start with, whatever the machine's locale; the switch changes it
		if (!localStorage.getItem('smile.lang')) localStorage.setItem('smile.lang', 'en');
	});
	await page.setViewport(WIDTHS.desktop);

	// ---- sign-in
	expectStatus(401);
	const resp = await page.goto(`${GW}/console/`, { waitUntil: 'networkidle2' });
	const csp = resp.headers()['content-security-policy'] || '';
	ok(/script-src 'self'/.test(csp) && !/unsafe-inline/.test(csp), 'the page is served with a strict CSP', csp);
	await visible(page, '#view-signin');
	ok(true, 'sign-in: the form is shown without a session');
	await page.keyboard.press('Tab');
	const focus = await page.evaluate(() => {
		const e = document.activeElement;
		return { tag: e.tagName, id: e.id, outline: getComputedStyle(e).outlineStyle, fv: e.matches(':focus-visible') };
	});
	ok(focus.fv && focus.outline !== 'none', 'keyboard focus is visible (:focus-visible outline)', JSON.stringify(focus));
	await docShot(page, 'signin');
	await fill(page, '#api-key', 'smk_nope_nope');
	await page.keyboard.press('Enter');
	await visible(page, '#api-key-error');
	ok(/not accepted/.test(await text(page, '#api-key-error')), 'a wrong key: "not accepted", next to the field');
	await shot(page, 'signin');
	clean(log, 'sign-in');

	expectStatus();
	await fill(page, '#api-key', KM);
	await page.click('#signin-form button[type=submit]');
	await visible(page, '#view-list');
	await visible(page, `#list-body tr[data-waybill="${WB}"]`);
	ok(true, 'signed in: the shipments list shows the shipment');
	ok((await text(page, '#merchant-name')) === 'ziyun', 'the top bar names the merchant');
	const cookies = await page.cookies();
	const sc = cookies.find(c => c.httpOnly);
	ok(sc && sc.sameSite === 'Strict', 'the session cookie is HttpOnly and SameSite=Strict', JSON.stringify(cookies));
	ok(!(await page.evaluate(() => document.cookie)).includes(sc ? sc.value : '\0'), '... and not readable by the page');
	ok(!(await page.content()).includes(KM) && !(await page.$eval('#api-key', i => i.value)), 'the API key is not left in the page');

	// the skip link: focus to the content, the page stays
	await page.reload({ waitUntil: 'networkidle2' });
	await visible(page, `#list-body tr[data-waybill="${WB}"]`);
	await page.keyboard.press('Tab');
	const skip = await page.evaluate(() => document.activeElement.className);
	await page.keyboard.press('Enter');
	ok(skip === 'skip' && await page.evaluate(() => document.activeElement.id === 'main' && !document.querySelector('#view-list').hidden),
		'keyboard: the first Tab is "Skip to content", which focuses the content and stays on the list', skip);
	// ---- pages (31 shipments, 25 a page)
	ok((await page.$$('#list-body tr')).length === 25 && !(await page.$eval('#next-page', b => b.disabled)),
		'the list shows 25 shipments and a next page');
	await page.click('#next-page');
	ok(await waitFor(page, () => document.querySelectorAll('#list-body tr').length === 6 && document.querySelector('#next-page').disabled),
		'... the next page has the other 6, and no next page');
	await page.click('#prev-page');
	ok(await waitFor(page, () => document.querySelectorAll('#list-body tr').length === 25 && document.querySelector('#prev-page').disabled),
		'... and Previous goes back to the first');

	// ---- search and filter
	await fill(page, '#q', REF);
	await page.click('#filters button[type=submit]');
	ok(await waitFor(page, wb => {
		const rows = [...document.querySelectorAll('#list-body tr')];
		return !document.querySelector('#list-table').hidden && rows.length === 1 && rows[0].dataset.waybill === wb;
	}, WB), 'search by merchant reference finds exactly the shipment');
	await fill(page, '#q', WB);
	await page.keyboard.press('Enter');
	ok(await waitFor(page, wb => location.hash.includes(wb) && [...document.querySelectorAll('#list-body tr')].length === 1
		&& document.querySelector('#list-body tr').dataset.waybill === wb, WB), 'search by waybill finds it too');
	await fill(page, '#q', '');
	await page.select('#status', 'delivered');
	ok(await waitFor(page, () => !document.querySelector('#list-empty').hidden), 'filter by status: none delivered -> the empty state');
	ok(/Nothing matches/.test(await text(page, '#list-empty h2')), '... which says nothing matches');
	const csvHref = await page.$eval('#export-csv', a => a.href);
	ok(/format=csv/.test(csvHref) && /status=delivered/.test(csvHref), 'CSV export follows the current filter', csvHref);
	await page.select('#status', 'created');
	ok(await waitFor(page, wb => !!document.querySelector(`#list-body tr[data-waybill="${wb}"]`), WB), 'filter by status created: it is there');
	const csv = await page.evaluate(async h => (await fetch(h)).text(), await page.$eval('#export-csv', a => a.href));
	ok(csv.includes(WB) && !csv.includes(PHONE), 'the CSV of the current list has the shipment, and no phone number');
	await page.select('#status', '');
	await visible(page, `#list-body tr[data-waybill="${WB}"]`);

	// ---- live update on the list
	ok(await waitFor(page, () => document.querySelector('#live-dot').classList.contains('live-on'), null, 15000),
		'the list says it is live (the event stream is open)');
	await page.evaluate(() => { window.__noReload = 1; });
	execSync(`${SCAN_CMD} hub_in 1`, { stdio: 'inherit' });
	ok(await waitFor(page, wb => {
		const b = document.querySelector(`#list-body tr[data-waybill="${wb}"] .cell-status [data-status]`);
		return b && b.dataset.status === 'hub_in';
	}, WB, 15000), 'a scan arrives live: the row says "At hub"');
	ok(await page.evaluate(() => window.__noReload === 1), '... without reloading the page');
	// a shipment issued elsewhere (here: the API with the key) appears too
	const issued = await (await fetch(`${GW}/v1/shipments`, {
		method: 'POST', headers: { Authorization: `Bearer ${KM}`, 'Content-Type': 'application/json' },
		body: JSON.stringify({ recipient: { name: '周七', phone: '13600003333', address: { city: '南京市', street: '中山路1号' } },
			sender: { name: '王小二', phone: '027-85699449', address: { city: '武汉市', street: '泛海国际SOHO城' } },
			merchant_ref: 'elsewhere-1', weight_g: 500 }) })).json();
	ok(await waitFor(page, wb => !!document.querySelector(`#list-body tr[data-waybill="${wb}"]`), issued.waybill, 15000)
		&& await page.evaluate(() => window.__noReload === 1), 'a shipment issued elsewhere appears on the first page by itself');
	await shot(page, 'list');
	await docShot(page, 'list');
	clean(log, 'list');

	// ---- detail
	// from the keyboard alone: Tab to the shipment's link, Enter
	await page.evaluate(() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); });
	let tabs = 0, onLink = false;
	while (tabs < 60 && !onLink) {
		await page.keyboard.press('Tab');
		tabs++;
		onLink = await page.evaluate(wb => (document.activeElement.getAttribute('href') || '') === `#/s/${wb}`
			&& document.activeElement.matches(':focus-visible') && getComputedStyle(document.activeElement).outlineStyle !== 'none', WB);
	}
	ok(onLink, `keyboard: Tab reaches the shipment's link (${tabs} presses), its focus visible`);
	if (onLink) await page.keyboard.press('Enter');
	else await page.click(`#list-body tr[data-waybill="${WB}"] a`);
	await visible(page, '#detail');
	ok((await text(page, '#d-waybill')) === WB, 'detail: the waybill');
	const kv = await text(page, '#d-kv');
	ok(/\*/.test(kv) && /order-|ziyun/.test(kv + await text(page, '#d-ref')), 'detail: the masked view (masked name and phone)', kv);
	ok(!(await page.content()).includes(PHONE), '... and never the full phone number');
	ok(await waitFor(page, () => [...document.querySelectorAll('#d-timeline [data-event]')].map(e => e.dataset.event).join() === 'hub_in,created'),
		'detail: the timeline, newest first (hub_in, created)');
	execSync(`${SCAN_CMD} hub_out 2`, { stdio: 'inherit' });
	ok(await waitFor(page, () => {
		const f = document.querySelector('#d-timeline [data-event]');
		return f && f.dataset.event === 'hub_out';
	}, null, 15000), 'a scan arrives live on the detail page: "Left hub" tops the timeline');
	ok(await waitFor(page, () => (document.querySelector('#d-status [data-status]') || {}).dataset?.status === 'hub_out'),
		'... and the status badge follows');

	// ---- a waybill that is not the merchant's: an error banner, nothing else
	expectStatus(404);
	await page.goto(`${GW}/console/#/s/SW000000000000000`);
	ok(await waitFor(page, () => [...document.querySelectorAll('#banners .banner-error')].some(b => /not found/.test(b.textContent))
		&& document.querySelector('#detail').hidden), 'an unknown waybill: an error banner "not found", no detail');
	await shot(page, 'not-found');
	await page.click('#banners .banner-close');
	ok(await waitFor(page, () => !document.querySelector('#banners .banner')), '... the banner closes');
	clean(log, 'not found');
	expectStatus();
	await page.goto(`${GW}/console/#/s/${WB}`);
	await visible(page, '#detail');

	// ---- labels
	fs.mkdirSync(DL, { recursive: true });
	const cdp = await page.createCDPSession();
	await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: DL });
	for (const f of ['png', 'pdf', 'zpl']) {
		await page.click(`#dl-${f}`);
		const file = path.join(DL, `${WB}.${f}`);
		ok(await waitFile(file, 10000), `label download ${f.toUpperCase()}: ${WB}.${f}`, fs.readdirSync(DL).join(' '));
	}
	let codes = '';
	try { codes = execFileSync('zbarimg', ['-q', '--raw', path.join(DL, `${WB}.png`)]).toString(); } catch (e) { codes = String(e); }
	ok(codes.split('\n').includes(WB), 'the PNG label decodes (zbarimg) to the waybill', codes);
	const pdf = fs.existsSync(path.join(DL, `${WB}.pdf`)) ? fs.readFileSync(path.join(DL, `${WB}.pdf`)) : Buffer.alloc(0);
	ok(pdf.subarray(0, 5).toString() === '%PDF-', '... the PDF is a PDF');
	const zpl = fs.existsSync(path.join(DL, `${WB}.zpl`)) ? fs.readFileSync(path.join(DL, `${WB}.zpl`), 'utf8') : '';
	ok(zpl.includes('^XA') && zpl.includes(WB) && !zpl.includes(PHONE), '... the ZPL is ZPL with the waybill and no phone');
	await shot(page, 'detail');
	await docShot(page, 'detail');
	clean(log, 'detail');

	// ---- new shipment: an error next to its field, then issued
	expectStatus(422);
	await page.goto(`${GW}/console/#/new`);
	await visible(page, '#view-new');
	const form = {
		'recipient.name': '李小龙', 'recipient.phone': '12', 'recipient.address.city': '上海市',
		'recipient.address.street': '南京东路100号', 'recipient.address.detail': '3号楼502室',
		'sender.name': '王小二', 'sender.phone': '027-85699449', 'sender.address.city': '武汉市',
		'sender.address.street': '泛海国际SOHO城', merchant_ref: 'console-new-1', weight_g: '950',
	};
	for (const [k, v] of Object.entries(form)) await fill(page, `[name="${k}"]`, v);
	await page.click('#new-submit');
	ok(await waitFor(page, () => {
		const i = document.querySelector('[name="recipient.phone"]');
		const p = i.closest('.field').querySelector('.field-error');
		return i.getAttribute('aria-invalid') === 'true' && !p.hidden && p.textContent.length > 0;
	}), 'new shipment: the API\'s error is shown next to the field it names (recipient.phone)');
	ok(await page.evaluate(() => document.activeElement.name === 'recipient.phone'), '... and that field has the focus');
	await shot(page, 'new');
	await fill(page, '[name="recipient.phone"]', '13900001111');
	await page.click('#new-submit');
	await visible(page, '#new-done');
	const newWb = await page.$eval('#new-done a', a => a.dataset.waybill);
	ok(/^[A-Z0-9-]+$/.test(newWb || ''), `new shipment issued: ${newWb}`);
	ok(await page.evaluate(() => [...document.querySelectorAll('.field-error')].every(p => p.hidden)), '... its errors are gone');
	await page.click('#new-done a');
	await visible(page, '#detail');
	ok((await text(page, '#d-waybill')) === newWb, '... and it opens');
	clean(log, 'new shipment');

	// ---- batch upload
	expectStatus();
	await page.goto(`${GW}/console/#/batch`);
	await visible(page, '#view-batch');
	const csvFile = path.join(DL, 'batch.csv');
	fs.writeFileSync(csvFile, [
		'recipient_name,recipient_phone,recipient_province,recipient_city,recipient_street,recipient_detail,sender_name,sender_phone,sender_city,sender_street,weight_g,merchant_ref,note',
		'张三明,13812345678,湖北省,武汉市,建设大道568号,3栋1502室,王小二,027-85699449,武汉市,泛海国际SOHO城,800,batch-1,"易碎, 轻放"',
		'李四,123,湖北省,武汉市,建设大道1号,,王小二,027-85699449,武汉市,泛海国际SOHO城,800,batch-2,',
		'"Anna Kowalska",+48 601 234 567,,Kraków,ul. Floriańska 12,m. 4,王小二,027-85699449,武汉市,泛海国际SOHO城,1200,batch-3,',
	].join('\n') + '\n');
	const input = await page.$('#batch-file');
	await input.uploadFile(csvFile);
	ok(await waitFor(page, () => {
		const p = document.querySelector('#batch-progress');
		return !document.querySelector('#batch-progress-wrap').hidden && p.max === 3 && p.value === 3;
	}, null, 20000), 'batch upload: the progress bar reaches 3 of 3');
	const results = await page.$$eval('#batch-body tr', rs => rs.map(r => [r.dataset.line, r.dataset.result, r.querySelector('.cell-outcome').textContent]));
	ok(results.map(r => r[1]).join() === 'ok,failed,ok', 'per-line results: issued, failed, issued', JSON.stringify(results));
	ok(results[1] && /recipient\.phone/.test(results[1][2]) && results[1][0] === '3', '... the failed one names its line (3) and field', JSON.stringify(results[1]));
	ok(results[0] && /^[A-Z0-9-]+$/.test(results[0][2]), '... the issued ones show their waybill');
	await shot(page, 'batch');
	// JSON Lines: one shipment a line, a line that is not JSON refused by itself
	const one = { recipient: { name: '赵六', phone: '13700001111', address: { city: '杭州市', street: '文三路1号' } },
		sender: { name: '王小二', phone: '027-85699449', address: { city: '武汉市', street: '泛海国际SOHO城' } },
		merchant_ref: 'jsonl-1', weight_g: 300 };
	const jsonl = path.join(DL, 'batch.jsonl');
	fs.writeFileSync(jsonl, `${JSON.stringify(one)}\n{"recipient": oops}\n\n${JSON.stringify({ ...one, merchant_ref: 'jsonl-2' })}\n`);
	await (await page.$('#batch-file')).uploadFile(jsonl);
	ok(await waitFor(page, () => {
		const rs = [...document.querySelectorAll('#batch-body tr')];
		return rs.length === 3 && rs.every(r => r.dataset.result);
	}, null, 20000), 'a JSON Lines file: three results');
	const jr = await page.$$eval('#batch-body tr', rs => rs.map(r => `${r.dataset.line}:${r.dataset.result}`));
	ok(jr.join() === '1:ok,2:failed,4:ok', '... issued, not JSON (line 2), issued (line 4: blank lines skipped)', jr.join());
	// the template the page offers is itself a good batch
	await page.click('.csv-help summary');
	await page.click('#csv-template');
	const tpl = path.join(DL, 'smile-batch-template.csv');
	ok(await waitFile(tpl, 10000), 'the CSV template downloads');
	await (await page.$('#batch-file')).uploadFile(tpl);
	ok(await waitFor(page, () => {
		const rs = [...document.querySelectorAll('#batch-body tr')];
		return rs.length === 1 && rs[0].dataset.result === 'ok';
	}, null, 20000), '... and uploaded as it is, its example row is issued');
	clean(log, 'batch');

	// ---- erase, behind the confirmation
	await page.goto(`${GW}/console/#/s/${WB}`);
	await visible(page, '#detail');
	ok((await page.$eval('#d-personal', e => e.dataset.state)) === 'held', 'personal data held before erasure');
	await page.click('#erase-btn');
	await visible(page, '#erase-dialog');
	ok(await page.$eval('#erase-dialog', d => d.open), 'erase asks for confirmation first (a dialog)');
	await page.keyboard.press('Escape');
	ok(await waitFor(page, () => !document.querySelector('#erase-dialog').open), '... Escape closes it');
	await sleep(300);
	let r = await fetch(`${GW}/v1/shipments/${WB}`, { headers: { Authorization: `Bearer ${KM}` } });
	ok((await r.json()).personal_data === 'held', '... and nothing was erased');
	await page.click('#erase-btn');
	await visible(page, '#erase-dialog');
	await shot(page, 'erase');
	await page.click('#erase-confirm');
	ok(await waitFor(page, () => document.querySelector('#d-personal').dataset.state === 'erased', null, 10000),
		'confirmed: the page says the personal data is erased');
	r = await fetch(`${GW}/v1/shipments/${WB}`, { headers: { Authorization: `Bearer ${KM}` } });
	ok((await r.json()).personal_data === 'erased', '... and the API agrees');
	ok(await page.$eval('#erase-btn', b => b.hidden), '... the erase button is gone');
	clean(log, 'erase');

	// ---- language
	await page.goto(`${GW}/console/#/`);
	await visible(page, '#view-list');
	await page.click('.topbar [data-lang-switch]');
	ok(await waitFor(page, () => document.documentElement.lang === 'zh-CN' && document.querySelector('[data-nav="list"]').textContent === '运单'),
		'the switch turns the console to Chinese');
	await page.reload({ waitUntil: 'networkidle2' });
	await visible(page, '#view-list');
	ok(await page.evaluate(() => document.documentElement.lang === 'zh-CN' && document.querySelector('#view-list h1').textContent === '运单'),
		'... and it is remembered after a reload');
	await visible(page, `#list-body tr[data-waybill="${WB}"]`);
	await shot(page, 'list-zh');
	await page.goto(`${GW}/console/#/s/${WB}`);
	await visible(page, '#detail');
	await shot(page, 'detail-zh');
	// the API's messages are English: in Chinese, its error code leads in Chinese
	expectStatus(422);
	await page.goto(`${GW}/console/#/new`);
	await visible(page, '#view-new');
	for (const [k, v] of Object.entries(form)) await fill(page, `[name="${k}"]`, v); // recipient.phone '12'
	await page.click('#new-submit');
	ok(await waitFor(page, () => {
		const p = document.querySelector('[name="recipient.phone"]').closest('.field').querySelector('.field-error');
		return !p.hidden && /^[\u4e00-\u9fff]+：\S/.test(p.textContent);
	}), 'in Chinese, an API error next to its field leads with its code in Chinese',
		await page.evaluate(() => (document.querySelector('.field-error:not([hidden])') || {}).textContent));
	await shot(page, 'new-error-zh');
	await page.goto(`${GW}/console/#/batch`);
	await visible(page, '#view-batch');
	const badZh = path.join(DL, 'batch-zh.jsonl');
	fs.writeFileSync(badZh, `${JSON.stringify({ ...one, recipient: { ...one.recipient, phone: '123' }, merchant_ref: 'jsonl-zh' })}\n`);
	await (await page.$('#batch-file')).uploadFile(badZh);
	ok(await waitFor(page, () => {
		const rs = [...document.querySelectorAll('#batch-body tr')];
		return rs.length === 1 && rs[0].dataset.result === 'failed' && /^[\u4e00-\u9fff]+：recipient\.phone: \S/.test(rs[0].querySelector('.cell-outcome').textContent);
	}, null, 20000), '... and so does a batch line\'s', await page.evaluate(() => (document.querySelector('#batch-body .cell-outcome') || {}).textContent));
	await shot(page, 'batch-zh');
	await page.click('.topbar [data-lang-switch]');
	ok(await waitFor(page, () => document.documentElement.lang === 'en'), '... and back to English');
	clean(log, 'language');

	// a browser that prefers Chinese gets Chinese without asking
	const ctx = await browser.createBrowserContext();
	const p2 = await ctx.newPage();
	const log2 = watch(p2);
	await p2.evaluateOnNewDocument(() => { Object.defineProperty(navigator, 'language', { get: () => 'zh-CN' }); Object.defineProperty(navigator, 'languages', { get: () => ['zh-CN', 'zh'] }); });
	expectStatus(401);
	await p2.goto(`${GW}/console/`, { waitUntil: 'networkidle2' });
	await visible(p2, '#view-signin');
	ok((await text(p2, '#view-signin h1')) === '登录 Smile', 'a browser that prefers Chinese: the sign-in page is in Chinese');
	await shot(p2, 'signin-zh');
	clean(log2, 'sign-in (zh)');
	await ctx.close();

	// ---- a session the server ends (its key revoked) while the page is open:
	// the page notices by itself (its event stream is refused), no click
	{
		const c3 = await browser.createBrowserContext();
		const p3 = await c3.newPage();
		const log3 = watch(p3);
		await p3.evaluateOnNewDocument(() => { if (!localStorage.getItem('smile.lang')) localStorage.setItem('smile.lang', 'en'); });
		expectStatus(401);
		await p3.goto(`${GW}/console/`, { waitUntil: 'networkidle2' });
		await visible(p3, '#view-signin');
		await fill(p3, '#api-key', KM2);
		await p3.keyboard.press('Enter');
		await visible(p3, `#list-body tr[data-waybill="${WB}"]`);
		ok(await waitFor(p3, () => document.querySelector('#live-dot').classList.contains('live-on'), null, 15000), 'a second session, live');
		execSync(REVOKE_CMD, { stdio: 'inherit' });
		ok(await waitFor(p3, () => !document.querySelector('#view-signin').hidden && /expired/.test(document.querySelector('#signin-msg').textContent), null, 30000),
			'its key revoked: the open page goes back to sign-in by itself, "session has expired"');
		ok(await p3.evaluate(() => document.querySelector('#topbar').hidden && !document.querySelector('#list-body tr:not([hidden])')?.closest('#view-list:not([hidden])')),
			'... and shows nothing of the merchant');
		clean(log3, 'revoked');
		await c3.close();
	}

	// ---- a node that refuses the stream (503 busy: this key already holds
	// console_streams_per_key streams there): the page says it is not live,
	// keeps the session, tries again with a back-off, and is live again once
	// a slot frees, without a reload
	{
		const holders = [];
		const opened = () => holders.filter(h => h.out.includes('retry:')).length;
		for (let i = 0; i < STREAMS_PER_KEY; i++) {
			const h = { out: '', p: spawn('curl', ['-sN', '-H', `Authorization: Bearer ${KM3}`, `${GW}/v1/events/stream`]) };
			h.p.stdout.on('data', d => { h.out += d; });
			holders.push(h);
		}
		for (let i = 0; i < 100 && opened() < STREAMS_PER_KEY; i++) await sleep(100);
		ok(opened() === STREAMS_PER_KEY, `the key holds ${STREAMS_PER_KEY} streams outside the browser`, `${opened()} opened`);
		const c4 = await browser.createBrowserContext();
		const p4 = await c4.newPage();
		const log4 = watch(p4);
		const tries = [];
		p4.on('response', r => { if (r.url().endsWith('/v1/events/stream')) tries.push(r.status()); });
		await p4.evaluateOnNewDocument(() => { if (!localStorage.getItem('smile.lang')) localStorage.setItem('smile.lang', 'en'); });
		expectStatus(401, 503);
		await p4.goto(`${GW}/console/`, { waitUntil: 'networkidle2' });
		await visible(p4, '#view-signin');
		await fill(p4, '#api-key', KM3);
		await p4.keyboard.press('Enter');
		await visible(p4, `#list-body tr[data-waybill="${WB}"]`);
		ok(await waitFor(p4, () => document.querySelector('#live-dot').classList.contains('live-off'), null, 15000),
			'the node refuses the stream (503): the page says it is not live');
		for (let i = 0; i < 100 && tries.length < 2; i++) await sleep(100);
		ok(tries.length >= 2 && tries.every(s => s === 503), '... tries again by itself after a pause, still refused', JSON.stringify(tries));
		ok(await p4.evaluate(() => !document.querySelector('#view-list').hidden), '... and keeps the session and the list');
		for (const h of holders) h.p.kill();
		ok(await waitFor(p4, () => document.querySelector('#live-dot').classList.contains('live-on'), null, 30000),
			'a slot frees: the page is live again by itself', JSON.stringify(tries));
		clean(log4, 'a full node');
		await c4.close();
	}

	// ---- an expired session goes back to sign-in, saying so
	expectStatus(401);
	await page.goto(`${GW}/console/#/`);
	await visible(page, `#list-body tr[data-waybill="${WB}"]`);
	await page.deleteCookie(...(await page.cookies()).filter(c => c.httpOnly));
	await page.click('[data-nav="new"]');
	await page.click('[data-nav="list"]');
	ok(await waitFor(page, () => !document.querySelector('#view-signin').hidden && /expired/.test(document.querySelector('#signin-msg').textContent)),
		'a session the server refuses: back to sign-in with "session has expired"');
	clean(log, 'expired');
	expectStatus(403); // the stale CSRF token's first try
	await fill(page, '#api-key', KM);
	await page.keyboard.press('Enter');
	await visible(page, '#view-list');

	// signed in again from another tab: this page's CSRF token is now the
	// older session's; a form sent from it still works (the page takes the
	// current token and tries once more)
	const again = await page.evaluate(async k => (await fetch('/console/api/session', {
		method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ api_key: k }) })).status, KM);
	ok(again === 200, 'another tab signs in again (a new session cookie)');
	await page.click('[data-nav="new"]');
	await visible(page, '#view-new');
	for (const [k, v] of Object.entries({ ...form, 'recipient.phone': '13900002222', merchant_ref: 'console-new-2' })) await fill(page, `[name="${k}"]`, v);
	await page.click('#new-submit');
	ok(await waitFor(page, () => !document.querySelector('#new-done').hidden), '... the form sent from the first still issues (the new CSRF token taken)');
	clean(log, 'a stale CSRF token');
	const cookie2 = (await page.cookies()).find(c => c.httpOnly);
	const sessionCookie2 = cookie2 ? `${cookie2.name}=${cookie2.value}` : '';

	// ---- sign out
	ok(await apiStatus('/v1/shipments?limit=1', sessionCookie2) === 200, 'the session cookie opens the API (GET /v1/shipments)');
	expectStatus(401);
	await page.click('#signout');
	await visible(page, '#view-signin');
	ok(/signed out/.test(await text(page, '#signin-msg')), 'sign out: back to sign-in, "You are signed out"');
	await shot(page, 'signed-out');
	ok(await apiStatus('/v1/shipments?limit=1', sessionCookie2) === 401, '... and the API now refuses that cookie');
	ok(await apiStatus('/console/api/session', sessionCookie2) === 401, '... and so does the session endpoint');
	ok(await page.evaluate(() => document.querySelector('#topbar').hidden), '... the console shows nothing of the merchant');
	clean(log, 'sign-out');

	await browser.close();
	diag(`screenshots in ${OUT}`);
	done();
})().catch(e => { ok(false, 'the browser test ran to the end', e && e.stack); done(); process.exit(1); });
