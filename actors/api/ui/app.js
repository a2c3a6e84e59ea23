// The tutti dashboard: plain modules, no framework. Every call goes to the JSON
// API under /api/v1/ with the bearer token this tab holds (from the link
// `tutti dashboard` prints, or typed in); the page follows the event stream and
// renders itself again when the cluster changes.

const state = {
  token: sessionStorage.getItem('tutti-token') || '',
  who: null,
  lastSeq: 0,
  streaming: null,
  refreshTimer: null,
  events: 0,
  pages: {},       // search and offset of each paged list, by its name
  logTimer: null,  // the log being followed
  diff: {},        // the two revisions compared, by service
  log: {},         // the replica whose output is shown and whether it is followed, by service
};

const PAGE = 100;

const $ = (id) => document.getElementById(id);

// -- helpers ------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

function table(headers, rows, label) {
  const head = el('tr', {}, ...headers.map(([text, cls]) => el('th', { scope: 'col', class: cls, text })));
  const t = el('table', { 'aria-label': label }, el('thead', {}, head), el('tbody', {}, ...rows));
  return el('div', { class: 'scroll' }, t);
}

function cell(content, cls) {
  return el('td', { class: cls }, content);
}

function when(ms) {
  const n = Number(ms);
  return n ? new Date(n).toLocaleTimeString() : '';
}

function gib(bytes) {
  return (Number(bytes) / 2 ** 30).toFixed(1) + 'Gi';
}

function showError(err) {
  const box = $('alert');
  box.textContent = err.message;
  box.hidden = false;
  if (err.status === 401) logout(false);
}

function say(text) {
  $('alert').hidden = true;
  $('status').textContent = text;
}

function confirmAction(text) {
  const dialog = $('confirm');
  $('confirm-text').textContent = text;
  dialog.returnValue = '';
  dialog.showModal();
  $('confirm-ok').focus();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
  });
}

async function api(path, options = {}) {
  const headers = { Authorization: 'Bearer ' + state.token };
  if (options.body) headers['Content-Type'] = 'application/json';
  const res = await fetch('/api/v1/' + path, { ...options, headers });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = new Error(body.error ? body.error.message : res.status + ' ' + res.statusText);
    err.status = res.status;
    throw err;
  }
  return body;
}

async function act(text, path, body, done) {
  if (!(await confirmAction(text))) return;
  try {
    const r = await api(path, { method: body === undefined ? 'DELETE' : 'POST',
                                body: body === undefined ? undefined : JSON.stringify(body) });
    say(done(r));
    render();
  } catch (err) {
    showError(err);
  }
}

// -- login --------------------------------------------------------------------

