// The dashboard page: listens to /api/events (server-sent events, one
// snapshot of every entry whenever something changes) and renders it in
// place. actions.js, loaded after this file, sends actions to the JSON API
// with the per-run token and starts the page.
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
let renders = 0; // renders begun: a row placement of an older one stops
const PLACE_FIRST = 60; // rows placed at once: more than a screenful
const PLACE_EACH_FRAME = 150; // then per frame

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

// ------------------------------------------------------------ projects

// A supervised service's state as `portreg ps` names it, and its restarts.
function svcHtml(svc) {
  const tip = svc.detail ? ` title="${esc(svc.detail)}"` : '';
  const cls = String(svc.state).split(' ')[0];
  return `<span class="svc" data-svc-state="${esc(svc.state)}"${tip}><span class="spill ${esc(cls)}">${esc(svc.state)}</span>`
    + `<span class="restarts" data-restarts="${svc.restarts}">${plural(svc.restarts, 'restart')}</span></span>`;
}

// Restart / Stop (or Start) of a supervised service, while its supervisor runs.
function svcActs(co, svc) {
  if (!co.supervisor) return '';
  const b = (action, label, cls = '') => `<button type="button" class="act ${cls}" data-action="${action}" data-checkout="${esc(co.checkout)}" data-service="${esc(svc.service)}" data-name="${esc(svc.name)}">${label}</button>`;
  if (svc.state === 'stopped' || svc.state === 'failed' || /^exited/.test(svc.state)) return b('start', 'Start');
  return b('restart', 'Restart') + b('stop', 'Stop', 'danger');
}

// The row of a service that has no registry entry (a task or worker with
// no port, or one never brought up).
function svcCells(co, svc) {
  const since = svc.pid && svc.started_at ? new Date(svc.started_at * 1000).toISOString() : null;
  return {
    name: `<div class="name"><span class="hdot blank"></span><span>${esc(svc.name)}</span></div><span class="stable self">no port</span>`,
    port: '<span class="none-text">—</span>',
    state: svcHtml(svc),
    proc: svc.pid ? `<span class="pid">pid <code>${svc.pid}</code></span>` : '<span class="none-text">—</span>',
    up: since ? `<span class="up" data-since="${esc(since)}">${age(since)}</span>` : '<span class="none-text">—</span>',
    info: `<div class="desc">${esc(svc.service)} of ${esc(co.project)}</div>`,
    act: `<div class="acts">${svcActs(co, svc)}</div>`,
    conflict: '',
  };
}

function groupHtml(g) {
  if (!g.co) {
    return `<td role="cell" colspan="7"><div class="group-head"><span class="gname">${esc(g.title)}</span></div></td>`;
  }
  const co = g.co;
  const which = co.label ? `checkout <b>${esc(co.label)}</b>` : 'main checkout';
  const sup = co.supervisor
    ? `<span class="gsup on" data-supervisor="${co.supervisor}">supervisor pid <code>${co.supervisor}</code></span>`
    : '<span class="gsup off" data-supervisor="">no supervisor running</span>';
  const up = co.services.filter((s) => s.state === 'healthy' || s.state === 'running').length;
  return `<td role="cell" colspan="7"><div class="group-head"><span class="gname">${esc(co.project)}</span>`
    + `<span class="gwhich">${which}</span><code class="groot" title="${esc(co.root)}">${esc(homeShort(co.root))}</code>`
    + `${sup}<span class="gcount">${up}/${co.services.length} up</span></div></td>`;
}

