// SPDX-License-Identifier: Apache-2.0
// The recipient tracking page in Chromium (run by
// tests/integration/test_tracking.sh, which starts the gateway):
//   node tests/browser/tracking.js GW_URL WAYBILL THROTTLE_WAYBILL DIGITS SHOTS_DIR
// WAYBILL has a history with a reveal; THROTTLE_WAYBILL is fresh, and the
// gateway allows 5 digit checks per waybill. TAP on stdout.
'use strict';
const fs = require('fs');
const path = require('path');
const { launch, watch, shots, overflowsX, ok, diag, done, WIDTHS } = require('./browser.js');

// Chromium logs every answer that is not 2xx as a console error; the
// page's expected answers (403 not matched, 422 not a number, 429
// throttled) are not errors of the page.
const expected = e => /^Failed to load resource: the server responded with a status of (403|422|429)/.test(e);

const [url, wb, wbThrottle, digits, shotDir] = process.argv.slice(2);
if (!url || !wb || !wbThrottle || !digits || !shotDir) {
	console.error('usage: tracking.js GW_URL WAYBILL THROTTLE_WAYBILL DIGITS SHOTS_DIR');
	process.exit(2);
}

// A waybill with the right check digits (ISO 7064 MOD 97-10, waybill.h).
function withCheck(s) {
	let r = 0;
	for (const c of s + '00') r = /[A-Z]/.test(c) ? (r * 100 + c.charCodeAt(0) - 55) % 97 : (r * 10 + Number(c)) % 97;
	return s + String(98 - r).padStart(2, '0');
}
const text = (page, sel) => page.$eval(sel, e => e.textContent.trim());
const visible = (page, sel) => page.$eval(sel, e => !e.hidden && e.getClientRects().length > 0).catch(() => false);

async function typeInto(page, sel, value) {
	await page.click(sel, { clickCount: 3 });
	await page.keyboard.press('Backspace');
	await page.type(sel, value);
}

async function submitDigits(page, value) {
	await typeInto(page, '#digits', value);
	await page.keyboard.press('Enter');
}