function takeTokenFromLink() {
  const m = location.hash.match(/[#&]token=([^&]+)/);
  if (!m) return;
  state.token = decodeURIComponent(m[1]);
  sessionStorage.setItem('tutti-token', state.token);
  history.replaceState(null, '', location.pathname + '#/');
}

function logout(clear = true) {
  if (clear) sessionStorage.removeItem('tutti-token');
  state.token = '';
  state.who = null;
  if (state.streaming) state.streaming.abort();
  $('who').textContent = '';
  $('logout').hidden = true;
  loginPage();
}

function loginPage() {
  const input = el('input', { id: 'token', type: 'password', autocomplete: 'off', required: true });
  const form = el('form', {
    onsubmit: async (e) => {
      e.preventDefault();
      state.token = input.value.trim();
      sessionStorage.setItem('tutti-token', state.token);
      await start();
    },
  }, el('label', { for: 'token', text: 'Token ' }), input, ' ', el('button', { type: 'submit', text: 'Log in' }));
  $('main').replaceChildren(el('h1', { text: 'Log in' }),
    el('p', { text: 'Open the link `tutti dashboard` prints, or give a token (`tutti token create NAME --role viewer`).' }),
    form);
  input.focus();
}

// -- pages --------------------------------------------------------------------

function nodeRows(nodes, actions) {
  return nodes.map((n) => {
    const cpu = el('meter', { min: 0, max: n.capacity.cpu || 1, value: n.allocated.cpu || 0,
                              'aria-label': `cpu of ${n.name}` });
    const mem = el('meter', { min: 0, max: Number(n.capacity.memory) || 1,
                              value: Number(n.allocated.memory) || 0, 'aria-label': `memory of ${n.name}` });
    const buttons = actions ? el('td', {}, ...nodeActions(n)) : null;
    return el('tr', {},
      cell(n.name), cell(n.state, 'state-' + n.state),
      cell(el('span', {}, cpu, ` ${Number(n.allocated.cpu || 0)}/${Number(n.capacity.cpu || 0)}`)),
      cell(el('span', {}, mem, ` ${gib(n.allocated.memory || 0)}/${gib(n.capacity.memory || 0)}`), 'wide'),
      cell(String(n.replicas || 0)),
      cell((n.drivers || []).map((d) => (n.driverErrors || []).some((e) => e.driver === d) ? `${d} (unhealthy)` : d)
            .join(', '), 'wide'),
      buttons);
  });
}

function nodeActions(n) {
  const to = (state, verb) => el('button', {
    type: 'button', text: verb, 'aria-label': `${verb} ${n.name}`,
    onclick: () => act(`${verb} node ${n.name}?`, `nodes/${encodeURIComponent(n.name)}/state`,
                       { state }, () => `node ${n.name}: ${state}`),
  });
  if (n.state === 'ready') return [to('cordoned', 'Cordon'), ' ', to('draining', 'Drain')];
  return [to('ready', 'Uncordon')];
}

function scaleForm(name, desired) {
  const id = 'scale-' + name;
  const input = el('input', { id, type: 'number', min: 0, value: desired, required: true });
  return el('form', {
    class: 'inline',
    onsubmit: (e) => {
      e.preventDefault();
      const n = Number(input.value);
      act(`Scale ${name} to ${n}?`, `services/${encodeURIComponent(name)}/scale`, { replicas: n },
          (r) => `${name} scaled to ${n} (revision ${r.revision})`);
    },
  }, el('label', { for: id, class: 'wide', text: 'replicas' }), input,
     el('button', { type: 'submit', text: 'Scale', 'aria-label': `Scale ${name}` }));
}

function eventList(events) {
  return el('ul', { class: 'events' }, ...events.slice().reverse().map((e) =>
    el('li', {}, el('time', { text: when(e.timeMs) }),
       `${e.kind} ${e.service || ''} ${e.replica || ''} ${e.message || ''}`)));
}

/// A paged, searched list: a search box, the rows of this page and buttons
/// for the pages before and after (the server searches and pages).
async function pagedList(name, fetchPage, render) {
  const p = state.pages[name] || (state.pages[name] = { q: '', offset: 0 });
  const data = await fetchPage(p);
  const search = el('input', { id: 'search-' + name, type: 'search', value: p.q, 'aria-label': `Search ${name}` });
  const form = el('form', { class: 'inline', onsubmit: (e) => {
    e.preventDefault();
    p.q = search.value.trim();
    p.offset = 0;
    render();
  } }, search, el('button', { type: 'submit', text: 'Search' }));
  const last = Math.min(p.offset + PAGE, data.total);
  const move = (to) => () => { p.offset = Math.max(0, to); render(); };
  const pager = el('span', { class: 'pager' },
    ` ${data.total ? p.offset + 1 : 0}-${last} of ${data.total} `,
    el('button', { type: 'button', text: 'Previous', disabled: p.offset === 0, onclick: move(p.offset - PAGE) }), ' ',
    el('button', { type: 'button', text: 'Next', disabled: last >= data.total, onclick: move(p.offset + PAGE) }));
  return { data, controls: el('div', {}, form, pager) };
}

function query(p, extra = '') {
  return `q=${encodeURIComponent(p.q)}&offset=${p.offset}&limit=${PAGE}${extra}`;
}

async function overview() {
  const o = await api('overview');
  const services = o.services.map((s) => el('tr', {},
    cell(el('a', { href: '#/service/' + encodeURIComponent(s.name), text: s.name })),
    cell(String(s.revision)), cell(String(s.desired || 0)), cell(String(s.running || 0)),
    cell(String(s.ready || 0)),
    cell(String(s.restarts || 0), 'wide'), cell(s.driver, 'wide'),
    cell(scaleForm(s.name, s.desired || 0))));
  return [
    el('h1', { text: 'Cluster' }),
    el('h2', { text: `Services (${o.services.length})` }),
    table([['name'], ['revision'], ['desired'], ['running'], ['ready'], ['restarts', 'wide'], ['driver', 'wide'], ['scale']],
          services, 'services'),
    el('h2', {}, `Nodes (${o.nodeCount})`,
       o.nodeCount > o.nodes.length ? el('span', {}, ' — the first ', String(o.nodes.length), ', all on ',
                                         el('a', { href: '#/nodes', text: 'Nodes' })) : null),
    table([['name'], ['state'], ['cpu'], ['memory', 'wide'], ['replicas'], ['drivers', 'wide']],
          nodeRows(o.nodes, false), 'nodes'),
    el('h2', { text: 'Recent events' }),
    eventList(o.events),
  ];
}

/// The lines of `b` against those of `a`: "  " kept, "- " removed, "+ " added
/// (a longest common subsequence; specs are short).
function lineDiff(a, b) {
  const x = a.split('\n');
  const y = b.split('\n');
  const m = x.map(() => new Array(y.length + 1).fill(0));
  m.push(new Array(y.length + 1).fill(0));
  for (let i = x.length - 1; i >= 0; i--)
    for (let j = y.length - 1; j >= 0; j--)
      m[i][j] = x[i] === y[j] ? m[i + 1][j + 1] + 1 : Math.max(m[i + 1][j], m[i][j + 1]);
  const out = [];
  let i = 0, j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) { out.push('  ' + x[i]); i++; j++; }
    else if (j < y.length && (i === x.length || m[i][j + 1] >= m[i + 1][j])) out.push('+ ' + y[j++]);
    else out.push('- ' + x[i++]);
  }
  return out;
}