function cellsFor(e, conflict, health, sup) {
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
  const state = `<span class="pill ${e.state}">${e.state}</span>${sock}${sup ? svcHtml(sup.svc) : ''}`;

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
  if (sup && sup.co.supervisor) {
    acts = svcActs(sup.co, sup.svc);
  } else if (!self) {
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
  tr.setAttribute('role', 'row');
  const note = document.createElement('tr');
  note.className = 'note';
  note.setAttribute('role', 'row');
  note.innerHTML = `<td role="cell" colspan="${FIELDS.length}"></td>`;
  // The cells come with the row's first content (fillRow): one parse of
  // the whole row rather than one per cell.
  return { key, tr, note, cells: null, noteHtml: null };
}

/** Puts `html` (a string per field) in the row's cells, parsing only what changed. */
function fillRow(r, html) {
  if (!r.cells) {
    r.tr.innerHTML = FIELDS.map((f) => `<td role="cell" class="cell-${f}" data-field="${f}">${html[f]}</td>`).join('');
    r.cells = new Map(FIELDS.map((f, i) => [f, { td: r.tr.children[i], html: html[f] }]));
    return;
  }
  for (const f of FIELDS) {
    const cell = r.cells.get(f);
    if (cell.html !== html[f]) { cell.td.innerHTML = html[f]; cell.html = html[f]; }
  }
}

// What a filter searches in, per entry object (a snapshot makes new ones).
const hays = new WeakMap();

function matches(e, q) {
  if (!q) return true;
  let hay = hays.get(e);
  if (hay === undefined) {
    const h = e.holder || {};
    hay = [e.name, String(e.port), e.state, e.description, h.exe, h.pid && String(h.pid),
      ...(h.cmdline || []), ...Object.values(e.meta || {})].join(' ').toLowerCase();
    hays.set(e, hay);
  }
  return q.split(/\s+/).every((w) => hay.includes(w));
}

function makeGroup(key) {
  const tr = document.createElement('tr');
  tr.className = 'group';
  tr.setAttribute('role', 'row');
  return { key, tr, note: null, html: null, group: true };
}

function svcMatches(svc, q) {
  if (!q) return true;
  const hay = [svc.name, svc.service, svc.state, svc.pid && String(svc.pid)].join(' ').toLowerCase();
  return q.split(/\s+/).every((w) => hay.includes(w));
}

/**
 * The rows in page order: each checkout of a project under a heading (its
 * services in portreg.toml's order, with or without a registry entry), then
 * every other entry (under "Other services" when there are projects).
 */
function layout(projects, entries, q, showIdle) {
  const byName = new Map(entries.map((e) => [e.name.toLowerCase(), e]));
  const visible = (e) => (showIdle || e.state !== 'idle') && matches(e, q);
  const used = new Set();
  const items = [];
  const groups = [];
  for (const co of projects) {
    const rowsOf = [];
    for (const svc of co.services) {
      const key = svc.name.toLowerCase();
      const e = byName.get(key);
      if (e) {
        used.add(key);
        if (visible(e)) rowsOf.push({ key, entry: e, sup: { co, svc } });
      } else if (svcMatches(svc, q)) {
        rowsOf.push({ key: `svc:${co.checkout}/${svc.service}`.toLowerCase(), entry: null, sup: { co, svc } });
      }
    }
    groups.push({ id: co.checkout.toLowerCase(), group: { co }, rows: rowsOf });
  }
  // Entries of a project whose supervisor state is gone: grouped by their meta.
  const loose = new Map();
  const rest = [];
  for (const e of entries) {
    const key = e.name.toLowerCase();
    if (used.has(key)) continue;
    const m = e.meta || {};
    const project = m['portreg.project'];
    if (project) {
      const id = (m['portreg.checkout'] ? `${m['portreg.checkout']}.${project}` : project).toLowerCase();
      const known = groups.find((g) => g.id === id);
      let g = known || loose.get(id);
      if (!g) {
        g = { id, group: { title: `${project}${m['portreg.checkout'] ? ` (checkout ${m['portreg.checkout']})` : ''}` }, rows: [] };
        loose.set(id, g);
      }
      if (visible(e)) g.rows.push({ key, entry: e, sup: null });
    } else if (visible(e)) {
      rest.push({ key, entry: e, sup: null });
    }
  }
  const all = [...groups, ...loose.values()];
  for (const g of all) {
    if (!g.rows.length && q) continue;
    items.push({ key: `group:${g.id}`, group: g.group });
    items.push(...g.rows);
  }
  if (rest.length && all.length) items.push({ key: 'group:', group: { title: 'Other services' } });
  items.push(...rest);
  return items;
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
  const items = layout(snap.projects || [], entries, q, showIdle);
  // Rows leaving the table go first: left in place while the rest are
  // placed, each one would make every row after it move (a filter keystroke
  // on 1,000 rows moved hundreds of them). A row filtered out is kept,
  // detached, for when the filter lets it back; a name gone is forgotten.
  const keep = new Set(items.map((it) => it.key));
  const names = new Set(entries.map((e) => e.name.toLowerCase()));
  for (const [key, r] of rows) {
    if (keep.has(key)) continue;
    if (r.tr.parentNode) r.tr.remove();
    if (r.note && r.note.parentNode) r.note.remove();
    if (!names.has(key)) rows.delete(key);
  }
  // Rows are placed in order, the first screenful at once and the rest
  // PLACE_EACH_FRAME per frame after it: bringing 1,000 rows back in one go
  // made one task (style and layout of every row) that outlasted a frame.
  // A newer render (the next keystroke, a new snapshot) stops the old one.
  const pass = ++renders;
  let prev = null;
  const place = (node) => {
    const want = prev ? prev.nextSibling : tbody.firstChild;
    if (want !== node) tbody.insertBefore(node, want);
    prev = node;
  };
  let next = 0;
  const placeSome = (n) => {
    for (const end = Math.min(items.length, next + n); next < end; next += 1) placeItem(items[next], place, conflicts, health, others);
  };
  placeSome(PLACE_FIRST);
  const more = () => {
    if (pass !== renders) return;
    placeSome(PLACE_EACH_FRAME);
    if (next < items.length) requestAnimationFrame(more);
  };
  if (next < items.length) requestAnimationFrame(more);
  const shownRows = items.filter((it) => !it.group).length;
  const any = entries.length > 0 || (snap.projects || []).length > 0;
  $('#empty').hidden = any;
  $('#nomatch').hidden = !(any && shownRows === 0);
  $('#entries').hidden = shownRows === 0;
}

/** Puts the row (or heading) of `it` in place, after the node `place` put last. */
function placeItem(it, place, conflicts, health, others) {
  let r = rows.get(it.key);
  if (!r) { r = it.group ? makeGroup(it.key) : makeRow(it.key); rows.set(it.key, r); }
  if (it.group) {
    const html = groupHtml(it.group);
    if (r.html !== html) { r.tr.innerHTML = html; r.html = html; }
    r.tr.dataset.checkout = it.group.co ? it.group.co.checkout : '';
    place(r.tr);
    return;
  }
  const e = it.entry;
  const c = e ? conflicts.get(it.key) : null;
  const hl = e ? health.get(it.key) : null;
  // The cells depend on these objects only (a snapshot makes new ones): a
  // filter keystroke re-lays out the same snapshot and builds no HTML.
  const inputs = [e, c, hl, it.sup ? it.sup.co : null, it.sup ? it.sup.svc : null];
  const same = r.inputs && inputs.every((x, i) => x === r.inputs[i]);
  r.inputs = inputs;
  r.entry = e || { name: it.sup.svc.name, port: '—', state: 'none' };
  r.sup = it.sup || null;
  if (!same) {
    const html = e ? cellsFor(e, c, hl, it.sup) : svcCells(it.sup.co, it.sup.svc);
    fillRow(r, html);
    if (r.noteHtml !== html.conflict) { r.note.firstChild.innerHTML = html.conflict; r.noteHtml = html.conflict; }
  }
  const state = e ? e.state : 'service';
  const other = e && others.has(e.port);
  const cls = `entry ${state}${it.sup ? ' supervised' : ''}${c ? ' conflict' : ''}${busy.has(it.key) ? ' busy' : ''}${other ? ' other-user' : ''}`;
  const title = other ? `port ${e.port} is leased by user ${others.get(e.port)} on this host` : '';
  const attrs = [r.entry.name, state, it.sup ? it.sup.co.checkout : null, it.sup ? it.sup.svc.service : null, cls, title];
  // Only what changed is written: every attribute written invalidates the
  // row's style, and a filter keystroke brings back rows whose attributes
  // are all as they were.
  if (!r.attrs || attrs.some((x, i) => x !== r.attrs[i])) {
    r.tr.dataset.name = attrs[0];
    r.tr.dataset.state = attrs[1];
    if (it.sup) {
      r.tr.dataset.checkout = attrs[2];
      r.tr.dataset.service = attrs[3];
    } else {
      delete r.tr.dataset.checkout;
      delete r.tr.dataset.service;
    }
    r.tr.className = cls;
    r.tr.title = title;
    r.attrs = attrs;
  }
  place(r.tr);
  if (c) place(r.note);
  else if (r.note.parentNode) r.note.remove();
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
