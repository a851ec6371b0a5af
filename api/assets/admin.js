/* banshi 运营看板. Plain ES2020, no dependencies. The dashboard is HTML drawn and escaped by
   the server (GET /api/v1/admin/dashboard); this file only logs in, asks for it and shows it. */
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = 'banshi.admin.token';
  const store = {
    get() { try { return localStorage.getItem(TOKEN_KEY); } catch (e) { return null; } },
    set(v) { try { if (v) localStorage.setItem(TOKEN_KEY, v); else localStorage.removeItem(TOKEN_KEY); } catch (e) { /* ignore */ } },
  };
  let token = null;
  let loading = false;

  function status(text) { $('admin-status').textContent = text || ''; }

  async function messageOf(res) {
    try {
      const j = await res.json();
      if (j && j.error && j.error.message) return j.error.message;
    } catch (e) { /* not JSON */ }
    return `服务暂时不可用（${res.status}），请稍后再试。`;
  }

  function who(t) {
    try {
      const part = t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0))));
      return claims.name || claims.sub || '';
    } catch (e) { return ''; }
  }

  function show(on) {
    $('admin-login').hidden = on;
    $('admin-board').hidden = !on;
    $('admin-logout').hidden = !on;
    $('admin-who').hidden = !on;
  }

  async function load() {
    if (loading || !token) return;
    loading = true;
    const box = $('admin-dashboard');
    box.setAttribute('aria-busy', 'true');
    status('正在读取看板数据…');
    try {
      const weeks = $('admin-weeks').value;
      const res = await fetch(`/api/v1/admin/dashboard?weeks=${encodeURIComponent(weeks)}`, {
        headers: { Authorization: 'Bearer ' + token },
      });
      if (res.status === 401) { logout('登录已失效，请重新登录。'); return; }
      if (!res.ok) {
        const m = await messageOf(res);
        if (res.status === 403) { logout(m); return; }
        status(m);
        return;
      }
      // Server-drawn and escaped; parsed into an inert document (nothing in it runs), then moved here.
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      box.replaceChildren(...doc.body.childNodes);
      status('');
      show(true);
    } catch (e) {
      status('网络连接失败，请检查网络后重试。');
    } finally {
      box.setAttribute('aria-busy', 'false');
      loading = false;
    }
  }

  function login(t) {
    token = (t || '').trim();
    if (!token) { status('请先粘贴令牌。'); return; }
    store.set(token);
    $('admin-who').textContent = who(token) ? `已登录：${who(token)}` : '已登录';
    load();
  }

  function logout(message) {
    token = null;
    store.set(null);
    $('admin-dashboard').replaceChildren();
    show(false);
    status(message || '');
    $('admin-token').value = '';
    $('admin-token').focus();
  }

  async function devLogin() {
    try {
      const res = await fetch('/api/v1/dev/login', {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: 'admin' }),
      });
      if (!res.ok) { status(await messageOf(res)); return; }
      login((await res.json()).token);
    } catch (e) { status('网络连接失败，请检查网络后重试。'); }
  }

  document.addEventListener('DOMContentLoaded', () => {
    if (document.body.dataset.devLogin === 'on') $('admin-dev-login').hidden = false;
    $('admin-dev-login').addEventListener('click', devLogin);
    $('admin-token-save').addEventListener('click', () => login($('admin-token').value));
    $('admin-token').addEventListener('keydown', (e) => { if (e.key === 'Enter') login($('admin-token').value); });
    $('admin-logout').addEventListener('click', () => logout());
    $('admin-refresh').addEventListener('click', load);
    $('admin-weeks').addEventListener('change', load);
    $('admin-print').addEventListener('click', () => window.print());
    const saved = store.get();
    if (saved) login(saved); else show(false);
  });
})();
