// SPDX-License-Identifier: Apache-2.0
// Every string the console shows, in English and Chinese. The language comes
// from localStorage ("smile.lang", set by the switch) or else from
// navigator.language; elements carry data-i18n (text), data-i18n-placeholder
// and data-i18n-aria, and the script fills them.
'use strict';
(function () {
const S = {
	en: {
		skip: 'Skip to content', console: 'Console', nav_main: 'Main', nav_shipments: 'Shipments',
		nav_new: 'New shipment', nav_batch: 'Batch upload', sign_out: 'Sign out', lang_other: '中文',
		lang_other_name: 'Switch to Chinese',
		signin_title: 'Sign in to Smile', signin_lead: 'Manage shipments, print labels and follow every parcel.',
		api_key: 'API key', sign_in: 'Sign in', signing_in: 'Signing in…',
		api_key_hint: 'Your merchant API key. It is exchanged for a session; the key itself is not kept in the browser.',
		api_key_missing: 'Enter your API key.', api_key_bad: 'This API key was not accepted.',
		session_expired: 'Your session has expired. Please sign in again.', signed_out: 'You are signed out.',
		shipments: 'Shipments', live_connecting: 'Connecting to live updates…', live_on: 'Live: new scans appear as they happen',
		live_off: 'Live updates paused, reconnecting…', export_csv: 'Export CSV',
		search_label: 'Waybill or merchant reference', search_ph: 'SW2611… or order-1001', status: 'Status',
		search: 'Search', loading: 'Loading…', empty_title: 'No shipments here yet',
		empty_text: 'Issue one from the form or upload a batch file.', empty_filtered_title: 'Nothing matches',
		empty_filtered_text: 'No shipment matches this search or status. Try another one.',
		waybill: 'Waybill', merchant_ref: 'Merchant reference', recipient: 'Recipient', sender: 'Sender',
		updated: 'Updated', created: 'Created', prev: 'Previous', next: 'Next', page: 'Page {n}',
		all_statuses: 'All statuses', back_to_list: '← All shipments', details: 'Details', label: 'Label',
		label_hint: 'Download the label to print it. PNG and PDF for office printers, ZPL for thermal printers.',
		personal_data: 'Personal data', erase: 'Erase personal data', timeline: 'Timeline',
		held: 'Held, sealed in the vault. Only masked forms are shown.', erased: 'Erased on {t}.', erased_plain: 'Erased.',
		erase_confirm_title: 'Erase personal data?',
		erase_confirm_text: 'The recipient\'s and sender\'s name, phone and address are destroyed for good. The masked record and the tracking history stay. This cannot be undone.',
		cancel: 'Cancel', erase_confirm: 'Erase for good', erase_done: 'Personal data erased.',
		no_events: 'No events yet.', service: 'Service', weight: 'Weight', parcels: 'Parcels', note: 'Note on the label',
		sort_code: 'Sort code', merchant: 'Merchant', phone: 'Phone', address: 'Address', name: 'Name',
		new_title: 'New shipment',
		new_lead: 'Names, phones and addresses are sealed in the vault as soon as they arrive; only masked forms are shown again.',
		parcel: 'Parcel', weight_g: 'Weight (g)', note_hint: 'Printed on the label. No phone numbers.',
		issue: 'Issue shipment', issuing: 'Issuing…', clear: 'Clear', issued: 'Shipment {wb} issued.', open_it: 'Open it',
		form_has_errors: 'Please correct the fields marked below.',
		country: 'Country', province: 'Province / state', city: 'City', district: 'District', street: 'Street',
		detail: 'Unit, room, house number', detail_hint: 'Never printed on the label.',
		svc_STANDARD: 'Standard', svc_EXPRESS: 'Express', svc_ECONOMY: 'Economy', svc_SAME_DAY: 'Same day',
		batch_title: 'Batch upload',
		batch_lead: 'Upload a JSON Lines or CSV file. It is read in your browser and sent in chunks of 100; each line gets its own result.',
		choose_file: 'Choose a file', drop_hint: '.jsonl or .csv, up to 10,000 lines', csv_columns: 'CSV columns', csv_template: 'Download a template',
		csv_help: 'First row: column names, in any order. Required: recipient_name, recipient_phone, recipient_city, recipient_street, sender_name, sender_phone, sender_city, sender_street, weight_g. Optional: recipient_country, recipient_province, recipient_district, recipient_detail (same for sender_), merchant_ref, service, parcels, note. UTF-8; quote a value that holds a comma.',
		line: 'Line', result: 'Result', waybill_or_error: 'Waybill or error', ok: 'Issued', failed: 'Failed',
		batch_progress: 'Sent {done} of {total} lines', batch_done: 'Done: {ok} issued, {bad} failed',
		batch_counts: '{ok} issued · {bad} failed', batch_empty: 'The file has no shipments in it.',
		batch_too_many: 'The file has {n} lines; at most 10,000 at a time.',
		parse_json: 'not valid JSON', parse_cols: '{n} values, the header has {m}', parse_header: 'unknown column "{c}"',
		parse_quote: 'a quote is not closed', parse_object: 'not a JSON object',
		err_network: 'The gateway could not be reached. Check your connection and try again.',
		err_server: 'Something went wrong on the server ({s}). Please try again.', err_forbidden: 'Your key may not do this.',
		err_not_found: 'This shipment was not found.', err_rate: 'Too many requests; wait a moment and try again.',
		dismiss: 'Close',
		st_created: 'Created', st_pickup: 'Picked up', st_hub_in: 'At hub', st_hub_out: 'Left hub',
		st_out_for_delivery: 'Out for delivery', st_delivery_failed: 'Delivery failed', st_delivered: 'Delivered',
		st_returned: 'Returned', st_erased: 'Personal data erased', st_cancelled: 'Cancelled',
		src_api: 'through the API', ref_line: 'Merchant reference: {ref}', src_scan: 'scan', src_retention: 'retention', src_console: 'console',
		by_role: 'by {r}', role_courier: 'courier', role_hub: 'hub', role_supervisor: 'supervisor', role_merchant: 'merchant',
		role_warehouse: 'warehouse', role_admin: 'admin',
		live_update: '{wb}: {st}',
		code_missing_field: 'Required', code_wrong_type: 'Wrong type', code_invalid_value: 'Not valid',
		code_too_large: 'Too long', code_idempotency_key_reused: 'Already sent with different content',
		code_conflict: 'Conflict', code_invalid_json: 'Not valid JSON', code_invalid_utf8: 'Not valid UTF-8',
		code_bad_request: 'Bad request', code_unsupported_media_type: 'Wrong content type',
		code_permission: 'Not allowed', code_forbidden: 'Not allowed', code_not_found: 'Not found',
		code_busy: 'Busy', code_rate_limited: 'Too many requests',
	},
	zh: {
		skip: '跳到正文', console: '商家控制台', nav_main: '主菜单', nav_shipments: '运单',
		nav_new: '新建运单', nav_batch: '批量导入', sign_out: '退出登录', lang_other: 'English',
		lang_other_name: '切换到英文',
		signin_title: '登录 Smile', signin_lead: '管理运单、打印面单、跟踪每一个包裹。',
		api_key: 'API 密钥', sign_in: '登录', signing_in: '正在登录…',
		api_key_hint: '您的商家 API 密钥。登录后换成会话，浏览器不保存密钥本身。',
		api_key_missing: '请输入 API 密钥。', api_key_bad: '此 API 密钥无效。',
		session_expired: '会话已过期，请重新登录。', signed_out: '您已退出登录。',
		shipments: '运单', live_connecting: '正在连接实时更新…', live_on: '实时：新的扫描会立即显示',
		live_off: '实时更新已暂停，正在重连…', export_csv: '导出 CSV',
		search_label: '运单号或商家单号', search_ph: 'SW2611… 或 order-1001', status: '状态',
		search: '搜索', loading: '加载中…', empty_title: '还没有运单',
		empty_text: '用表单新建一票，或批量导入文件。', empty_filtered_title: '没有匹配的运单',
		empty_filtered_text: '没有运单符合此搜索或状态，请换一个试试。',
		waybill: '运单号', merchant_ref: '商家单号', recipient: '收件人', sender: '寄件人',
		updated: '更新时间', created: '创建时间', prev: '上一页', next: '下一页', page: '第 {n} 页',
		all_statuses: '全部状态', back_to_list: '← 全部运单', details: '详情', label: '面单',
		label_hint: '下载面单后打印。PNG 和 PDF 适用于办公打印机，ZPL 适用于热敏打印机。',
		personal_data: '个人信息', erase: '删除个人信息', timeline: '物流轨迹',
		held: '已加密保存在密库中，只显示脱敏信息。', erased: '已于 {t} 删除。', erased_plain: '已删除。',
		erase_confirm_title: '删除个人信息？',
		erase_confirm_text: '收件人和寄件人的姓名、电话、地址将被永久销毁。脱敏记录和物流轨迹会保留。此操作无法撤销。',
		cancel: '取消', erase_confirm: '永久删除', erase_done: '个人信息已删除。',
		no_events: '暂无轨迹。', service: '服务', weight: '重量', parcels: '件数', note: '面单备注',
		sort_code: '分拣码', merchant: '商家', phone: '电话', address: '地址', name: '姓名',
		new_title: '新建运单',
		new_lead: '姓名、电话和地址一到达即加密保存在密库中，此后只显示脱敏信息。',
		parcel: '包裹', weight_g: '重量（克）', note_hint: '打印在面单上，请勿填写电话号码。',
		issue: '创建运单', issuing: '正在创建…', clear: '清空', issued: '运单 {wb} 已创建。', open_it: '查看',
		form_has_errors: '请更正下面标出的字段。',
		country: '国家', province: '省份', city: '城市', district: '区县', street: '街道',
		detail: '楼栋、单元、门牌号', detail_hint: '不会打印在面单上。',
		svc_STANDARD: '标准快递', svc_EXPRESS: '特快', svc_ECONOMY: '经济', svc_SAME_DAY: '当日达',
		batch_title: '批量导入',
		batch_lead: '上传 JSON Lines 或 CSV 文件。文件在浏览器中读取，每 100 行一组发送，每一行都有各自的结果。',
		choose_file: '选择文件', drop_hint: '.jsonl 或 .csv，最多 10,000 行', csv_columns: 'CSV 列说明', csv_template: '下载模板',
		csv_help: '第一行为列名，顺序不限。必填：recipient_name、recipient_phone、recipient_city、recipient_street、sender_name、sender_phone、sender_city、sender_street、weight_g。选填：recipient_country、recipient_province、recipient_district、recipient_detail（sender_ 同理）、merchant_ref、service、parcels、note。UTF-8 编码；含逗号的值请加引号。',
		line: '行', result: '结果', waybill_or_error: '运单号或错误', ok: '已创建', failed: '失败',
		batch_progress: '已发送 {done} / {total} 行', batch_done: '完成：{ok} 票成功，{bad} 票失败',
		batch_counts: '{ok} 成功 · {bad} 失败', batch_empty: '文件中没有运单。',
		batch_too_many: '文件有 {n} 行，每次最多 10,000 行。',
		parse_json: '不是有效的 JSON', parse_cols: '有 {n} 个值，表头有 {m} 列', parse_header: '未知的列 "{c}"',
		parse_quote: '引号未闭合', parse_object: '不是 JSON 对象',
		err_network: '无法连接网关，请检查网络后重试。',
		err_server: '服务器出错（{s}），请重试。', err_forbidden: '您的密钥无权执行此操作。',
		err_not_found: '找不到此运单。', err_rate: '请求过多，请稍后再试。',
		dismiss: '关闭',
		st_created: '已创建', st_pickup: '已揽收', st_hub_in: '到达网点', st_hub_out: '离开网点',
		st_out_for_delivery: '派送中', st_delivery_failed: '派送失败', st_delivered: '已签收',
		st_returned: '已退回', st_erased: '个人信息已删除', st_cancelled: '已取消',
		src_api: '通过 API', ref_line: '商家单号：{ref}', src_scan: '扫描', src_retention: '到期删除', src_console: '控制台',
		by_role: '{r}', role_courier: '快递员', role_hub: '网点', role_supervisor: '主管', role_merchant: '商家',
		role_warehouse: '仓库', role_admin: '管理员',
		live_update: '{wb}：{st}',
		code_missing_field: '必填', code_wrong_type: '类型错误', code_invalid_value: '无效',
		code_too_large: '过长', code_idempotency_key_reused: '已用不同内容提交过',
		code_conflict: '冲突', code_invalid_json: '不是有效的 JSON', code_invalid_utf8: '不是有效的 UTF-8',
		code_bad_request: '请求无效', code_unsupported_media_type: '内容类型错误',
		code_permission: '无权操作', code_forbidden: '无权操作', code_not_found: '未找到',
		code_busy: '服务繁忙', code_rate_limited: '请求过多',
	},
};
const KEY = 'smile.lang';
function pick() {
	let l = null;
	try { l = localStorage.getItem(KEY); } catch (e) { /* storage off: follow the browser */ }
	if (l === 'en' || l === 'zh') return l;
	const nav = (navigator.languages && navigator.languages[0]) || navigator.language || 'en';
	return /^zh\b/i.test(nav) ? 'zh' : 'en';
}
let lang = pick();

function t(key, vars) {
	let s = (S[lang] && S[lang][key]) || S.en[key] || key;
	if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
	return s;
}
function has(key) { return key in S.en; }

function apply(root) {
	root = root || document;
	document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
	root.querySelectorAll('[data-i18n]').forEach(el => { el.textContent = t(el.dataset.i18n); });
	root.querySelectorAll('[data-i18n-placeholder]').forEach(el => { el.placeholder = t(el.dataset.i18nPlaceholder); });
	root.querySelectorAll('[data-i18n-aria]').forEach(el => { el.setAttribute('aria-label', t(el.dataset.i18nAria)); });
	root.querySelectorAll('[data-lang-switch]').forEach(el => {
		el.textContent = t('lang_other');
		el.setAttribute('aria-label', t('lang_other_name'));
		el.lang = lang === 'zh' ? 'en' : 'zh-CN';
	});
}
function set(l) {
	lang = l === 'zh' ? 'zh' : 'en';
	try { localStorage.setItem(KEY, lang); } catch (e) { /* not remembered, still switched */ }
	apply();
}
function locale() { return lang === 'zh' ? 'zh-CN' : 'en-GB'; }

window.I18N = { t, has, apply, set, get lang() { return lang; }, locale };
})();
