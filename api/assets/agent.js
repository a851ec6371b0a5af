/* banshi 12345 坐席工作台. Plain ES2020, no dependencies; server text only via textContent. */
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = 'banshi.agent.token';
  const SECTIONS = {
    summary: '办理须知', conditions: '办理条件', materials: '申请材料', steps: '办理流程',
    time_limit: '办理时限', fees: '收费标准', channels: '办理渠道', cross_province: '跨省通办',
  };
  const CHANNELS = { web: '网页', wechat: '微信', sms: '短信', app: 'App', phone: '电话', hotline: '热线', miniprogram: '小程序', api: '接口' };
  const WHO = { user: '市民', bot: '助手', agent: '我' };
  const STATES = { waiting: '等待中', connected: '已接入', closed: '已结束' };

  const store = {
    get() { try { return localStorage.getItem(TOKEN_KEY); } catch (e) { return null; } },
    set(v) { try { if (v) localStorage.setItem(TOKEN_KEY, v); else localStorage.removeItem(TOKEN_KEY); } catch (e) { /* ignore */ } },
  };

  let token = null;
  let me = null;            // agent id from the token, if readable
  let pollTimer = 0;
  let tickTimer = 0;
  let polling = false;
  const items = new Map();  // session id -> { li, data, at }

  // the open conversation
  let sid = null;
  let convState = null;
  let detail = null;
  let evCtl = null;
  let evTimer = 0;
  let refreshTimer = 0;
  let loading = false;
  let buffered = [];
  const seen = new Set();
  let ticketPrefilled = false;

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
  const enc = encodeURIComponent;
  function status(text) { $('agent-status').textContent = text || ''; }
  function fail(message, code) {
    const e = new Error(message);
    e.status = code || 0;
    e.friendly = true;
    return e;
  }
  function msgOf(e) { return (e && e.friendly && e.message) || '网络连接失败，请检查网络后重试。'; }
  function auth(extra) {
    const hd = Object.assign({}, extra);
    if (token) hd.Authorization = 'Bearer ' + token;
    return hd;
  }
  async function errorOf(res) {
    let m = '';
    try {
      const j = await res.json();
      m = j && j.error && j.error.message;
    } catch (e) { /* not JSON */ }
    if (!m && res.status === 409) m = '该会话已被其他坐席接入或已经结束。';
    return fail(m || `服务暂时不可用（${res.status}），请稍后再试。`, res.status);
  }
  async function api(method, path, body) {
    let res;
    try {
      res = await fetch(path, {
        method,
        headers: auth(body ? { 'Content-Type': 'application/json' } : {}),
        body: body ? JSON.stringify(body) : undefined,
        cache: 'no-store',
      });
    } catch (e) {
      throw fail('网络连接失败，请检查网络后重试。');
    }
    if (!res.ok) {
      const err = await errorOf(res);
      if (res.status === 401 && token) logout('登录已失效，请重新登录。' + err.message);
      throw err;
    }
    const t = await res.text();
    if (!t) return {};
    try { return JSON.parse(t); } catch (e) { return {}; }
  }
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
  function agentIdOf(t) {
    try {
      const p = t.split('.')[1];
      const json = atob(p.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(p.length / 4) * 4, '='));
      const claims = JSON.parse(decodeURIComponent(Array.from(json, (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join('')));
      return { id: claims.sub || null, name: claims.name || null };
    } catch (e) {
      return { id: null, name: null };
    }
  }
  function duration(s) {
    s = Math.max(0, Math.floor(s));
    const m = Math.floor(s / 60);
    return m ? `${m} 分 ${s % 60} 秒` : `${s} 秒`;
  }
  function sectionName(s) {
    if (SECTIONS[s]) return SECTIONS[s];
    return /^faq:\d+$/.test(s) ? '常见问题' : s;
  }

  // ---------- login ----------
  function showLoggedIn(on) {
    $('agent-login').hidden = on;
    $('agent-workspace').hidden = !on;
    $('agent-logout').hidden = !on;
    const who = $('agent-who');
    who.hidden = !on;
    if (on) {
      const info = agentIdOf(token);
      me = info.id;
      who.textContent = info.name || info.id ? `当前坐席：${info.name || info.id}` : '';
      who.hidden = !who.textContent;
    }
  }
  async function login(t, quiet) {
    t = (t || '').trim();
    if (!t) {
      status('请先填写令牌。');
      $('agent-token').focus();
      return;
    }
    token = t;
    try {
      const q = await api('GET', '/api/v1/agent/queue');
      store.set(t);
      $('agent-token').value = '';
      showLoggedIn(true);
      status('已登录。');
      renderQueue(q);
      startPolling();
      if (!quiet) $('agent-queue-title').focus();
    } catch (e) {
      token = null;
      store.set(null);
      showLoggedIn(false);
      status(e.status === 401 || e.status === 403 ? '令牌无效或没有坐席权限：' + e.message : msgOf(e));
    }
  }
  function logout(message) {
    token = null;
    me = null;
    store.set(null);
    stopPolling();
    closeConversation();
    items.clear();
    $('agent-queue-list').replaceChildren();
    showLoggedIn(false);
    status(message || '已退出登录。');
  }
  async function devLogin() {
    try {
      const r = await api('POST', '/api/v1/dev/login', { user: 'agent-1' });
      await login(r.token);
    } catch (e) {
      status(msgOf(e));
    }
  }

  // ---------- queue ----------
  function startPolling() {
    stopPolling();
    pollTimer = setInterval(poll, 3000);
    tickTimer = setInterval(tick, 1000);
  }
  function stopPolling() {
    clearInterval(pollTimer);
    clearInterval(tickTimer);
    pollTimer = 0;
    tickTimer = 0;
  }
  async function poll() {
    if (polling || !token) return;
    polling = true;
    try {
      renderQueue(await api('GET', '/api/v1/agent/queue'));
    } catch (e) {
      if (token) status('排队列表刷新失败：' + msgOf(e));
    } finally {
      polling = false;
    }
  }
  function tick() {
    const now = Date.now();
    for (const it of items.values()) {
      it.wait.textContent = '已等待 ' + duration((it.data.waiting_s || 0) + (now - it.at) / 1000);
    }
  }
  function renderQueue(q) {
    const list = $('agent-queue-list');
    const convs = (q && q.conversations) || [];
    const keep = new Set();
    const now = Date.now();
    convs.forEach((c, index) => {
      if (!c || !c.session_id) return;
      keep.add(c.session_id);
      let it = items.get(c.session_id);
      if (!it) {
        const li = h('li', { class: 'agent-item', 'data-session': c.session_id });
        it = {
          li,
          state: h('span', { class: 'agent-badge' }),
          wait: h('span', { class: 'agent-wait' }),
          channel: h('span', { class: 'agent-channel' }),
          owner: h('span', { class: 'agent-owner' }),
          summary: h('p', { class: 'agent-item-summary' }),
          action: h('div', { class: 'agent-item-action' }),
        };
        li.append(h('p', { class: 'agent-item-meta' }, it.state, it.wait, it.channel, it.owner), it.summary, it.action);
        items.set(c.session_id, it);
      }
      it.data = c;
      it.at = now;
      it.li.dataset.state = c.state;
      it.state.textContent = STATES[c.state] || c.state;
      it.wait.textContent = '已等待 ' + duration(c.waiting_s || 0);
      it.channel.textContent = '渠道：' + (CHANNELS[c.channel] || c.channel || '未知');
      const mine = c.state === 'connected' && (!me || !c.agent_id || c.agent_id === me);
      it.owner.textContent = c.state !== 'connected' ? '' : (c.agent_id && c.agent_id === me ? '由我接入' : `由 ${c.agent_id || '坐席'} 接入`);
      it.summary.textContent = c.summary || '（暂无摘要）';
      const want = c.state === 'waiting' ? 'take' : (mine ? 'open' : '');
      if (it.action.dataset.kind !== want) {
        const hadFocus = it.action.contains(document.activeElement);
        it.action.dataset.kind = want;
        it.action.replaceChildren();
        if (want) {
          const b = h('button', {
            type: 'button', class: 'agent-take agent-btn agent-btn-primary',
            'aria-label': `${want === 'take' ? '接入' : '打开'}：${c.summary || c.session_id}`,
            text: want === 'take' ? '接入' : '打开',
            click: () => (want === 'take' ? take(c.session_id) : openConversation(c.session_id)),
          });
          it.action.append(b);
          if (hadFocus) b.focus();
        }
      }
      if (list.children[index] !== it.li) list.insertBefore(it.li, list.children[index] || null);
    });
    for (const [id, it] of items) {
      if (keep.has(id)) continue;
      const hadFocus = it.li.contains(document.activeElement);
      it.li.remove();
      items.delete(id);
      if (hadFocus) $('agent-queue-title').focus();
    }
    $('agent-queue-empty').hidden = items.size > 0;
    $('agent-queue-count').textContent = items.size ? `（${items.size}）` : '';
  }
  async function take(id) {
    try {
      await api('POST', `/api/v1/agent/conversations/${enc(id)}/take`, {});
      status('已接入会话。');
      await openConversation(id);
      poll();
    } catch (e) {
      status(e.status === 409 ? '无法接入：' + e.message : msgOf(e));
      poll();
    }
  }

  // ---------- conversation ----------
  function addLine(m, id) {
    const role = WHO[m.role] ? m.role : 'bot';
    const el = h('div', { class: `agent-line agent-${role}` },
      h('span', { class: 'agent-line-who', text: WHO[role] }),
      m.at ? h('span', { class: 'agent-line-time', text: String(m.at) }) : null,
      h('div', { class: 'agent-line-text', text: m.text || '' }));
    if (id != null) el.dataset.id = String(id);
    const log = $('agent-transcript');
    log.append(el);
    log.scrollTop = log.scrollHeight;
    return el;
  }
  function setState(s) {
    convState = s;
    $('agent-conv-state').textContent = '状态：' + (STATES[s] || s || '未知');
    const closed = s === 'closed';
    $('agent-send').disabled = closed;
    $('agent-close').disabled = closed;
  }
  function renderSuggestions(list) {
    const box = $('agent-suggestion-list');
    const focusIndex = Array.from(box.querySelectorAll('.agent-use')).indexOf(document.activeElement);
    box.replaceChildren();
    const sugg = (list || []).slice(0, 3);
    if (!sugg.length) box.append(h('p', { class: 'agent-muted', text: '暂无建议回复。' }));
    sugg.forEach((s, i) => {
      const cites = (s.citations || []).filter((c) => c && c.guide_id);
      box.append(h('div', { class: 'agent-suggestion' },
        h('p', { class: 'agent-suggestion-text', text: s.text || '' }),
        cites.length ? h('ul', { class: 'agent-cites', 'aria-label': '依据' }, ...cites.map((c) => {
          const section = String(c.section || '');
          const frag = /^[\w:.-]+$/.test(section) ? section : enc(section);
          return h('li', null, h('a', {
            class: 'agent-cite', href: `/guides/${enc(c.guide_id)}${frag ? '#' + frag : ''}`, target: '_blank', rel: 'noopener',
            text: c.title || (c.guide_id + (section ? ' · ' + sectionName(section) : '')),
          }));
        })) : null,
        h('button', {
          type: 'button', class: 'agent-use agent-btn', 'aria-label': `使用第 ${i + 1} 条建议`, text: '使用',
          click: () => {
            const ta = $('agent-text');
            ta.value = s.text || '';
            ta.focus();
          },
        })));
    });
    if (focusIndex >= 0) {
      const btns = box.querySelectorAll('.agent-use');
      (btns[Math.min(focusIndex, btns.length - 1)] || $('agent-text')).focus();
    }
  }
  function applyDetail(d, withTranscript) {
    detail = d;
    $('agent-summary').textContent = d.summary || '（暂无摘要）';
    if (d.state) setState(d.state);
    renderSuggestions(d.suggestions);
    if (withTranscript) {
      $('agent-transcript').replaceChildren();
      const keys = new Set();
      for (const m of d.transcript || []) {
        addLine(m);
        keys.add(`${m.role}\u0000${m.text}\u0000${m.at}`);
      }
      for (const m of buffered) {
        if (!keys.has(`${m.role}\u0000${m.text}\u0000${m.at}`)) addLine(m, m.id);
      }
      buffered = [];
    }
  }
  async function openConversation(id) {
    if (sid !== id) closeConversation();
    sid = id;
    ticketPrefilled = false;
    const sec = $('agent-conversation');
    sec.hidden = false;
    $('agent-conv-title').textContent = '会话 ' + id;
    $('agent-ticket-result').hidden = true;
    loading = true;
    buffered = [];
    openEvents();
    try {
      const d = await api('GET', `/api/v1/agent/conversations/${enc(id)}`);
      if (sid !== id) return;
      applyDetail(d, true);
      $('agent-conv-title').focus();
    } catch (e) {
      if (sid === id) status(msgOf(e));
    } finally {
      if (sid === id) loading = false;
    }
  }
  function closeConversation() {
    stopEvents();
    clearTimeout(refreshTimer);
    sid = null;
    detail = null;
    convState = null;
    seen.clear();
    buffered = [];
    $('agent-conversation').hidden = true;
    $('agent-transcript').replaceChildren();
    $('agent-suggestion-list').replaceChildren();
    $('agent-summary').textContent = '';
    $('agent-text').value = '';
    showTicketForm(false);
  }
  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    const id = sid;
    refreshTimer = setTimeout(async () => {
      if (!id || sid !== id) return;
      try {
        const d = await api('GET', `/api/v1/agent/conversations/${enc(id)}`);
        if (sid === id) applyDetail(d, false);
      } catch (e) { /* keep what is shown */ }
    }, 300);
  }
  function onEvent(ev, data) {
    let d;
    try { d = JSON.parse(data); } catch (e) { return; }
    if (!d) return;
    if (ev === 'message') {
      if (d.id != null) {
        if (seen.has(d.id)) return;
        seen.add(d.id);
      }
      if (loading) {
        buffered.push(d);
        return;
      }
      if (d.role === 'agent') {
        const pending = Array.from(document.querySelectorAll('#agent-transcript .agent-line[data-pending]'))
          .find((el) => el.dataset.pending === d.text);
        if (pending) {
          pending.removeAttribute('data-pending');
          if (d.id != null) pending.dataset.id = String(d.id);
          return;
        }
      }
      addLine(d, d.id);
      if (d.role === 'user') scheduleRefresh();
    } else if (ev === 'handoff') {
      setState(d.state);
      if (d.state === 'closed') {
        status('该会话的人工服务已结束。');
        stopEvents();
      }
    }
  }
  function stopEvents() {
    clearTimeout(evTimer);
    evTimer = 0;
    if (evCtl) evCtl.abort();
    evCtl = null;
  }
  async function openEvents() {
    if (evCtl || !sid || !token) return;
    const id = sid;
    const ctl = new AbortController();
    evCtl = ctl;
    let retry = true;
    try {
      const res = await fetch(`/api/v1/sessions/${enc(id)}/events`, {
        headers: auth({ Accept: 'text/event-stream' }), signal: ctl.signal, cache: 'no-store',
      });
      if (!res.ok) {
        const e = await errorOf(res);
        if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
          retry = false;
          status('无法接收实时消息：' + e.message);
        }
      } else {
        await readSSE(res, (ev, data) => { if (evCtl === ctl) onEvent(ev, data); });
      }
    } catch (e) {
      if (ctl.signal.aborted) return;
    }
    if (evCtl !== ctl) return;
    evCtl = null;
    if (retry && sid === id && convState !== 'closed') evTimer = setTimeout(openEvents, 2000);
  }
  async function sendReply() {
    const ta = $('agent-text');
    const text = ta.value.trim();
    if (!sid) return;
    if (!text) {
      status('请先填写回复内容。');
      ta.focus();
      return;
    }
    const id = sid;
    const btn = $('agent-send');
    btn.disabled = true;
    try {
      const r = await api('POST', `/api/v1/agent/conversations/${enc(id)}/messages`, { text });
      if (sid !== id) return;
      ta.value = '';
      if (r && r.id != null && seen.has(r.id)) {
        /* the stream already showed it */
      } else {
        const el = addLine({ role: 'agent', text, at: r && r.at });
        if (r && r.id != null) {
          seen.add(r.id);
          el.dataset.id = String(r.id);
        } else {
          el.dataset.pending = text;
        }
      }
      status('已发送。');
    } catch (e) {
      status(e.status === 409 ? '发送失败：' + e.message : msgOf(e));
    } finally {
      btn.disabled = convState === 'closed';
    }
  }
  async function closeHandoff() {
    if (!sid) return;
    const id = sid;
    try {
      await api('POST', `/api/v1/agent/conversations/${enc(id)}/close`, {});
      if (sid === id) {
        setState('closed');
        stopEvents();
      }
      status('已结束人工服务，智能助手将继续为市民服务。');
      poll();
    } catch (e) {
      status(e.status === 409 ? '无法结束：' + e.message : msgOf(e));
    }
  }

  // ---------- ticket ----------
  const TICKET_FIELDS = ['category', 'department', 'location', 'contact', 'text'];
  function showTicketForm(on) {
    $('agent-ticket-form').hidden = !on;
    $('agent-ticket').setAttribute('aria-expanded', String(on));
  }
  function toggleTicket() {
    const form = $('agent-ticket-form');
    if (!form.hidden) {
      showTicketForm(false);
      return;
    }
    if (!ticketPrefilled) {
      const draft = (detail && detail.ticket_draft) || {};
      for (const f of TICKET_FIELDS) $('agent-ticket-' + f).value = draft[f] || '';
      ticketPrefilled = true;
    }
    showTicketForm(true);
    $('agent-ticket-category').focus();
  }
  async function submitTicket(e) {
    e.preventDefault();
    if (!sid) return;
    const body = {};
    for (const f of TICKET_FIELDS) body[f] = $('agent-ticket-' + f).value.trim();
    const empty = ['category', 'department', 'text'].find((f) => !body[f]);
    if (empty) {
      status('请填写' + { category: '问题分类', department: '承办部门', text: '诉求内容' }[empty] + '。');
      $('agent-ticket-' + empty).focus();
      return;
    }
    const btn = $('agent-ticket-submit');
    btn.disabled = true;
    try {
      const r = await api('POST', `/api/v1/agent/conversations/${enc(sid)}/ticket`, body);
      const out = $('agent-ticket-result');
      out.hidden = false;
      out.textContent = `已创建工单 ${r.number || ''}，承办部门 ${r.department || body.department}，期限 ${r.deadline || '以系统为准'}`;
      showTicketForm(false);
      ticketPrefilled = false;
      $('agent-ticket').focus();
    } catch (err) {
      status(err.status === 409 ? '无法创建工单：' + err.message : msgOf(err));
    } finally {
      btn.disabled = false;
    }
  }

  // ---------- wiring ----------
  function init() {
    if (document.body.dataset.devLogin === 'on') $('agent-dev-login').hidden = false;
    $('agent-dev-login').addEventListener('click', devLogin);
    $('agent-token-save').addEventListener('click', () => login($('agent-token').value));
    $('agent-token').addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        e.preventDefault();
        login($('agent-token').value);
      }
    });
    $('agent-logout').addEventListener('click', () => logout());
    $('agent-send').addEventListener('click', sendReply);
    $('agent-text').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        sendReply();
      }
    });
    $('agent-close').addEventListener('click', closeHandoff);
    $('agent-ticket').addEventListener('click', toggleTicket);
    $('agent-ticket-form').addEventListener('submit', submitTicket);
    const saved = store.get();
    if (saved) login(saved, true);
    else showLoggedIn(false);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init, { once: true });
  else init();
})();