async function revisions(name) {
  const h = await api(`services/${encodeURIComponent(name)}/history`);
  const revs = h.revisions || [];
  if (revs.length < 2) return el('p', { text: `${revs.length} revision kept.` });
  const chosen = state.diff[name] || (state.diff[name] = {
    from: revs[revs.length - 2].revision, to: revs[revs.length - 1].revision });
  const pick = (key, label) => {
    const select = el('select', { id: `rev-${key}`, onchange: (e) => { chosen[key] = e.target.value; render(); } },
      ...revs.map((r) => el('option', { value: r.revision, selected: String(r.revision) === String(chosen[key]),
                                        text: `${r.revision} (${when(r.timeMs)})` })));
    return el('span', {}, el('label', { for: `rev-${key}`, text: label }), select);
  };
  const spec = (rev) => (revs.find((r) => String(r.revision) === String(rev)) || {}).specYaml || '';
  const lines = lineDiff(spec(chosen.from), spec(chosen.to));
  return el('div', {}, pick('from', 'From '), ' ', pick('to', ' to '),
    el('pre', { class: 'diff', 'aria-label': 'changes between the revisions' },
       ...lines.map((l) => el('span', { class: l[0] === '+' ? 'add' : l[0] === '-' ? 'del' : '', text: l + '\n' }))));
}

async function loadLog(name) {
  const st = state.log[name];
  const out = $('log-text');
  if (!st || !out) return;
  try {
    const l = await api(`services/${encodeURIComponent(name)}/logs?slot=${st.slot}&bytes=16384`);
    out.textContent = l.text || '(no output yet)';
  } catch (err) {
    showError(err);
  }
}