(async () => {
	const browser = await launch({ lang: 'en-US' });
	try {
		const ctx = await browser.createBrowserContext();
		const page = await ctx.newPage();
		const log = watch(page);
		await page.setExtraHTTPHeaders({ 'Accept-Language': 'en-US,en;q=0.9' });

		// the start page, empty
		await page.goto(`${url}/t/`, { waitUntil: 'networkidle0' });
		ok(await page.$eval('html', e => e.lang) === 'en', 'an English browser gets the page in English');
		ok(await text(page, 'h1') === 'Where is my parcel?', '... its heading');
		await shots(page, shotDir, 'track-start');

		// keyboard: skip link, brand, language switch, waybill field, Track
		await page.keyboard.press('Tab');
		ok(await page.evaluate(() => document.activeElement.className) === 'skip', 'Tab first reaches the skip link');
		const order = [];
		for (let i = 0; i < 4; i++) {
			await page.keyboard.press('Tab');
			order.push(await page.evaluate(() => document.activeElement.id || document.activeElement.className || document.activeElement.tagName));
		}
		ok(order.join(',') === 'brand,lang,waybill,btn primary', 'then the brand, the language switch, the waybill field and Track', order.join(','));
		const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
		ok(outline !== 'none', 'the focused control shows a visible focus ring', outline);

		// the coarse answer, typed and submitted with the keyboard
		await page.focus('#waybill');
		await page.type('#waybill', wb.toLowerCase());
		await page.keyboard.press('Enter');
		await page.waitForSelector('#coarse:not([hidden])', { timeout: 10000 });
		ok(await text(page, '#c-badge') === 'Out for delivery', 'the waybill alone shows the coarse status', await text(page, '#c-badge'));
		ok(await page.$$eval('#steps li.done', l => l.length) === 3, '... as the third of four steps');
		ok(!(await visible(page, '#journey')), '... and no journey');
		ok(await page.evaluate(() => location.hash) === `#${wb}`, 'the waybill is kept in the URL fragment (never sent to a server)');
		await shots(page, shotDir, 'track-coarse');

		// wrong digits
		await submitDigits(page, '0000');
		await page.waitForSelector('#verify-msg:not([hidden])', { timeout: 10000 });
		ok(/do not match/.test(await text(page, '#verify-msg')), 'wrong digits: "do not match"', await text(page, '#verify-msg'));
		ok(!(await visible(page, '#journey')), '... and still no journey');
		await shots(page, shotDir, 'track-wrong');

		// right digits
		await submitDigits(page, digits);
		await page.waitForSelector('#journey:not([hidden])', { timeout: 10000 });
		const events = await page.$$eval('#timeline .tl-what', l => l.map(e => e.textContent));
		ok(events.join('|') === 'Out for delivery|Arrived at a sorting hub|Label issued by the sender',
			'the right digits show the journey, newest first', events.join('|'));
		const places = await page.$$eval('#timeline .tl-place', l => l.map(e => e.textContent));
		ok(places.length === 2 && places.every(p => p === '湖北省 武汉市'), '... with city-level places', places.join('|'));
		const access = await page.$$eval('#access-list li', l => l.map(e => e.textContent));
		ok(access.some(a => /shown to a courier/.test(a) && /Out for delivery/.test(a)),
			'the access log: the reveal, to a courier, for out for delivery', access.join(' / '));
		ok(access.some(a => /not shown to a sorting hub/.test(a) && /never receive contact details/.test(a)),
			'... the hub that was refused, and why', access.join(' / '));
		ok(access.some(a => /Wrong digits/.test(a)), '... and the wrong answer just made');
		const body = await page.evaluate(() => document.body.innerText);
		ok(!/courier1|hub1|张三明|13812345678|建设大道|江汉区/.test(body), 'no device id, name, phone or street on the page');
		ok(!(await visible(page, '#verify')), 'the digit form is gone once answered');
		ok(await page.evaluate(() => document.activeElement.id) === 'j-title', 'focus moves to the journey for screen readers and keyboards');
		await shots(page, shotDir, 'track-full');

		// switch to Chinese
		await page.click('#lang');
		ok(await page.$eval('html', e => e.lang) === 'zh-CN', 'the switch turns the page Chinese');
		ok(await text(page, 'h1') === '我的包裹到哪儿了？', '... its heading');
		ok(await text(page, '#c-badge') === '派送中', '... the status');
		const zhAccess = await page.$$eval('#access-list li', l => l.map(e => e.textContent).join(' / '));
		ok(/快递员/.test(zhAccess) && /分拣中心/.test(zhAccess), '... and the access log, already shown', zhAccess);
		await page.setViewport(WIDTHS.phone);
		ok(!(await overflowsX(page)), 'at a phone width the page needs no sideways scrolling');
		await shots(page, shotDir, 'track-full-zh');
		await page.click('#lang');
		ok(await text(page, 'h1') === 'Where is my parcel?', 'and back to English');

		// the throttle, on a fresh waybill (5 checks per waybill)
		await page.goto('about:blank');
		await page.goto(`${url}/t/#${wbThrottle}`, { waitUntil: 'networkidle0' });
		await page.waitForSelector('#verify:not([hidden])', { timeout: 10000 });
		ok(await text(page, '#c-badge') === 'Label issued', 'a fresh parcel: issued');
		for (let i = 0; i < 5; i++) {
			await submitDigits(page, '9999');
			await page.waitForFunction(() => !document.querySelector('#f-verify button').disabled && !document.getElementById('verify-msg').hidden);
		}
		ok(/do not match/.test(await text(page, '#verify-msg')), 'five wrong answers are answered');
		await submitDigits(page, digits);
		await page.waitForFunction(() => /Too many attempts/.test(document.getElementById('verify-msg').textContent), { timeout: 10000 });
		ok(/Too many attempts\. Please try again in 60 minutes\./.test(await text(page, '#verify-msg')),
			'the sixth, even right, is throttled, with when to come back', await text(page, '#verify-msg'));
		ok(!(await visible(page, '#journey')), '... and shows nothing');
		await shots(page, shotDir, 'track-throttled');

		// an unknown waybill: the same page, "no information"
		await page.goto(`${url}/t/`, { waitUntil: 'networkidle0' });
		await page.type('#waybill', withCheck('SW2601010000777'));
		await page.keyboard.press('Enter');
		await page.waitForSelector('#coarse:not([hidden])', { timeout: 10000 });
		ok(await text(page, '#c-badge') === 'No information', 'a waybill we do not know: "No information"');
		ok(await visible(page, '#c-unknown') && !(await visible(page, '#steps')), '... a note instead of progress steps');
		await shots(page, shotDir, 'track-unknown');
		await typeInto(page, '#waybill', 'SW123');
		await page.keyboard.press('Enter');
		await page.waitForSelector('#lookup-msg:not([hidden])', { timeout: 10000 });
		ok(/not a waybill number/.test(await text(page, '#lookup-msg')), 'a mistyped number: "not a waybill number"');

		// no console errors, no CSP violations, anywhere above
		const errors = log.errors.filter(e => !expected(e));
		ok(errors.length === 0, 'no console errors or CSP violations', errors.join('\n'));
		ok(log.errors.some(expected), '... (the expected 403/429 answers were seen, so errors are collected)');

		// a Chinese browser
		const ctx2 = await browser.createBrowserContext();
		const zh = await ctx2.newPage();
		const log2 = watch(zh);
		await zh.evaluateOnNewDocument(() => {
			Object.defineProperty(navigator, 'languages', { get: () => ['zh-CN', 'zh'] });
			Object.defineProperty(navigator, 'language', { get: () => 'zh-CN' });
		});
		await zh.goto(`${url}/t/#${wb}`, { waitUntil: 'networkidle0' });
		await zh.waitForSelector('#coarse:not([hidden])', { timeout: 10000 });
		ok(await zh.$eval('html', e => e.lang) === 'zh-CN', 'a Chinese browser gets the page in Chinese');
		ok(await text(zh, '#c-badge') === '派送中', '... the coarse status in Chinese');
		await shots(zh, shotDir, 'track-coarse-zh');
		ok(log2.errors.length === 0, '... no console errors', log2.errors.join('\n'));
		diag(`screenshots in ${shotDir}`);
	} catch (e) {
		ok(false, 'the browser test ran without an exception', e && e.stack);
	} finally {
		await browser.close();
		done();
	}
})();
