// The dashboard page: listens to /api/events (server-sent events, one
// snapshot of every entry whenever something changes), renders it in place,
// and sends actions to the JSON API with the per-run token.
'use strict';

const TOKEN = document.querySelector('meta[name="portreg-token"]').content;
const DASH_PORT = Number(document.querySelector('meta[name="portreg-port"]').content);
const SELF = 'portreg-dashboard';

const $ = (sel) => document.querySelector(sel);
const tbody = $('#rows');
const rows = new Map(); // lower-cased name -> { tr, note, cells: Map(field -> html), entry }
let last = null; // last snapshot
let firstPid = null;
const busy = new Set(); // names with an action in flight

// ------------------------------------------------------------ helpers

function esc(v) {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);
}

function age(since) {
  const t = Date.parse(since);
  if (Number.isNaN(t)) return '';
  let s = Math.max(0, Math.floor((Date.now() - t) / 1000));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

function plural(n, word) { return `${n} ${word}${n === 1 ? '' : 's'}`; }

function homeShort(path) {
  const m = /^\/(?:home\/[^/]+|root)(\/.*)?$/.exec(path || '');
  return m ? `~${m[1] || ''}` : path;
}

// ------------------------------------------------------------ live status

function setLive(state, text) {
  const el = $('#live');
  el.dataset.state = state;
  el.querySelector('span').textContent = text || state;
}

function banner(html, kind, withReload) {
  const b = $('#banner');
  if (!html) { b.hidden = true; b.innerHTML = ''; return; }
  b.className = `banner ${kind || ''}`;
  b.innerHTML = `<span>${html}</span>${withReload ? '<button class="btn" type="button" data-reload>Reload</button>' : ''}`;
  b.hidden = false;
}

function connect() {
  const es = new EventSource('/api/events');
  let failures = 0;
  es.addEventListener('snapshot', (ev) => {
    failures = 0;
    setLive('live');
    let snap;
    try { snap = JSON.parse(ev.data); } catch { return; }
    render(snap);
  });
  es.onerror = () => {
    failures += 1;
    if (es.readyState === EventSource.CLOSED) {
      setLive('stopped', 'disconnected');
      setTimeout(connect, 3000);
    } else {
      setLive(failures > 2 ? 'stopped' : 'reconnecting', failures > 2 ? 'dashboard not running' : 'reconnecting');
    }
  };
}

// ------------------------------------------------------------ rendering

function healthDot(entry, health) {
  if (!health) return '<span class="hdot blank"></span>';
  if (health.ok === true) {
    return `<span class="hdot ok" title="healthy: ${esc(health.url)} answered ${health.status} in ${health.ms} ms"></span>`;
  }
  if (health.ok === false) {
    return `<span class="hdot bad" title="unhealthy: ${esc(health.url)}: ${esc(health.error)}"></span>`;
  }
  return `<span class="hdot none" title="${esc(health.error || 'not probed')}"></span>`;
}

function cellsFor(e, conflict, health) {
  const self = e.name.toLowerCase() === SELF;
  const h = e.holder;
  const stable = `http://${e.name.toLowerCase()}.localhost:${DASH_PORT}/`;
  const name = `<div class="name">${healthDot(e, health)}<span>${esc(e.name)}</span></div>`
    + (self
      ? '<span class="stable self">this dashboard</span>'
      : e.state !== 'idle'
        ? `<a class="stable" href="${esc(stable)}" target="_blank" rel="noopener" title="Stable URL: always reaches the port ${esc(e.name)} holds">${esc(e.name.toLowerCase())}.localhost ↗</a>`
        : '');
  const port = `<span class="port"><a href="http://localhost:${e.port}/" target="_blank" rel="noopener" title="Open http://localhost:${e.port}/">${e.port}</a></span>`;

  let sock = '';
  if (e.state === 'active') {
    sock = e.listening
      ? '<span class="sock on" data-listening="yes">● listening</span>'
      : '<span class="sock off" data-listening="no">○ not listening</span>';
  }
  const state = `<span class="pill ${e.state}">${e.state}</span>${sock}`;

  let proc = '<span class="none-text">—</span>';
  if (h) {
    const cmd = (h.cmdline || []).join(' ');
    const tip = [cmd, h.cwd && `cwd ${h.cwd}`, h.user && `user ${h.user}`].filter(Boolean).join('\n');
    proc = `<span class="proc" title="${esc(tip)}">${esc(h.exe || '?')}</span><span class="pid">pid <code>${h.pid}</code>${h.user ? ` · ${esc(h.user)}` : ''}</span>`;
  }

  const chips = Object.entries(e.meta || {}).map(([k, v]) => {
    const shown = k === 'project' || k === 'dir' || k === 'cwd' ? homeShort(v) : v;
    const val = /^https?:\/\//i.test(v)
      ? `<a class="v" href="${esc(v)}" target="_blank" rel="noopener">${esc(shown)}</a>`
      : `<span class="v">${esc(shown)}</span>`;
    return `<span class="chip" title="${esc(k)}: ${esc(v)}"><b>${esc(k)}</b>${val}</span>`;
  }).join('');
  let info = e.description ? `<div class="desc">${esc(e.description)}</div>` : '';
  if (chips) info += `<div class="chips">${chips}</div>`;
  if (health && health.ok === false) info += `<div class="hnote">health: ${esc(health.error)}</div>`;
  if (!info) info = '<span class="none-text">—</span>';

  let acts = '';
  if (!self) {
    const b = (action, label, cls = '') => `<button type="button" class="act ${cls}" data-action="${action}" data-name="${esc(e.name)}">${label}</button>`;
    if (e.state === 'active') acts = b('release', 'Release') + b('kill', 'Kill', 'danger');
    else acts = b('forget', 'Forget', 'danger');
  }

  return {
    name, port, state, proc,
    up: h ? `<span class="up" data-since="${esc(h.since)}">${age(h.since)}</span>` : '<span class="none-text">—</span>',
    info,
    act: `<div class="acts">${acts}</div>`,
    conflict: conflict ? conflictHtml(e, conflict) : '',
  };
}

function short(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function conflictHtml(e, c) {
  const who = c.listeners.map((l) => {
    const parts = [`<b>${esc(l.exe)}</b> pid <code>${l.pid}</code>`];
    if (l.addrs && l.addrs.length) parts.push(`on ${esc(l.addrs.join(', '))}`);
    if (l.user) parts.push(`user ${esc(l.user)}`);
    const cmd = (l.cmdline || []).join(' ');
    if (cmd) parts.push(`<code title="${esc(cmd)}">${esc(short(cmd, 90))}</code>`);
    return parts.join(' · ');
  }).join('; ');
  const what = e.state === 'active'
    ? `Port ${e.port} is held by ${esc(e.name)} (pid ${e.holder ? e.holder.pid : '?'}), but another process listens on it too:`
    : `Port ${e.port} is ${e.state === 'reserved' ? 'reserved for' : 'remembered by'} ${esc(e.name)}, but another process listens on it:`;
  return `<div class="conflict-msg" data-conflict="${esc(e.name)}"><span class="ic">⚠</span><span>${what} ${who}</span></div>`;
}

const FIELDS = ['name', 'port', 'state', 'proc', 'up', 'info', 'act'];

function makeRow(key) {
  const tr = document.createElement('tr');
  tr.className = 'entry';
  const cells = new Map();
  for (const f of FIELDS) {
    const td = document.createElement('td');
    td.className = `cell-${f}`;
    td.dataset.field = f;
    tr.appendChild(td);
    cells.set(f, { td, html: null });
  }
  const note = document.createElement('tr');
  note.className = 'note';
  note.innerHTML = `<td colspan="${FIELDS.length}"></td>`;
  return { key, tr, note, cells, noteHtml: null };
}

function matches(e, q) {
  if (!q) return true;
  const h = e.holder || {};
  const hay = [e.name, String(e.port), e.state, e.description, h.exe, h.pid && String(h.pid),
    ...(h.cmdline || []), ...Object.values(e.meta || {})].join(' ').toLowerCase();
  return q.split(/\s+/).every((w) => hay.includes(w));
}

function render(snap) {
  if (snap.error) {
    banner(`The registry cannot be read: ${esc(snap.error.message)} <code>${esc(snap.error.code)}</code>`, 'error');
    return;
  }
  last = snap;
  if (firstPid === null) firstPid = snap.dashboard.pid;
  if (snap.dashboard.pid !== firstPid) {
    banner('The dashboard was restarted; reload the page to use its actions again.', '', true);
  } else {
    banner('');
  }
  $('#registry').textContent = snap.dashboard.registry;

  const conflicts = new Map(snap.conflicts.map((c) => [c.entry.name.toLowerCase(), c]));
  const health = new Map(snap.health.map((h) => [h.name.toLowerCase(), h]));
  const entries = snap.entries;
  renderSummary(entries, conflicts, snap.health, snap.others || []);
  const others = new Map((snap.others || []).map((o) => [o.port, o.user]));

  const q = $('#filter').value.trim().toLowerCase();
  const showIdle = $('#show-idle').checked;
  const shown = entries.filter((e) => (showIdle || e.state !== 'idle') && matches(e, q));
  const keep = new Set();
  let prev = null;
  for (const e of shown) {
    const key = e.name.toLowerCase();
    keep.add(key);
    let r = rows.get(key);
    if (!r) { r = makeRow(key); rows.set(key, r); }
    r.entry = e;
    const c = conflicts.get(key);
    const html = cellsFor(e, c, health.get(key));
    for (const f of FIELDS) {
      const cell = r.cells.get(f);
      if (cell.html !== html[f]) { cell.td.innerHTML = html[f]; cell.html = html[f]; }
    }
    r.tr.dataset.name = e.name;
    r.tr.dataset.state = e.state;
    r.tr.className = `entry ${e.state}${c ? ' conflict' : ''}${busy.has(key) ? ' busy' : ''}${others.has(e.port) ? ' other-user' : ''}`;
    r.tr.title = others.has(e.port) ? `port ${e.port} is leased by user ${others.get(e.port)} on this host` : '';
    if (r.noteHtml !== html.conflict) { r.note.firstChild.innerHTML = html.conflict; r.noteHtml = html.conflict; }
    // keep DOM order = snapshot order, moving nodes only when needed
    const want = prev ? prev.nextSibling : tbody.firstChild;
    if (want !== r.tr) tbody.insertBefore(r.tr, want);
    if (c) {
      if (r.tr.nextSibling !== r.note) tbody.insertBefore(r.note, r.tr.nextSibling);
      prev = r.note;
    } else {
      if (r.note.parentNode) r.note.remove();
      prev = r.tr;
    }
  }
  for (const [key, r] of rows) {
    if (!keep.has(key)) { r.tr.remove(); r.note.remove(); rows.delete(key); }
  }
  $('#empty').hidden = entries.length > 0;
  $('#nomatch').hidden = !(entries.length > 0 && shown.length === 0);
  $('#entries').hidden = shown.length === 0;
}

function renderSummary(entries, conflicts, health, others) {
  const n = (s) => entries.filter((e) => e.state === s).length;
  const probed = health.filter((h) => h.ok !== null && h.ok !== undefined);
  const healthy = probed.filter((h) => h.ok).length;
  const stat = (cls, value, label, extra = '') => `<div class="stat ${cls} ${extra}" data-stat="${cls.slice(2)}"><b>${value}</b><span>${label}</span></div>`;
  let html = stat('s-active', n('active'), 'active')
    + stat('s-idle', n('idle'), 'idle')
    + stat('s-reserved', n('reserved'), 'reserved')
    + stat('s-conflict', conflicts.size, conflicts.size === 1 ? 'conflict' : 'conflicts', conflicts.size ? 'on' : '');
  if (others.length) {
    const list = others.map((o) => `${o.port} (${o.user})`).join(', ').replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
    html += `<div class="stat s-others" data-stat="others" title="${list}"><b>${others.length}</b><span>ports of other users</span></div>`;
  }
  if (probed.length) html += stat('s-health', `${healthy}/${probed.length}`, 'healthy', healthy < probed.length ? 'bad' : '');
  const s = $('#summary');
  if (s.dataset.html !== html) { s.innerHTML = html; s.dataset.html = html; }
}

function tickUptimes() {
  for (const el of document.querySelectorAll('.up[data-since]')) {
    const t = age(el.dataset.since);
    if (el.textContent !== t) el.textContent = t;
  }
}

// ------------------------------------------------------------ actions

function toast(text, isError) {
  const t = document.createElement('div');
  t.className = `toast${isError ? ' error' : ''}`;
  t.setAttribute('role', isError ? 'alert' : 'status');
  t.textContent = text;
  $('#toasts').appendChild(t);
  setTimeout(() => t.remove(), isError ? 9000 : 5000);
}

async function post(path, body) {
  const r = await fetch(path, {
    method: 'POST',
    headers: { 'X-Portreg-Token': TOKEN, 'Content-Type': 'application/json' },
    body: body === undefined ? '' : JSON.stringify(body),
  });
  let data = null;
  try { data = await r.json(); } catch { /* not JSON */ }
  if (!r.ok) {
    throw new Error(data && data.message ? data.message : `the dashboard answered HTTP ${r.status}`);
  }
  return data;
}

const dialog = $('#confirm');

/** Shows the confirmation dialog; resolves to null (cancelled) or { seconds }. */
function confirmAction({ title, body, label, danger, timeout }) {
  return new Promise((resolve) => {
    $('#confirm-title').textContent = title;
    $('#confirm-body').innerHTML = body;
    $('#confirm-timeout').hidden = !timeout;
    $('#confirm-seconds').value = '10';
    const ok = dialog.querySelector('[data-confirm]');
    ok.textContent = label;
    ok.className = `btn ${danger ? 'btn-danger' : 'btn-primary'}`;
    const done = (value) => {
      ok.onclick = null;
      dialog.querySelector('[data-cancel]').onclick = null;
      dialog.onclose = null;
      if (dialog.open) dialog.close();
      resolve(value);
    };
    ok.onclick = () => {
      const secs = Number($('#confirm-seconds').value);
      if (timeout && !(secs >= 0 && secs <= 3600)) { $('#confirm-seconds').focus(); return; }
      done({ seconds: secs });
    };
    dialog.querySelector('[data-cancel]').onclick = () => done(null);
    dialog.onclose = () => done(null);
    dialog.showModal();
  });
}

async function act(action, name) {
  const key = name.toLowerCase();
  const r = rows.get(key);
  const e = r ? r.entry : { name, port: '?', state: '?' };
  const h = e.holder;
  const pid = h ? `pid <code>${h.pid}</code> (${esc(h.exe)})` : 'no process';
  let ask;
  if (action === 'release') {
    ask = {
      title: `Release ${e.name}?`,
      body: `<b>${esc(e.name)}</b> turns idle and keeps port <code>${e.port}</code> for next time. ${pid} keeps running; it just no longer holds the name.`,
      label: 'Release',
    };
  } else if (action === 'kill') {
    ask = {
      title: `Stop ${e.name}?`,
      body: `Sends SIGTERM to ${pid}, the holder of <b>${esc(e.name)}</b> on port <code>${e.port}</code>.`,
      label: 'Stop process', danger: true, timeout: true,
    };
  } else {
    ask = {
      title: `Forget ${e.name}?`,
      body: `<b>${esc(e.name)}</b> is removed from the registry${e.state === 'reserved' ? ' with its reservation of' : ' and no longer remembers'} port <code>${e.port}</code>.`,
      label: 'Forget', danger: true,
    };
  }
  const answer = await confirmAction(ask);
  if (!answer) return;
  busy.add(key);
  if (r) { r.tr.classList.add('busy'); r.tr.querySelectorAll('.act').forEach((b) => { b.disabled = true; }); }
  try {
    const path = `/api/entries/${encodeURIComponent(name)}/${action}`;
    if (action === 'release') {
      const out = await post(path);
      toast(out.released ? `Released ${name} (port ${out.port}); pid ${out.pid} keeps running` : `${name} was not held by any live process`);
    } else if (action === 'kill') {
      const reports = await post(path, { timeout: answer.seconds });
      if (!reports.length) toast(`${name} had no live process to stop`);
      for (const k of reports) {
        const secs = (k.waited_ms / 1000).toFixed(1);
        const how = k.outcome === 'exited' ? `exited after SIGTERM (${secs}s)`
          : k.outcome === 'killed' ? `did not exit in time; killed with SIGKILL (${secs}s)`
            : k.outcome === 'already gone' ? 'was already gone' : `still running after ${k.signals.join(' then ')}`;
        toast(`pid ${k.pid} (${k.exe}) ${how}`, k.outcome === 'survived');
      }
    } else {
      const out = await post(path);
      toast(`Forgot ${out.name} (port ${out.port})`);
    }
  } catch (err) {
    toast(`${action} ${name}: ${err.message}`, true);
  } finally {
    busy.delete(key);
    if (r) r.tr.querySelectorAll('.act').forEach((b) => { b.disabled = false; });
    if (r) r.tr.classList.remove('busy');
  }
}

tbody.addEventListener('click', (ev) => {
  const b = ev.target.closest('button[data-action]');
  if (b && !b.disabled) act(b.dataset.action, b.dataset.name);
});

$('#clean').addEventListener('click', async () => {
  const btn = $('#clean');
  btn.disabled = true;
  try {
    const cleaned = await post('/api/clean');
    toast(cleaned.length
      ? `Dropped ${plural(cleaned.length, 'stale lease')}: ${cleaned.map((c) => `${c.name} (pid ${c.pid})`).join(', ')}`
      : 'Nothing to clean: every lease has a live holder');
  } catch (err) {
    toast(`clean: ${err.message}`, true);
  } finally {
    btn.disabled = false;
  }
});

$('#banner').addEventListener('click', (ev) => {
  if (ev.target.closest('[data-reload]')) location.reload();
});

for (const id of ['#filter', '#show-idle']) {
  $(id).addEventListener('input', () => { if (last) render(last); });
}

setInterval(tickUptimes, 1000);
connect();