/// The output of one replica of the service; with "follow" it is read again
/// every second while the page is open.
function logsSection(name, replicas) {
  const st = state.log[name] ||
    (state.log[name] = { slot: replicas.length ? String(replicas[0].slot || 0) : '0', follow: false });
  const select = el('select', { id: 'log-slot', 'aria-label': 'Replica' },
    ...replicas.map((r) => el('option', { value: r.slot || 0, text: r.id, selected: String(r.slot || 0) === st.slot })));
  const follow = el('input', { id: 'log-follow', type: 'checkbox', checked: st.follow });
  const out = el('pre', { id: 'log-text', class: 'logs' });
  const restart = () => {
    clearInterval(state.logTimer);
    state.logTimer = st.follow ? setInterval(() => loadLog(name), 1000) : null;
  };
  follow.addEventListener('change', () => { st.follow = follow.checked; restart(); });
  select.addEventListener('change', () => { st.slot = select.value; loadLog(name); });
  if (st.follow && !state.logTimer) restart();
  setTimeout(() => loadLog(name), 0); // once the section is on the page
  return el('div', {}, select, ' ', follow, el('label', { for: 'log-follow', text: ' follow' }), out);
}

async function servicePage(name) {
  const d = (await api('services/' + encodeURIComponent(name))).detail;
  const r = (await api(`services/${encodeURIComponent(name)}/rollout`)).status || {};
  const redo = () => render();
  const { data, controls } = await pagedList('replicas-' + name,
    (p) => api(`replicas?service=${encodeURIComponent(name)}&` + query(p)), redo);
  const rows = (data.replicas || []).map((r) => el('tr', {},
    cell(r.id), cell(r.node), cell(r.state + (r.unhealthy ? ' (unhealthy)' : ''), 'state-' + r.state),
    cell(r.pid && r.pid !== '0' ? String(r.pid) : (r.runtimeId || '').slice(0, 12)),
    cell(String(r.restarts || 0)), cell(String(r.revision), 'wide'), cell(r.health || r.message || '', 'wide')));
  return [
    el('h1', { text: `Service ${name}` }),
    el('p', {}, `revision ${d.status.revision}, ${d.status.running || 0} of ${d.status.desired || 0} running `,
       scaleForm(name, d.status.desired || 0), ' ',
       el('button', { type: 'button', text: 'Roll back',
                      onclick: () => act(`Roll ${name} back to its previous revision?`,
                                         `services/${encodeURIComponent(name)}/undo`, {},
                                         (r) => `${name} rolled back (revision ${r.revision})`) }), ' ',
       el('button', { type: 'button', text: 'Delete',
                      onclick: () => act(`Delete ${name} and stop its replicas?`,
                                         `services/${encodeURIComponent(name)}`, undefined,
                                         () => `${name} deleted`) })),
    el('p', { class: 'rollout', text: `Rollout of revision ${r.revision}: ${r.state} — ${r.updated || 0} updated, ` +
      `${r.ready || 0} ready, ${r.available || 0} available, ${r.old || 0} old of ${r.desired || 0}` +
      (r.message ? ` (${r.message})` : '') }),
    el('h2', { text: `Replicas (${d.replicaCount})` }), controls,
    table([['id'], ['node'], ['state'], ['pid/container'], ['restarts'], ['revision', 'wide'], ['health', 'wide']],
          rows, 'replicas'),
    el('h2', { text: 'Logs' }), logsSection(name, data.replicas || []),
    el('h2', { text: 'Events' }), eventList(d.events || []),
    el('h2', { text: 'Revisions' }), await revisions(name),
    el('h2', { text: 'Spec' }), el('pre', { text: d.specYaml }),
  ];
}

async function nodesPage() {
  const { data, controls } = await pagedList('nodes', (p) => api('nodes?' + query(p)), () => render());
  return [el('h1', { text: 'Nodes' }), controls,
          table([['name'], ['state'], ['cpu'], ['memory', 'wide'], ['replicas'], ['drivers', 'wide'], ['actions']],
                nodeRows(data.nodes || [], true), 'nodes')];
}

