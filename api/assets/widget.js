/* banshi 办事助手 — embeddable chat widget. Plain ES2020, no dependencies.
 * Embed: <script src="(this server)/widget.js" data-title="…" data-position="right|left"
 *         data-question="" data-elder="on|off" data-dev-login="on|off" defer></script>
 * All server text is inserted with textContent; no inline styles (strict CSP). */
(() => {
  'use strict';
  if (window.banshi && window.banshi.loaded) return;

  const script = document.currentScript ||
    Array.from(document.querySelectorAll('script[src]')).find((s) => /\/widget\.js(\?|#|$)/.test(s.src));
  const base = script ? new URL(script.src, location.href).origin : location.origin;
  const ds = (script && script.dataset) || {};
  const cfg = {
    title: (ds.title || '').trim() || '示范市政务服务助手',
    left: ds.position === 'left',
    question: (ds.question || '').trim(),
    elder: ds.elder === 'on',
    devLogin: ds.devLogin === 'on',
  };

  const K = { session: 'banshi.session', token: 'banshi.token', elder: 'banshi.elder', handoff: 'banshi.handoff' };
  const store = {
    get(k) { try { return localStorage.getItem(k); } catch (e) { return null; } },
    set(k, v) { try { if (v == null) localStorage.removeItem(k); else localStorage.setItem(k, v); } catch (e) { /* private mode */ } },
  };

  const GREETING = '您好，我是示范市政务服务助手。可以问我办事要带什么材料、怎么办理，也可以投诉建议、查询进度。';
  const SECTIONS = {
    summary: '办理须知', conditions: '办理条件', materials: '申请材料', steps: '办理流程',
    time_limit: '办理时限', fees: '收费标准', channels: '办理渠道', cross_province: '跨省通办',
  };
  const FIELD_STATUS = { filled: '已填', prefilled: '已从电子证照带出', skipped: '已跳过', missing: '待填写' };
  const UPLOAD_STATUS = { attached: '已上传', missing: '需上传', optional: '选填' };
  const APP_STATES = {
    submitted: '已提交，等待受理', accepted: '已受理', refused: '不予受理', correction_requested: '需要补正材料',
    in_review: '审核中', approved: '审核通过，等待办结', denied: '未通过审核', issued: '已办结',
  };
  const TICKET_STATES = {
    dispatched: '已派单，等待部门签收', accepted: '部门已签收', returned: '已退单，等待重新派单', in_progress: '办理中',
    waiting_citizen: '等待您补充信息', replied: '部门已答复，等待您确认', reopened: '已重新办理',
    confirmed: '您已确认办结', closed: '已办结',
  };
  const LEVELS = [[5, '非常满意'], [4, '满意'], [3, '基本满意'], [2, '不满意'], [1, '非常不满意']];
  const USERS = [['citizen-1', '张三'], ['citizen-2', '李四'], ['company-1', '示范科技有限公司']];
  const NET_ERROR = '网络连接失败，请检查网络后重试。';
  const canSpeak = 'speechSynthesis' in window && typeof window.SpeechSynthesisUtterance === 'function';

  let session = store.get(K.session);
  let token = store.get(K.token);
  let elder = false;
  let busy = false;
  let chatCtl = null;       // AbortController of the running chat turn
  let hand = null;          // hand-over state: waiting | connected | closed | open (restored, unknown)
  let evCtl = null;         // AbortController of the session events stream
  let evTimer = 0;
  let asked = false;        // data-question already used
  let ready = Promise.resolve();
  const seen = new Set();   // event message ids already handled
  const titles = new Map(); // guide id -> title, from responses

  // ---------- small helpers ----------
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v == null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'text') el.textContent = v;
        else if (typeof v === 'function') el.addEventListener(k, v);
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of kids) if (c != null && c !== false) el.append(c);
    return el;
  }
  function svg(d, cls) {
    const NS = 'http://www.w3.org/2000/svg';
    const s = document.createElementNS(NS, 'svg');
    s.setAttribute('viewBox', '0 0 24 24');
    s.setAttribute('aria-hidden', 'true');
    s.setAttribute('focusable', 'false');
    s.setAttribute('class', cls);
    const p = document.createElementNS(NS, 'path');
    p.setAttribute('d', d);
    s.append(p);
    return s;
  }
  const enc = encodeURIComponent;
  function headers(extra) {
    const hd = Object.assign({}, extra);
    if (token) hd.Authorization = 'Bearer ' + token;
    return hd;
  }
  function userError(message, status) {
    const e = new Error(message);
    e.friendly = true;
    e.status = status || 0;
    return e;
  }
  async function toError(res) {
    let msg = '';
    try {
      const j = await res.json();
      msg = j && j.error && j.error.message;
    } catch (e) { /* not JSON */ }
    return userError(msg || `服务暂时不可用（${res.status}），请稍后再试。`, res.status);
  }
  function friendly(e) { return (e && e.friendly && e.message) || NET_ERROR; }
  async function api(method, path, body) {
    let res;
    try {
      res = await fetch(base + path, {
        method,
        headers: headers(body ? { 'Content-Type': 'application/json' } : {}),
        body: body ? JSON.stringify(body) : undefined,
        cache: 'no-store',
      });
    } catch (e) {
      throw userError(NET_ERROR);
    }
    if (!res.ok) throw await toError(res);
    return res.json();
  }
  // Server-sent events over fetch: blank line ends an event; data lines join with "\n".
  async function readSSE(res, onEvent) {
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    let ev = '';
    let data = [];
    const line = (l) => {
      if (l.endsWith('\r')) l = l.slice(0, -1);
      if (l === '') {
        if (data.length) onEvent(ev || 'message', data.join('\n'));
        ev = '';
        data = [];
        return;
      }
      if (l[0] === ':') return;
      const i = l.indexOf(':');
      const field = i < 0 ? l : l.slice(0, i);
      let v = i < 0 ? '' : l.slice(i + 1);
      if (v[0] === ' ') v = v.slice(1);
      if (field === 'event') ev = v;
      else if (field === 'data') data.push(v);
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let n;
      while ((n = buf.indexOf('\n')) >= 0) {
        line(buf.slice(0, n));
        buf = buf.slice(n + 1);
      }
    }
    buf += dec.decode();
    if (buf) line(buf);
    line('');
  }
  function parse(data) {
    try { return JSON.parse(data); } catch (e) { return null; }
  }

  // ---------- DOM ----------
  const bubble = h('button', {
    id: 'banshi-bubble', type: 'button', 'aria-label': '打开办事助手', 'aria-expanded': 'false',
    'aria-controls': 'banshi-panel', class: cfg.left ? 'banshi-left' : null,
  }, svg('M4 3h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H10l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z', 'banshi-icon'),
  h('span', { class: 'banshi-bubble-text', text: '办事助手' }));

  const elderBtn = h('button', { id: 'banshi-elder', type: 'button', class: 'banshi-tool', 'aria-pressed': 'false', text: '长辈版' });
  const newBtn = h('button', { id: 'banshi-new', type: 'button', class: 'banshi-tool', text: '新对话' });
  const historyBtn = h('button', {
    id: 'banshi-history', type: 'button', class: 'banshi-tool', hidden: true,
    'aria-expanded': 'false', 'aria-controls': 'banshi-history-panel', text: '我的对话',
  });
  const loginBtn = h('button', { id: 'banshi-login', type: 'button', class: 'banshi-tool', hidden: true, text: '登录' });
  const closeBtn = h('button', { id: 'banshi-close', type: 'button', class: 'banshi-tool banshi-x', 'aria-label': '关闭' },
    svg('M6 6l12 12M18 6L6 18', 'banshi-icon-x'));

  const loginPanel = h('div', { id: 'banshi-login-panel', class: 'banshi-inline', role: 'group', 'aria-label': '选择演示身份', hidden: true },
    h('p', { class: 'banshi-inline-title', text: '演示登录：请选择身份' }),
    h('div', { class: 'banshi-row' }, ...USERS.map(([id, name]) =>
      h('button', { type: 'button', class: 'banshi-login-user', 'data-user': id, text: name, click: () => devLogin(id, name) }))));

  const historyList = h('div', { class: 'banshi-history-list' });
  const historyPanel = h('div', { id: 'banshi-history-panel', class: 'banshi-inline', role: 'region', 'aria-label': '我的对话', hidden: true },
    h('p', { class: 'banshi-inline-title', text: '我的对话' }), historyList);

  const handoffEl = h('div', { id: 'banshi-handoff', role: 'status', hidden: true });
  const log = h('div', { id: 'banshi-log', role: 'log', 'aria-live': 'polite', 'aria-label': '对话记录', tabindex: '0' });
  const formSec = h('section', { id: 'banshi-form', 'aria-label': '正在填写的表单', tabindex: '0', hidden: true });
  const quick = h('div', { id: 'banshi-quick', role: 'group', 'aria-label': '快捷回复', hidden: true });
  const input = h('textarea', {
    id: 'banshi-input', rows: '2', maxlength: '2000', placeholder: '输入您的问题', autocomplete: 'off',
    'aria-describedby': 'banshi-input-hint',
  });
  const sendBtn = h('button', { id: 'banshi-send', type: 'submit', text: '发送' });
  const inputForm = h('form', { id: 'banshi-form-input', novalidate: true },
    h('label', { for: 'banshi-input', class: 'banshi-sr', text: '输入您的问题' }),
    h('span', { id: 'banshi-input-hint', class: 'banshi-sr', text: '按回车发送，Shift 加回车换行' }),
    input, sendBtn);

  const panel = h('div', {
    id: 'banshi-panel', role: 'dialog', 'aria-label': cfg.title, hidden: true, class: cfg.left ? 'banshi-left' : null,
  },
  h('div', { class: 'banshi-head' },
    h('h2', { class: 'banshi-title', text: cfg.title }),
    h('div', { class: 'banshi-tools' }, elderBtn, newBtn, historyBtn, loginBtn, closeBtn)),
  loginPanel, historyPanel, handoffEl, log, formSec, quick, inputForm);

  // ---------- messages ----------
  const WHO = { user: '我', bot: '助手', agent: '工作人员' };
  function scrollDown() { log.scrollTop = log.scrollHeight; }
  function addMsg(role, text, extra) {
    const el = h('div', { class: `banshi-msg banshi-${role}${extra ? ' ' + extra : ''}` });
    if (WHO[role]) el.append(h('span', { class: role === 'agent' ? 'banshi-who' : 'banshi-who banshi-sr', text: WHO[role] + (role === 'agent' ? '' : '：') }));
    el.append(h('div', { class: 'banshi-text', text: text || '' }));
    log.append(el);
    scrollDown();
    return el;
  }
  function system(text) { return addMsg('system', text); }
  function speak(text) {
    if (!canSpeak) return;
    const synth = window.speechSynthesis;
    synth.cancel();
    const u = new window.SpeechSynthesisUtterance(text);
    u.lang = 'zh-CN';
    if (elder) u.rate = 0.85;
    synth.speak(u);
  }
  function addReadButton(el, text) {
    if (!canSpeak || !text) return;
    el.append(h('button', {
      type: 'button', class: 'banshi-read', 'aria-label': '朗读这条回复', text: '朗读', click: () => speak(text),
    }));
  }
  function sectionName(s) {
    if (SECTIONS[s]) return SECTIONS[s];
    return /^faq:\d+$/.test(s) ? '常见问题' : s;
  }
  function addCitations(el, citations, guides) {
    const byId = new Map((guides || []).map((g) => [g.id, g.title]));
    const done = new Set();
    const list = h('ol', { class: 'banshi-cites', 'aria-label': '参考的办事指南' });
    for (const c of citations || []) {
      if (!c || !c.guide_id) continue;
      const key = c.guide_id + '#' + c.section;
      if (done.has(key)) continue;
      done.add(key);
      const title = byId.get(c.guide_id) || titles.get(c.guide_id) || c.guide_id;
      const section = String(c.section || '');
      const frag = /^[\w:.-]+$/.test(section) ? section : enc(section);
      const text = `[${done.size}] ${title}` + (section ? ` · ${sectionName(section)}` : '');
      list.append(h('li', null, h('a', {
        class: 'banshi-cite', href: `${base}/guides/${enc(c.guide_id)}${frag ? '#' + frag : ''}`,
        target: '_blank', rel: 'noopener', text,
      })));
    }
    if (done.size) el.append(list);
  }
  function greet() { addMsg('bot', GREETING, 'banshi-greeting'); }
  function isEmpty() { return !log.querySelector('.banshi-msg:not(.banshi-greeting)'); }

  function setQuick(list) {
    quick.replaceChildren();
    for (const q of list || []) {
      if (typeof q !== 'string' || !q.trim()) continue;
      quick.append(h('button', { type: 'button', class: 'banshi-quick', text: q, click: () => send(q) }));
    }
    quick.hidden = !quick.children.length;
  }

  function renderForm(f) {
    if (!f || (f.state !== 'collecting' && f.state !== 'confirming')) {
      formSec.hidden = true;
      formSec.replaceChildren();
      return;
    }
    const missing = (f.missing || []).length;
    formSec.replaceChildren(
      h('h3', { class: 'banshi-form-title', text: titles.get(f.service_id) || f.service_id }),
      h('p', {
        class: 'banshi-form-state',
        text: f.state === 'confirming' ? '请核对以下信息，无误后按提示确认提交。'
          : (missing ? `正在填写，还有 ${missing} 项待填写。` : '正在填写。'),
      }),
      h('ul', { class: 'banshi-fields' }, ...(f.fields || []).map((x) =>
        h('li', { 'data-status': x.status },
          h('span', { class: 'banshi-f-label', text: x.label || x.name }),
          h('span', { class: 'banshi-f-value', text: x.value || '待填写' }),
          h('span', { class: 'banshi-f-status', text: FIELD_STATUS[x.status] || x.status || '' })))),
      ...((f.uploads || []).length ? [h('ul', { class: 'banshi-fields banshi-uploads' }, ...f.uploads.map((u) =>
        h('li', { 'data-status': u.status === 'attached' ? 'filled' : 'missing' },
          h('span', { class: 'banshi-f-label', text: u.material }),
          h('span', { class: 'banshi-f-value', text: u.file_name || (u.help || '') }),
          h('span', { class: 'banshi-f-status', text: UPLOAD_STATUS[u.status] || u.status || '' }),
          uploadButton(u))))] : []));
    formSec.hidden = false;
  }

  // ---------- uploads: a photo or scan of a material, then “已上传” in the chat ----------
  function uploadButton(u) {
    const input = h('input', {
      type: 'file', accept: 'image/jpeg,image/png,application/pdf', class: 'banshi-file',
      'aria-label': `上传${u.material}`, tabindex: '-1',
    });
    input.addEventListener('change', async () => {
      const file = input.files && input.files[0];
      if (!file || !session) return;
      const q = new URLSearchParams({ session_id: session, material: u.material, name: file.name });
      try {
        const res = await fetch(`${base}/api/v1/uploads?${q}`, {
          method: 'POST', headers: headers({ 'Content-Type': file.type || 'application/octet-stream' }), body: file,
        });
        if (!res.ok) throw await toError(res);
        send('已上传');
      } catch (e) {
        system(friendly(e));
      }
    });
    const button = h('button', {
      type: 'button', class: 'banshi-quick banshi-upload',
      text: u.status === 'attached' ? '重新上传' : '上传材料', click: () => input.click(),
    });
    return h('span', {}, button, input);
  }

  // ---------- rating ----------
  function askRating(kind, id) {
    const old = document.getElementById('banshi-rating');
    if (old) old.remove();
    if (!id) return;
    if (!token) {
      system('登录后可以对本次服务进行评价。');
      return;
    }
    let level = 0;
    const msg = h('p', { class: 'banshi-rating-msg', role: 'alert' });
    const label = h('label', { for: 'banshi-rating-reason', id: 'banshi-rating-label', text: '您的意见或建议（选填）' });
    const reason = h('textarea', { id: 'banshi-rating-reason', rows: '2', maxlength: '500' });
    const levels = h('div', { class: 'banshi-levels', role: 'group', 'aria-label': '满意程度' },
      ...LEVELS.map(([n, word]) => h('button', {
        type: 'button', class: 'banshi-level', 'data-level': n, 'aria-pressed': 'false', text: word, click: () => pick(n),
      })));
    const submit = h('button', { id: 'banshi-rating-submit', type: 'button', text: '提交评价' });
    const sec = h('section', { id: 'banshi-rating', 'aria-label': '服务评价' },
      h('h3', { class: 'banshi-rating-title', text: '请对本次服务进行评价' }), levels, label, reason, msg, submit);

    function pick(n) {
      level = n;
      for (const b of levels.children) b.setAttribute('aria-pressed', String(Number(b.dataset.level) === n));
      const required = n <= 2;
      label.textContent = required ? '请说明不满意的原因（必填）' : '您的意见或建议（选填）';
      reason.required = required;
      reason.setAttribute('aria-required', String(required));
      msg.textContent = '';
    }
    submit.addEventListener('click', async () => {
      const comment = reason.value.trim();
      if (!level) { msg.textContent = '请先选择满意程度。'; return; }
      if (level <= 2 && !comment) {
        msg.textContent = '请先说明不满意的原因，再提交评价。';
        reason.focus();
        return;
      }
      submit.disabled = true;
      msg.textContent = '';
      try {
        const r = await api('POST', '/api/v1/ratings', {
          target_kind: kind, target_id: id, level, comment, channel: 'web',
        });
        let text = r && r.changed ? '感谢您的评价，已更新。' : '感谢您的评价。';
        if (r && r.rectification_due) text += `我们会在 ${r.rectification_due} 前核实整改并回复您。`;
        const line = h('div', { class: 'banshi-msg banshi-system' }, h('div', { class: 'banshi-text', text }));
        const hadFocus = sec.contains(document.activeElement);
        sec.replaceWith(line);
        if (hadFocus) input.focus();
        scrollDown();
      } catch (e) {
        msg.textContent = friendly(e);
        submit.disabled = false;
      }
    });
    log.append(sec);
    scrollDown();
  }

  // ---------- hand-over ----------
  function showStatus(text) {
    handoffEl.hidden = false;
    handoffEl.textContent = text;
  }
  function setHandoff(ho) {
    if (!ho || !ho.state) return;
    const prev = hand;
    hand = ho.state;
    if (ho.state === 'waiting') {
      const parts = ['正在为您转接人工客服'];
      if (ho.position != null) parts.push(`前面还有 ${ho.position} 位`);
      if (ho.expected_wait_s != null) parts.push(`预计等待约 ${Math.max(1, Math.ceil(ho.expected_wait_s / 60))} 分钟`);
      showStatus(parts.join('，'));
      store.set(K.handoff, session);
      openEvents();
    } else if (ho.state === 'connected') {
      showStatus('工作人员已接入');
      if (prev !== 'connected') system('工作人员已接入');
      store.set(K.handoff, session);
      openEvents();
    } else if (ho.state === 'closed') {
      handoffEl.hidden = true;
      handoffEl.textContent = '';
      store.set(K.handoff, null);
      closeEvents();
      if (prev && prev !== 'closed') {
        system('人工服务已结束，智能助手继续为您服务。');
        askRating('conversation', session);
      }
    }
  }
  function onSessionEvent(ev, data) {
    const d = parse(data);
    if (!d) return;
    if (ev === 'message') {
      if (d.id != null) {
        if (seen.has(d.id)) return;
        seen.add(d.id);
      }
      if (d.role === 'agent') addMsg('agent', d.text);
    } else if (ev === 'handoff') {
      setHandoff(d);
    }
  }
  function closeEvents() {
    clearTimeout(evTimer);
    evTimer = 0;
    if (evCtl) evCtl.abort();
    evCtl = null;
  }
  function handoffOpen() { return hand && hand !== 'closed'; }
  async function openEvents() {
    if (evCtl || !session) return;
    clearTimeout(evTimer);
    evTimer = 0;
    const ctl = new AbortController();
    const sid = session;
    evCtl = ctl;
    let retry = true;
    try {
      const res = await fetch(`${base}/api/v1/sessions/${enc(sid)}/events`, {
        headers: headers({ Accept: 'text/event-stream' }), signal: ctl.signal, cache: 'no-store',
      });
      if (!res.ok) {
        const e = await toError(res);
        if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
          retry = false;
          system(e.message);
        }
      } else {
        await readSSE(res, (ev, data) => { if (evCtl === ctl) onSessionEvent(ev, data); });
      }
    } catch (e) {
      if (ctl.signal.aborted) return;
    }
    if (evCtl !== ctl) return;
    evCtl = null;
    if (retry && handoffOpen() && session === sid) evTimer = setTimeout(openEvents, 2000);
  }

  // ---------- chat turn ----------
  // The number of what was filed, with a button that asks how far it has got.
  function refLine(text, ask) {
    const el = h('div', { class: 'banshi-ref', text });
    if (ask) {
      el.append(' ', h('button', {
        type: 'button', class: 'banshi-quick banshi-status', text: '查看进度', click: () => send(ask),
      }));
    }
    log.append(el);
    scrollDown();
  }
  function handle(resp, bot, streamed) {
    if (resp.session_id && resp.session_id !== session) {
      session = resp.session_id;
      store.set(K.session, session);
    }
    for (const g of resp.guides || []) if (g && g.id) titles.set(g.id, g.title || g.id);
    const reply = resp.reply || {};
    const text = reply.text || streamed;
    if (!text) {
      bot.remove();
    } else {
      bot.querySelector('.banshi-text').textContent = text;
      addCitations(bot, reply.citations, resp.guides);
      addReadButton(bot, text);
    }
    setQuick(reply.quick_replies);
    renderForm(resp.form);
    let rate = null;
    const app = resp.application;
    if (app && app.number) {
      refLine(`办件编号：${app.number}，状态：${APP_STATES[app.state] || app.state || '已提交'}`, '我的申请到哪一步了');
      rate = ['application', app.number];
    }
    const t = resp.ticket;
    if (t && t.number) {
      const parts = [`工单编号：${t.number}`];
      if (t.kind) parts.push(`类型：${t.kind}${t.category ? ' · ' + t.category : ''}`);
      if (t.department_name || t.department) parts.push(`承办部门：${t.department_name || t.department}`);
      if (t.state) parts.push(`状态：${TICKET_STATES[t.state] || t.state}`);
      if (t.deadline) parts.push(`处理期限 ${t.deadline}`);
      refLine(parts.join('，'), '我的投诉处理得怎么样了');
      rate = ['ticket', t.number];
    }
    const ap = resp.appointment;
    if (ap && ap.number) {
      refLine(ap.state === 'cancelled'
        ? `已取消预约：${ap.number}`
        : `预约号：${ap.number}，${ap.start}，${ap.hall}${ap.address ? '（' + ap.address + '）' : ''}，${ap.window}`,
      '我的预约');
    }
    if (rate) askRating(rate[0], rate[1]);
    if (resp.handoff) setHandoff(resp.handoff);
    scrollDown();
  }

  async function send(raw) {
    const text = String(raw == null ? '' : raw).trim();
    if (!text || busy) return;
    busy = true;
    sendBtn.disabled = true;
    setQuick([]);
    addMsg('user', text);
    const bot = addMsg('bot', '', 'banshi-pending');
    const textEl = bot.querySelector('.banshi-text');
    const typing = h('span', { class: 'banshi-typing', text: '正在回复…' });
    bot.append(typing);
    log.setAttribute('aria-busy', 'true');
    const ctl = new AbortController();
    chatCtl = ctl;
    let streamed = '';
    let resp = null;
    let serverError = null;
    try {
      const body = { message: text };
      if (session) body.session_id = session;
      if (elder) body.elder = true;
      let res;
      try {
        res = await fetch(base + '/api/v1/chat/stream', {
          method: 'POST',
          headers: headers({ 'Content-Type': 'application/json', Accept: 'text/event-stream' }),
          body: JSON.stringify(body),
          signal: ctl.signal,
          cache: 'no-store',
        });
      } catch (e) {
        if (ctl.signal.aborted) throw e;
        throw userError(NET_ERROR);
      }
      if (!res.ok) throw await toError(res);
      await readSSE(res, (ev, data) => {
        if (chatCtl !== ctl) return;
        if (ev === 'delta') {
          typing.remove();
          streamed += data;
          textEl.textContent = streamed;
          scrollDown();
        } else if (ev === 'done') {
          resp = parse(data);
        } else if (ev === 'error') {
          const d = parse(data);
          serverError = (d && ((d.error && d.error.message) || d.message)) || data;
        }
      });
      if (chatCtl !== ctl) return;
      if (serverError) throw userError(serverError);
      if (!resp) throw userError('回复没有完整收到，请再试一次。');
      typing.remove();
      bot.classList.remove('banshi-pending');
      handle(resp, bot, streamed);
    } catch (e) {
      if (chatCtl !== ctl || ctl.signal.aborted) return;
      typing.remove();
      bot.classList.remove('banshi-pending');
      if (!streamed) bot.remove();
      system(friendly(e));
      if (e.status === 401 && token) setToken(null);
    } finally {
      if (chatCtl === ctl) {
        chatCtl = null;
        busy = false;
        sendBtn.disabled = false;
        log.setAttribute('aria-busy', 'false');
      }
    }
  }

  // ---------- sessions ----------
  function clearView() {
    if (chatCtl) chatCtl.abort();
    chatCtl = null;
    busy = false;
    sendBtn.disabled = false;
    log.setAttribute('aria-busy', 'false');
    closeEvents();
    hand = null;
    seen.clear();
    handoffEl.hidden = true;
    handoffEl.textContent = '';
    log.replaceChildren();
    setQuick([]);
    renderForm(null);
    if (canSpeak) window.speechSynthesis.cancel();
  }
  function reset() {
    clearView();
    session = null;
    store.set(K.session, null);
    store.set(K.handoff, null);
    greet();
  }
  async function loadTranscript(sid) {
    clearView();
    const status = system('正在加载对话记录…');
    try {
      const r = await api('GET', `/api/v1/chat/${enc(sid)}/messages`);
      if (session !== sid) return;
      status.remove();
      const msgs = (r && r.messages) || [];
      if (!msgs.length) greet();
      for (const m of msgs) {
        const role = m.role === 'user' || m.role === 'agent' ? m.role : 'bot';
        const el = addMsg(role, m.text);
        if (role === 'bot') addReadButton(el, m.text);
      }
      if (store.get(K.handoff) === sid) {
        hand = 'open';
        openEvents();
      }
    } catch (e) {
      if (session !== sid) return;
      status.remove();
      if (e.status === 404 || e.status === 401 || e.status === 403) {
        session = null;
        store.set(K.session, null);
        store.set(K.handoff, null);
        greet();
      } else {
        greet();
        system(friendly(e));
      }
    }
  }
  function switchSession(sid) {
    session = sid;
    store.set(K.session, sid);
    hideHistory();
    ready = loadTranscript(sid);
    input.focus();
  }

  // ---------- login & history ----------
  function updateAuth() {
    historyBtn.hidden = !token;
    loginBtn.hidden = !(cfg.devLogin || token);
    loginBtn.textContent = token ? '退出' : '登录';
    if (token) {
      loginBtn.removeAttribute('aria-expanded');
      loginBtn.removeAttribute('aria-controls');
      loginPanel.hidden = true;
    } else {
      loginBtn.setAttribute('aria-expanded', String(!loginPanel.hidden));
      loginBtn.setAttribute('aria-controls', 'banshi-login-panel');
      hideHistory();
    }
  }
  function setToken(t) {
    token = t || null;
    store.set(K.token, token);
    updateAuth();
    if (evCtl) {
      closeEvents();
      if (handoffOpen()) openEvents();
    }
  }
  function setUser(t) {
    const was = token;
    setToken(t);
    if (was && !token) reset();
  }
  async function devLogin(id, name) {
    try {
      const r = await api('POST', '/api/v1/dev/login', { user: id });
      if (!r || !r.token) throw userError('登录失败，请稍后再试。');
      setToken(r.token);
      system(`已登录：${name}。`);
      loginBtn.focus();
    } catch (e) {
      system(friendly(e));
    }
  }
  function hideHistory() {
    historyPanel.hidden = true;
    historyBtn.setAttribute('aria-expanded', 'false');
  }
  function fmtTime(s) {
    return String(s || '').replace('T', ' ').slice(0, 16);
  }
  async function showHistory() {
    loginPanel.hidden = true;
    updateAuth();
    historyPanel.hidden = false;
    historyBtn.setAttribute('aria-expanded', 'true');
    historyList.replaceChildren(h('p', { text: '正在加载…' }));
    try {
      const r = await api('GET', '/api/v1/sessions');
      const list = (r && r.sessions) || [];
      historyList.replaceChildren();
      if (!list.length) {
        historyList.append(h('p', { text: '还没有对话记录。' }));
        return;
      }
      historyList.append(h('ul', null, ...list.map((s) => h('li', null, h('button', {
        type: 'button', class: 'banshi-session', 'data-session': s.session_id,
        'aria-current': s.session_id === session ? 'true' : null,
        click: () => switchSession(s.session_id),
      }, h('span', { class: 'banshi-session-title', text: s.title || '（无标题）' }),
      h('span', { class: 'banshi-session-time', text: fmtTime(s.updated_at) }))))));
    } catch (e) {
      historyList.replaceChildren(h('p', { text: friendly(e) }));
      if (e.status === 401) setToken(null);
    }
  }

  // ---------- open / close / elder ----------
  function setElder(on, save) {
    elder = !!on;
    panel.classList.toggle('banshi-elder', elder);
    bubble.classList.toggle('banshi-elder', elder);
    elderBtn.setAttribute('aria-pressed', String(elder));
    if (save) store.set(K.elder, elder ? '1' : '0');
  }
  function open() {
    if (!panel.hidden) { input.focus(); return; }
    panel.hidden = false;
    bubble.setAttribute('aria-expanded', 'true');
    bubble.classList.add('banshi-open');
    scrollDown();
    input.focus();
    if (cfg.question && !asked) {
      asked = true;
      ready.then(() => { if (isEmpty()) send(cfg.question); });
    }
  }
  function close() {
    if (panel.hidden) return;
    panel.hidden = true;
    bubble.setAttribute('aria-expanded', 'false');
    bubble.classList.remove('banshi-open');
    if (canSpeak) window.speechSynthesis.cancel();
    bubble.focus();
  }

  // ---------- wiring ----------
  bubble.addEventListener('click', () => (panel.hidden ? open() : close()));
  closeBtn.addEventListener('click', close);
  panel.addEventListener('keydown', (e) => {
    if ((e.key === 'Escape' || e.key === 'Esc') && !e.isComposing) {
      e.preventDefault();
      close();
    }
  });
  elderBtn.addEventListener('click', () => setElder(!elder, true));
  newBtn.addEventListener('click', () => {
    hideHistory();
    reset();
    input.focus();
  });
  historyBtn.addEventListener('click', () => (historyPanel.hidden ? showHistory() : hideHistory()));
  loginBtn.addEventListener('click', () => {
    if (token) {
      setUser(null);
      system('您已退出登录。');
      return;
    }
    hideHistory();
    loginPanel.hidden = !loginPanel.hidden;
    updateAuth();
    if (!loginPanel.hidden) loginPanel.querySelector('button').focus();
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      inputForm.requestSubmit ? inputForm.requestSubmit() : submitInput();
    }
  });
  function submitInput() {
    if (busy) return;
    const v = input.value;
    if (!v.trim()) { input.focus(); return; }
    input.value = '';
    send(v);
  }
  inputForm.addEventListener('submit', (e) => {
    e.preventDefault();
    submitInput();
  });

  function init() {
    const css = base + '/widget.css';
    const has = Array.from(document.querySelectorAll('link[rel~="stylesheet"]')).some((l) => l.href === css);
    if (!has) document.head.append(h('link', { rel: 'stylesheet', href: css }));
    document.body.append(bubble, panel);
    const storedElder = store.get(K.elder);
    setElder(storedElder == null ? cfg.elder : storedElder === '1');
    updateAuth();
    if (session) ready = loadTranscript(session);
    else greet();
  }

  window.banshi = {
    loaded: true,
    open,
    close,
    setUser,
    reset() { hideHistory(); reset(); },
    ask(text) {
      asked = true;
      open();
      return ready.then(() => send(text));
    },
  };

  if (document.body) init();
  else document.addEventListener('DOMContentLoaded', init, { once: true });
})();
