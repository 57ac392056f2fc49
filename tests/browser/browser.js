// SPDX-License-Identifier: Apache-2.0
// Shared harness for the browser tests: Debian's Chromium (/usr/bin/chromium)
// driven by puppeteer-core (pinned in package-lock.json, installed by
// `make deps`; no browser is downloaded), TAP output like every other test,
// and screenshots at a desktop and a phone width.
'use strict';
const puppeteer = require('puppeteer-core');
const fs = require('fs');
const path = require('path');

// The phone width keeps isMobile and hasTouch off: switching them makes
// puppeteer reload the page, and a screenshot must show the state a test
// brought the page to, not a fresh load.
const WIDTHS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844, deviceScaleFactor: 2 } };

let n = 0, failed = 0;
function ok(cond, name, detail) {
	n++;
	if (cond) console.log(`ok ${n} - ${name}`);
	else { failed++; console.log(`not ok ${n} - ${name}`); if (detail !== undefined) console.log(`# ${String(detail).split('\n').join('\n# ')}`); }
	return !!cond;
}
function diag(msg) { console.log(`# ${msg}`); }
let finished = false;
function done() { finished = true; console.log(`1..${n}`); process.exitCode = failed ? 1 : 0; }
// An error no check caught is a failed check while the test runs, and is
// shown on stdout (the TAP) either way: after done() - every check run, the
// browser closed - it is the driver's late noise and no longer fails the run.
function stray(kind) {
	return e => {
		const stack = String((e && e.stack) || e).split('\n').join('\n# ');
		if (finished) { console.log(`# after the last check, ${kind}: ${stack}`); return; }
		ok(false, `no ${kind}`, stack);
	};
}
process.on('uncaughtException', stray('uncaught exception'));
process.on('unhandledRejection', stray('unhandled rejection'));
process.on('exit', code => { if (code && !failed) console.log(`# exit code ${code} with every check passed`); });

async function launch(opts = {}) {
	const exe = process.env.SMILE_CHROMIUM || '/usr/bin/chromium';
	return puppeteer.launch({
		executablePath: exe,
		headless: true,
		// Root in a container: Chromium's sandbox needs user namespaces it may not get.
		args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
			'--disable-background-networking', '--disable-extensions',
			...(opts.lang ? [`--lang=${opts.lang}`] : [])],
		userDataDir: opts.userDataDir,
		protocolTimeout: 60000,
	});
}

// Every console message, page error and refused resource (CSP) of a page,
// kept so a test can assert there were none.
function watch(page) {
	const log = { errors: [], console: [] };
	page.on('pageerror', e => log.errors.push(String(e)));
	page.on('console', m => { log.console.push(`${m.type()}: ${m.text()}`); if (m.type() === 'error') log.errors.push(m.text()); });
	return log;
}

// Screenshot the page at both widths into DIR/NAME-{desktop,phone}.png.
async function shots(page, dir, name) {
	fs.mkdirSync(dir, { recursive: true });
	const files = [];
	for (const [w, vp] of Object.entries(WIDTHS)) {
		await page.setViewport(vp);
		await new Promise(r => setTimeout(r, 150));
		const f = path.join(dir, `${name}-${w}.png`);
		await page.screenshot({ path: f, fullPage: true });
		files.push(f);
	}
	await page.setViewport(WIDTHS.desktop);
	return files;
}

// Would the page need horizontal scrolling at this width? (a phone layout must not)
async function overflowsX(page) {
	return page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
}

module.exports = { launch, watch, shots, overflowsX, ok, diag, done, WIDTHS };