/// The newest version of each object, with every service that uses any version.
function objectRows(objects) {
  const byName = new Map();
  for (const o of objects) {
    const seen = byName.get(o.name);
    const users = new Set([...(seen ? seen.users : []), ...(o.usedBy || [])]);
    const newest = !seen || Number(o.version) > Number(seen.version) ? o : seen;
    byName.set(o.name, { ...newest, users });
  }
  return [...byName.values()].map((o) => el('tr', {},
    cell(o.name), cell(String(o.version)), cell(String(o.size) + ' B'),
    cell(when(Number(o.createdMs)), 'wide'),
    cell(el('span', {}, ...[...o.users].flatMap((s, i) => [i ? ', ' : '',
      el('a', { href: '#/service/' + encodeURIComponent(s), text: s })])))));
}

async function objectsPage() {
  const [configs, secrets] = await Promise.all([api('configs'), api('secrets')]);
  const headers = [['name'], ['version'], ['size'], ['created', 'wide'], ['used by']];
  return [el('h1', { text: 'Configs and secrets' }),
          el('h2', { text: 'Configs' }), table(headers, objectRows(configs.objects || []), 'configs'),
          el('h2', { text: 'Secrets' }),
          el('p', { text: 'A secret\u2019s data is never shown: only the replicas that use it get it.' }),
          table(headers, objectRows(secrets.objects || []), 'secrets')];
}

async function eventsPage() {
  const service = new URLSearchParams(location.hash.split('?')[1] || '').get('service') || '';
  const input = el('input', { id: 'filter', value: service, placeholder: 'all services' });
  const form = el('form', { class: 'inline', onsubmit: (e) => {
    e.preventDefault();
    location.hash = '#/events' + (input.value ? '?service=' + encodeURIComponent(input.value) : '');
  } }, el('label', { for: 'filter', text: 'Service ' }), input, el('button', { type: 'submit', text: 'Filter' }));
  const e = await api('events?limit=200&service=' + encodeURIComponent(service));
  return [el('h1', { text: 'Events' }), form, eventList(e.events || [])];
}

/// Counts of events by kind over the last hour, in 12 buckets of 5 minutes,
/// as bar charts (SVG, each bar titled) with the same numbers as a table.
const CHARTS = [
  ['replica_started', 'Replicas started'],
  ['replica_exited', 'Replica exits (each one restarted or replaced)'],
  ['service_applied', 'Revisions rolled out (apply, scale, undo)'],
  ['replica_rescheduled', 'Replicas moved to other nodes'],
  ['autoscaled', 'Autoscaling decisions'],
];

function barChart(title, counts, labels) {
  const w = 600, h = 120, bar = w / counts.length;
  const max = Math.max(1, ...counts);
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${h + 16}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `${title}: ${counts.join(', ')} per 5 minutes`);
  svg.classList.add('chart');
  counts.forEach((n, i) => {
    const r = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
    const height = (n / max) * h;
    r.setAttribute('x', i * bar + 2);
    r.setAttribute('y', h - height);
    r.setAttribute('width', bar - 4);
    r.setAttribute('height', Math.max(height, n ? 1 : 0));
    const t = document.createElementNS('http://www.w3.org/2000/svg', 'title');
    t.textContent = `${labels[i]}: ${n}`;
    r.append(t);
    svg.append(r);
  });
  return el('figure', {}, el('figcaption', { text: `${title} (the most in 5 minutes: ${Math.max(...counts)})` }), svg);
}

