// SPDX-License-Identifier: Apache-2.0
// The recipient tracking page (docs/tracking.md): plain JavaScript, no
// library, served under a Content-Security-Policy that allows only this
// file. The waybill travels in the URL fragment (#SW...), which browsers
// never send to a server or in a Referer.
'use strict';

(function () {
	const T = {
		en: {
			skip: 'Skip to content', brand_sub: 'Parcel tracking', title: 'Where is my parcel?',
			lead: 'Enter the waybill number printed on the label.', waybill: 'Waybill number',
			waybill_ph: 'e.g. SW261206000012345', track: 'Track', first_seen: 'Issued', last_update: 'Last update',
			unknown_note: 'We have no information about this waybill number yet. Check the number, or try again later: a parcel appears here once the sender has issued its label.',
			verify_title: 'See the full journey',
			verify_lead: 'For the recipient only: enter the last 4 digits of the phone number the parcel is addressed to. You will see where it has been and who has seen your phone number.',
			digits: 'Last 4 digits of the phone', show: 'Show', journey: 'Journey',
			access_title: 'Who has seen your phone number',
			access_lead: 'Every time your contact details were shown to someone handling this parcel, every attempt that was refused, and every wrong answer on this page. Couriers are shown by their role, never by name or device.',
			access_none: 'Nobody has seen your phone number so far.',
			privacy: 'Your name and address are never shown on this page. The label on the parcel shows them masked, and couriers see your phone number only while delivering.',
			lang_switch: '中文', progress: 'Progress',
			st_issued: 'Label issued', st_in_transit: 'In transit', st_out_for_delivery: 'Out for delivery',
			st_delivered: 'Delivered', st_exception: 'Delivery attempt failed', st_returned: 'Returned to sender',
			st_unknown: 'No information',
			step_issued: 'Issued', step_in_transit: 'In transit', step_out_for_delivery: 'Out for delivery', step_delivered: 'Delivered',
			ev_created: 'Label issued by the sender', ev_pickup: 'Picked up', ev_hub_in: 'Arrived at a sorting hub',
			ev_hub_out: 'Left a sorting hub', ev_out_for_delivery: 'Out for delivery', ev_delivery_failed: 'Delivery attempt failed',
			ev_delivered: 'Delivered', ev_returned: 'Returned to sender',
			role_courier: 'a courier', role_hub: 'a sorting hub', role_supervisor: 'a supervisor',
			role_print_station: 'a print station', role_unknown: 'an unknown device',
			ac_reveal: 'Your phone number was shown to {role}', ac_resend: 'Shown again to {role} (the same scan, resent)',
			ac_refusal: 'Your phone number was not shown to {role}', ac_wrong: 'Wrong digits entered on this page',
			ac_for: ' for “{event}”',
			why: {
				hub_role: 'sorting hubs never receive contact details', not_holder: 'it was not holding your parcel',
				out_of_zone: 'your address is outside its delivery area', wrong_role: 'its role may not do this',
				suspended: 'the device is suspended', revoked: 'the device is revoked', unknown_device: 'the device is not enrolled',
				bad_signature: 'the scan was not genuine', replay: 'the scan was a replay', stale: 'the scan was too old',
				erased: 'your data was erased', delivered: 'the parcel was already delivered',
				returned: 'the parcel was already returned', quota_exceeded: 'the device exceeded its limit and was suspended',
			},
			e_waybill: 'That is not a waybill number. Check the letters and digits on the label.',
			e_digits: 'Enter exactly 4 digits.',
			e_nomatch: 'These digits do not match. Check the phone number the parcel was sent to.',
			e_throttled: 'Too many attempts. Please try again in {min} minutes.',
			e_net: 'Could not reach the server. Please try again.',
			e_server: 'Something went wrong on our side. Please try again later.',
		},
		zh: {
			skip: '跳到主要内容', brand_sub: '包裹查询', title: '我的包裹到哪儿了？',
			lead: '请输入面单上的运单号。', waybill: '运单号',
			waybill_ph: '例如 SW261206000012345', track: '查询', first_seen: '下单日期', last_update: '最近更新',
			unknown_note: '暂无该运单号的信息。请核对运单号，或稍后再试：寄件方打印面单后，包裹信息才会出现在这里。',
			verify_title: '查看完整物流',
			verify_lead: '仅限收件人：请输入收件手机号的后 4 位，即可查看包裹经过的地点，以及谁看过您的手机号。',
			digits: '手机号后 4 位', show: '查看', journey: '物流详情',
			access_title: '谁看过您的手机号',
			access_lead: '每一次向经手人员显示您的联系方式、每一次被拒绝的查看请求、以及本页面上每一次输错的记录。快递员只显示角色，不显示姓名或设备。',
			access_none: '目前还没有人看过您的手机号。',
			privacy: '本页面从不显示您的姓名和地址。包裹面单上的信息已脱敏，快递员只有在派送时才能看到您的手机号。',
			lang_switch: 'English', progress: '进度',
			st_issued: '已下单', st_in_transit: '运输中', st_out_for_delivery: '派送中',
			st_delivered: '已签收', st_exception: '派送未成功', st_returned: '已退回寄件人',
			st_unknown: '暂无信息',
			step_issued: '已下单', step_in_transit: '运输中', step_out_for_delivery: '派送中', step_delivered: '已签收',
			ev_created: '寄件方已打印面单', ev_pickup: '已揽收', ev_hub_in: '到达分拣中心',
			ev_hub_out: '离开分拣中心', ev_out_for_delivery: '派送中', ev_delivery_failed: '派送未成功',
			ev_delivered: '已签收', ev_returned: '已退回寄件人',
			role_courier: '快递员', role_hub: '分拣中心', role_supervisor: '站点主管',
			role_print_station: '打印站', role_unknown: '未知设备',
			ac_reveal: '您的手机号已向{role}显示', ac_resend: '再次向{role}显示（同一次扫描重发）',
			ac_refusal: '未向{role}显示您的手机号', ac_wrong: '本页面输入的号码后 4 位有误',
			ac_for: '（{event}）',
			why: {
				hub_role: '分拣中心从不接收联系方式', not_holder: '该设备当时并未持有您的包裹',
				out_of_zone: '您的地址不在其派送范围内', wrong_role: '该角色无权执行此操作',
				suspended: '设备已停用', revoked: '设备已吊销', unknown_device: '设备未登记',
				bad_signature: '扫描签名无效', replay: '重复的扫描', stale: '扫描已过期',
				erased: '您的个人信息已删除', delivered: '包裹已签收', returned: '包裹已退回',
				quota_exceeded: '设备超出查看限额，已被停用',
			},
			e_waybill: '这不是有效的运单号，请核对面单上的字母和数字。',
			e_digits: '请输入 4 位数字。',
			e_nomatch: '号码后 4 位不匹配，请核对收件手机号。',
			e_throttled: '尝试次数过多，请 {min} 分钟后再试。',
			e_net: '无法连接服务器，请稍后重试。',
			e_server: '服务暂时出现问题，请稍后再试。',
		},
	};
	const STEPS = ['issued', 'in_transit', 'out_for_delivery', 'delivered'];
	const $ = id => document.getElementById(id);

	let lang = pickLang();
	let coarse = null; // last coarse answer
	let full = null;   // last verified answer

	function pickLang() {
		let saved = null;
		try { saved = localStorage.getItem('smile.lang'); } catch (e) { /* private mode */ }
		if (saved === 'zh' || saved === 'en') return saved;
		const langs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en'];
		for (const l of langs) {
			const p = String(l).toLowerCase();
			if (p.startsWith('zh')) return 'zh';
			if (p.startsWith('en')) return 'en';
		}
		return 'en';
	}
	function t(key, vars) {
		let s = T[lang][key];
		if (s === undefined) s = T.en[key] !== undefined ? T.en[key] : key;
		for (const k in (vars || {})) s = s.split('{' + k + '}').join(vars[k]);
		return s;
	}
	function applyLang() {
		document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
		document.title = (lang === 'zh' ? '包裹查询' : 'Track a parcel') + ' · Smile';
		document.querySelectorAll('[data-i18n]').forEach(el => { el.textContent = t(el.dataset.i18n); });
		document.querySelectorAll('[data-i18n-ph]').forEach(el => { el.placeholder = t(el.dataset.i18nPh); });
		$('lang').textContent = t('lang_switch');
		$('lang').setAttribute('lang', lang === 'zh' ? 'en' : 'zh-CN');
		$('steps').setAttribute('aria-label', t('progress'));
		if (coarse) renderCoarse(coarse);
		if (full) renderFull(full);
	}

	function el(tag, cls, text) {
		const e = document.createElement(tag);
		if (cls) e.className = cls;
		if (text !== undefined) e.textContent = text;
		return e;
	}
	function fmtTime(ms) {
		return new Intl.DateTimeFormat(lang === 'zh' ? 'zh-CN' : 'en-GB', {
			year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
		}).format(new Date(ms));
	}
	function fmtDay(day) {
		if (!day) return '—';
		const d = new Date(day + 'T00:00:00Z');
		if (isNaN(d)) return '—';
		return new Intl.DateTimeFormat(lang === 'zh' ? 'zh-CN' : 'en-GB', {
			year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC',
		}).format(d);
	}
	function showMsg(id, text, warn) {
		const m = $(id);
		m.textContent = text;
		m.classList.toggle('warn', !!warn);
		m.hidden = !text;
	}

	function renderCoarse(c) {
		$('coarse').hidden = false;
		$('c-wb').textContent = c.waybill;
		const badge = $('c-badge');
		badge.className = 'badge ' + c.status;
		badge.textContent = t('st_' + c.status);
		const steps = $('steps');
		steps.textContent = '';
		let at = STEPS.indexOf(c.status);
		const trouble = c.status === 'exception' || c.status === 'returned';
		if (c.status === 'exception') at = 2;
		if (c.status === 'returned') at = 1;
		steps.classList.toggle('exception', trouble);
		STEPS.forEach((s, i) => {
			const li = el('li', i < at ? 'done' : i === at ? 'done now' : '', t('step_' + s));
			if (i === at) li.setAttribute('aria-current', 'step');
			steps.appendChild(li);
		});
		steps.hidden = c.status === 'unknown';
		$('c-first').textContent = fmtDay(c.first_seen);
		$('c-last').textContent = fmtDay(c.last_update);
		$('c-unknown').hidden = c.status !== 'unknown';
		$('verify').hidden = !!full;
	}

	function renderFull(f) {
		const tl = $('timeline');
		tl.textContent = '';
		f.timeline.slice().reverse().forEach(ev => {
			const li = el('li');
			li.appendChild(el('div', 'tl-what', t('ev_' + ev.event)));
			const meta = el('div', 'tl-meta', fmtTime(ev.time_ms));
			if (ev.place) {
				meta.appendChild(document.createTextNode(' · '));
				meta.appendChild(el('span', 'tl-place', ev.place));
			}
			li.appendChild(meta);
			tl.appendChild(li);
		});
		$('journey').hidden = false;

		const list = $('access-list');
		list.textContent = '';
		f.access.slice().reverse().forEach(a => {
			const li = el('li');
			let icon, what, cls;
			const role = t('role_' + a.role);
			if (a.kind === 'reveal') {
				cls = 'reveal'; icon = '◉';
				what = t(a.resend ? 'ac_resend' : 'ac_reveal', { role });
			} else if (a.kind === 'refusal') {
				cls = 'refusal'; icon = '✕';
				what = t('ac_refusal', { role });
			} else {
				cls = 'wrong'; icon = '!';
				what = t('ac_wrong');
			}
			what = what.charAt(0).toUpperCase() + what.slice(1);
			const ic = el('span', 'ico ' + cls, icon);
			ic.setAttribute('aria-hidden', 'true');
			li.appendChild(ic);
			const body = el('div');
			const w = el('div', 'ac-what', what);
			if (a.event) w.appendChild(document.createTextNode(t('ac_for', { event: t('ev_' + a.event) })));
			body.appendChild(w);
			let meta = fmtTime(a.time_ms);
			if (a.kind === 'refusal' && a.reason) {
				const why = T[lang].why[a.reason] || T.en.why[a.reason];
				if (why) meta += ' · ' + why;
			}
			body.appendChild(el('div', 'ac-meta', meta));
			li.appendChild(body);
			list.appendChild(li);
		});
		$('access').hidden = false;
		$('access-none').hidden = f.access.length > 0;
	}

	function throttledText(res) {
		const s = parseInt(res.headers.get('Retry-After') || '3600', 10);
		return t('e_throttled', { min: Math.max(1, Math.ceil(s / 60)) });
	}

	async function lookup(wb) {
		coarse = null; full = null;
		['coarse', 'verify', 'journey', 'access'].forEach(id => { $(id).hidden = true; });
		showMsg('lookup-msg', '');
		showMsg('verify-msg', '');
		const btn = document.querySelector('#f-lookup button');
		btn.disabled = true;
		try {
			const res = await fetch('/v1/track/' + encodeURIComponent(wb), { headers: { Accept: 'application/json' }, cache: 'no-store' });
			if (res.status === 200) {
				coarse = await res.json();
				renderCoarse(coarse);
			} else if (res.status === 422 || res.status === 400) {
				showMsg('lookup-msg', t('e_waybill'));
			} else if (res.status === 429) {
				showMsg('lookup-msg', throttledText(res), true);
			} else {
				showMsg('lookup-msg', t('e_server'));
			}
		} catch (e) {
			showMsg('lookup-msg', t('e_net'));
		} finally {
			btn.disabled = false;
		}
	}

	async function verify(digits) {
		showMsg('verify-msg', '');
		if (!/^[0-9]{4}$/.test(digits)) { showMsg('verify-msg', t('e_digits')); return; }
		const btn = document.querySelector('#f-verify button');
		btn.disabled = true;
		try {
			const res = await fetch('/v1/track/' + encodeURIComponent(coarse.waybill) + '/verify', {
				method: 'POST', cache: 'no-store',
				headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
				body: JSON.stringify({ phone_last4: digits }),
			});
			if (res.status === 200) {
				full = await res.json();
				renderFull(full);
				$('verify').hidden = true;
				$('j-title').setAttribute('tabindex', '-1');
				$('j-title').focus();
			} else if (res.status === 403) {
				showMsg('verify-msg', t('e_nomatch'));
				$('digits').select();
			} else if (res.status === 429) {
				showMsg('verify-msg', throttledText(res), true);
			} else if (res.status === 422) {
				showMsg('verify-msg', t('e_digits'));
			} else {
				showMsg('verify-msg', t('e_server'));
			}
		} catch (e) {
			showMsg('verify-msg', t('e_net'));
		} finally {
			btn.disabled = false;
		}
	}

	function normalise(s) {
		return String(s).toUpperCase().replace(/[\s-]/g, '');
	}

	document.addEventListener('DOMContentLoaded', () => {
		applyLang();
		$('lang').addEventListener('click', () => {
			lang = lang === 'zh' ? 'en' : 'zh';
			try { localStorage.setItem('smile.lang', lang); } catch (e) { /* private mode */ }
			applyLang();
		});
		$('f-lookup').addEventListener('submit', ev => {
			ev.preventDefault();
			const wb = normalise($('waybill').value);
			if (!wb) { $('waybill').focus(); return; }
			$('waybill').value = wb;
			history.replaceState(null, '', '#' + wb);
			lookup(wb);
		});
		$('f-verify').addEventListener('submit', ev => {
			ev.preventDefault();
			verify($('digits').value.trim());
		});
		$('digits').addEventListener('input', () => {
			const v = $('digits').value.replace(/[^0-9]/g, '').slice(0, 4);
			if (v !== $('digits').value) $('digits').value = v;
		});
		const fromHash = () => {
			let h = '';
			try { h = normalise(decodeURIComponent(location.hash.replace(/^#/, ''))); } catch (e) { return; }
			if (/^[A-Z0-9]{4,31}$/.test(h) && !(coarse && coarse.waybill === h)) {
				$('waybill').value = h;
				lookup(h);
			}
		};
		window.addEventListener('hashchange', fromHash);
		fromHash();
	});
})();
