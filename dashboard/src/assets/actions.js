// The dashboard page's actions (loaded after app.js, whose names it uses):
// release, forget, kill and clean through the JSON API with the per-run
// token, Restart / Stop / Start of supervised services, toasts and the
// confirmation dialog; then it starts the page.
'use strict';

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

/** Restart, stop or start a supervised service through its supervisor. */
async function svcAct(action, checkout, service, name) {
  const key = name.toLowerCase();
  const r = rows.get(key) || rows.get(`svc:${checkout}/${service}`.toLowerCase());
  const svc = r && r.sup ? r.sup.svc : { port: null, pid: null };
  const where = svc.port ? ` on port <code>${svc.port}</code>` : '';
  if (action !== 'start') {
    const ask = action === 'restart'
      ? { title: `Restart ${name}?`, body: `The supervisor of <b>${esc(checkout)}</b> stops <b>${esc(service)}</b> (its stop signal, then SIGKILL after its stop timeout) and starts it again${where}, then waits until it is healthy.`, label: 'Restart' }
      : { title: `Stop ${name}?`, body: `The supervisor of <b>${esc(checkout)}</b> stops <b>${esc(service)}</b> and releases its port, which stays remembered for the next <code>portreg up</code>.`, label: 'Stop', danger: true };
    if (!(await confirmAction(ask))) return;
  }
  const rk = r ? r.key : key;
  busy.add(rk);
  if (r) { r.tr.classList.add('busy'); r.tr.querySelectorAll('.act').forEach((b) => { b.disabled = true; }); }
  try {
    const out = await post(`/api/projects/${encodeURIComponent(checkout)}/services/${encodeURIComponent(service)}/${action}`);
    const st = out.state || {};
    const port = st.port ? ` on port ${st.port}` : '';
    if (action === 'stop') toast(out.changed.length ? `Stopped ${name}` : `${name} was not running`);
    else if (action === 'restart') toast(`Restarted ${name}${port}: ${st.state}, pid ${st.pid}`);
    else toast(out.changed.length ? `Started ${name}${port}: ${st.state}` : `${name} is already running`);
  } catch (err) {
    toast(`${action} ${name}: ${err.message}`, true);
  } finally {
    busy.delete(rk);
    if (r) { r.tr.classList.remove('busy'); r.tr.querySelectorAll('.act').forEach((b) => { b.disabled = false; }); }
  }
}

tbody.addEventListener('click', (ev) => {
  const b = ev.target.closest('button[data-action]');
  if (!b || b.disabled) return;
  if (b.dataset.service) svcAct(b.dataset.action, b.dataset.checkout, b.dataset.service, b.dataset.name);
  else act(b.dataset.action, b.dataset.name);
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