async function chartsPage() {
  const e = await api('events?limit=1000');
  const now = Date.now(), bucket = 5 * 60 * 1000, buckets = 12;
  const labels = [...Array(buckets).keys()].map((i) =>
    new Date(now - (buckets - i) * bucket).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
  const series = Object.fromEntries(CHARTS.map(([kind]) => [kind, new Array(buckets).fill(0)]));
  for (const x of e.events || []) {
    const age = now - Number(x.timeMs);
    const i = buckets - 1 - Math.floor(age / bucket);
    if (i >= 0 && i < buckets && series[x.kind]) series[x.kind][i]++;
  }
  const rows = CHARTS.map(([kind, title]) => el('tr', {}, el('th', { scope: 'row', text: title }),
    ...series[kind].map((n) => cell(String(n)))));
  return [el('h1', { text: 'The last hour' }),
          el('p', { text: 'From the newest 1,000 events.' }),
          ...CHARTS.map(([kind, title]) => barChart(title, series[kind], labels)),
          table([['what'], ...labels.map((l) => [l])], rows, 'events per 5 minutes')];
}

async function treePage() {
  // Actors restart without an event: the tree is read again every 2 s while shown.
  clearTimeout(state.treeTimer);
  state.treeTimer = setTimeout(() => { if (location.hash.startsWith('#/tree')) render(); }, 2000);
  const t = await api('tree');
  const rows = (t.actors || []).map((a) => el('tr', {}, cell(a.path), cell(a.kind), cell(a.state),
    cell(String(a.restarts || 0)), cell(a.lastExit || '', 'wide')));
  return [el('h1', { text: 'Supervision tree' }),
          table([['path'], ['kind'], ['state'], ['restarts'], ['last exit', 'wide']], rows, 'actors')];
}

async function render() {
  if (!state.token) return loginPage();
  if (!location.hash.startsWith('#/service/')) {
    clearInterval(state.logTimer);
    state.logTimer = null;
  }
  const hash = location.hash.replace(/^#/, '') || '/';
  const parts = hash.split('?')[0].split('/').filter(Boolean);
  let page;
  if (parts[0] === 'service' && parts[1]) page = () => servicePage(decodeURIComponent(parts[1]));
  else if (parts[0] === 'nodes') page = nodesPage;
  else if (parts[0] === 'events') page = eventsPage;
  else if (parts[0] === 'objects') page = objectsPage;
  else if (parts[0] === 'tree') page = treePage;
  else if (parts[0] === 'charts') page = chartsPage;
  else page = overview;
  try {
    const content = await page();
    const main = $('main');
    const focused = document.activeElement && document.activeElement.id;
    main.replaceChildren(...content);
    if (focused && $(focused)) $(focused).focus();
    $('main').dataset.rendered = String(Date.now());
  } catch (err) {
    showError(err);
  }
}

// -- live updates ---------------------------------------------------------------

function scheduleRender() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => {
    if (!$('confirm').open && !document.activeElement.matches('input, select')) render();
    else scheduleRender();
  }, 250);
}

async function follow() {
  const abort = new AbortController();
  state.streaming = abort;
  try {
    const res = await fetch('/api/v1/stream' + (state.lastSeq ? '?after=' + state.lastSeq : ''),
                            { headers: { Authorization: 'Bearer ' + state.token }, signal: abort.signal });
    if (res.status === 401) {
      logout(false); // the token is gone: asking again would not bring it back
      return;
    }
    if (!res.ok) throw new Error('stream: ' + res.status);
    $('live').textContent = 'live';
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
        if (!block.startsWith('event: events') || !data) continue;
        const events = JSON.parse(data);
        for (const e of events) state.lastSeq = Math.max(state.lastSeq, Number(e.seq));
        state.events += events.length;
        $('live').textContent = `live: ${state.events} events since this page opened`;
        scheduleRender();
      }
    }
  } catch (err) {
    if (abort.signal.aborted) return;
  }
  if (!state.token || abort.signal.aborted) return;
  $('live').textContent = 'reconnecting…';
  setTimeout(follow, 1000);
}

async function start() {
  try {
    state.who = (await api('whoami')).identity;
  } catch (err) {
    showError(err);
    return;
  }
  say('');
  const scope = (state.who.namespaces || []).length ? ` in ${state.who.namespaces.join(', ')}` : '';
  $('who').textContent = `${state.who.name} (${state.who.role}${scope})`;
  $('logout').hidden = false;
  await render();
  follow();
}

$('logout').addEventListener('click', () => logout());
window.addEventListener('hashchange', () => {
  takeTokenFromLink();
  $('alert').hidden = true; // a refusal belongs to the page it happened on
  render();
});
takeTokenFromLink();
if (state.token) start();
else loginPage();
