/**
 * The operator dashboard: one self-contained HTML document (inline CSS and script, nothing loaded from
 * elsewhere, so it works offline and under the admin listener's Content-Security-Policy). The script polls
 * the admin API with the session cookie: GET /v1/nodes every second (rates are deltas between polls),
 * /v1/events?after=<seq> and /v1/functions, /v1/config once, and /v1/route for the lookup box. A 401 sends
 * the browser to /login; a failed poll shows a banner and polling goes on.
 *
 * The script is plain DOM code inside String.raw: it must not contain a backtick or a dollar-brace, and
 * backslashes reach the browser as written. Every element a test reads carries a data-testid.
 */

const STYLE = String.raw`
:root { color-scheme: light dark; --bg:#f6f7f9; --panel:#fff; --fg:#1d2330; --muted:#6a7282; --line:#dde1e8;
  --up:#1f9d55; --down:#d64545; --amber:#d89614; --none:#c9ced8; --accent:#3563c9; }
@media (prefers-color-scheme: dark) { :root { --bg:#14171c; --panel:#1c2027; --fg:#e3e7ee; --muted:#8d95a3; --line:#2c323c;
  --up:#34c06f; --down:#ef5b5b; --amber:#e7a93a; --none:#3a414d; --accent:#6d93ea; } }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg); font:14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { display:flex; flex-wrap:wrap; align-items:baseline; gap:8px 20px; padding:12px 20px; background:var(--panel); border-bottom:1px solid var(--line); }
header h1 { margin:0; font-size:20px; letter-spacing:.5px; }
header .cfg { color:var(--muted); font-size:13px; }
header .updated { margin-left:auto; color:var(--muted); font-size:12px; }
main { padding:16px 20px; display:grid; gap:16px; grid-template-columns: minmax(0, 2fr) minmax(300px, 1fr); }
@media (max-width: 1100px) { main { grid-template-columns: minmax(0, 1fr); } }
section { background:var(--panel); border:1px solid var(--line); border-radius:8px; padding:12px 14px; min-width:0; }
section h2 { margin:0 0 8px; font-size:13px; text-transform:uppercase; letter-spacing:.6px; color:var(--muted); }
.wide { grid-column: 1 / -1; }
.banner { display:none; margin:0; padding:10px 20px; background:var(--down); color:#fff; font-weight:600; }
.banner.show { display:block; }
.cards { display:flex; flex-wrap:wrap; gap:10px; }
.card { flex:1 1 120px; border:1px solid var(--line); border-radius:6px; padding:8px 10px; }
.card .v { font-size:22px; font-weight:600; font-variant-numeric: tabular-nums; }
.card .k { color:var(--muted); font-size:12px; }
table { width:100%; border-collapse:collapse; font-variant-numeric: tabular-nums; }
th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); white-space:nowrap; vertical-align:middle; }
th { color:var(--muted); font-weight:500; font-size:12px; }
td.num, th.num { text-align:right; }
td.reason { white-space:normal; max-width:260px; color:var(--muted); font-size:12px; }
.scroll { overflow-x:auto; }
.badge { display:inline-block; min-width:64px; text-align:center; padding:1px 8px; border-radius:10px; color:#fff; font-size:12px; font-weight:600; }
.s-up { background:var(--up); } .s-down { background:var(--down); } .s-draining, .s-warming { background:var(--amber); }
.strip { display:flex; gap:1px; height:14px; }
.strip i { display:block; width:4px; height:14px; background:var(--none); border-radius:1px; }
.strip i.up { background:var(--up); } .strip i.down { background:var(--down); } .strip i.draining, .strip i.warming { background:var(--amber); }
.muted { color:var(--muted); }
.bad { color:var(--down); font-weight:600; }
ol.events { list-style:none; margin:0; padding:0; max-height:360px; overflow-y:auto; font-size:13px; }
ol.events li { padding:4px 0; border-bottom:1px solid var(--line); display:flex; gap:8px; }
ol.events .t { color:var(--muted); font-variant-numeric: tabular-nums; }
ol.events .kind { font-weight:600; min-width:92px; }
.k-node-up { color:var(--up); } .k-node-down { color:var(--down); } .k-fallback, .k-node-draining, .k-weight { color:var(--amber); }
.k-node-added, .k-node-removed, .k-node-undrained { color:var(--accent); }
form.lookup { display:flex; gap:8px; }
form.lookup input { flex:1; padding:6px 8px; border:1px solid var(--line); border-radius:6px; background:var(--bg); color:var(--fg); font:inherit; }
button { padding:6px 12px; border:1px solid var(--accent); border-radius:6px; background:var(--accent); color:#fff; font:inherit; cursor:pointer; }
.result { margin-top:10px; font-size:13px; }
.result ol { margin:6px 0 0; padding-left:22px; }
.result li { padding:2px 0; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:12.5px; }
`;

const SCRIPT = String.raw`
(function () {
  'use strict';
  var POLL_MS = 1000;
  var HISTORY = 60;
  var prev = null;            // last /v1/nodes poll: { at, byNode: { id: {requests, errors} } }
  var history = {};           // node id -> display states of the last HISTORY polls
  var lastSeq = 0;
  var events = [];            // newest first
  var $ = function (id) { return document.querySelector('[data-testid="' + id + '"]'); };

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'cls') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    if (children) for (var i = 0; i < children.length; i++) if (children[i] != null) e.appendChild(children[i]);
    return e;
  }

  function api(path) {
    return fetch(path, { credentials: 'same-origin', cache: 'no-store', headers: { Accept: 'application/json' } }).then(function (res) {
      if (res.status === 401) { location.href = '/login'; throw new Error('session expired'); }
      return res.json().catch(function () { return {}; }).then(function (body) {
        if (!res.ok) throw new Error((body && body.error) || ('HTTP ' + res.status));
        return body;
      });
    });
  }

  function setReachable(ok, why) {
    var b = $('unreachable-banner');
    b.className = ok ? 'banner' : 'banner show';
    b.textContent = ok ? '' : 'admin API unreachable (' + why + ') - still trying every second';
  }

  function fmtAge(iso) {
    if (!iso) return '-';
    var s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) return s + 's ago';
    if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's ago';
    if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm ago';
    return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h ago';
  }
  function fmtRate(r) { return r == null ? '-' : r >= 100 ? String(Math.round(r)) : r.toFixed(1); }
  function fmtPct(p) { return p == null ? '-' : (p * 100).toFixed(p > 0 && p < 0.1 ? 1 : 0) + '%'; }
  function fmtTime(iso) { var d = new Date(iso); return isNaN(d) ? '' : d.toLocaleTimeString(); }

  /** up / down from the API; draining and warming (amber) shown over up. */
  function displayState(n) {
    if (n.state !== 'up') return 'down';
    if (n.draining) return 'draining';
    if (typeof n.warmth === 'number' && n.warmth < 1) return 'warming';
    return 'up';
  }

  function renderNodes(data) {
    var now = Date.now();
    var nodes = data.nodes || [];
    var byNode = {};
    var tbody = $('nodes-body');
    var rows = [];
    var up = 0, totalRps = 0, totalErr = 0, anyRate = false, inflight = 0;
    var seen = {};
    for (var i = 0; i < nodes.length; i++) {
      var n = nodes[i];
      seen[n.node] = true;
      byNode[n.node] = { requests: n.requests || 0, errors: n.errors || 0 };
      var ds = displayState(n);
      if (n.state === 'up') up++;
      inflight += n.inFlight || 0;
      var h = history[n.node] || (history[n.node] = []);
      h.push(ds);
      if (h.length > HISTORY) h.splice(0, h.length - HISTORY);
      var rps = null, errRate = null;
      var p = prev && prev.byNode[n.node];
      if (p) {
        var dt = (now - prev.at) / 1000;
        var dr = Math.max(0, (n.requests || 0) - p.requests);
        var de = Math.max(0, (n.errors || 0) - p.errors);
        if (dt > 0) { rps = dr / dt; totalRps += rps; totalErr += de / dt; anyRate = true; }
        errRate = dr > 0 ? Math.min(1, de / dr) : de > 0 ? 1 : 0;
      }
      var strip = el('div', { cls: 'strip', 'data-testid': 'node-history', title: 'last ' + HISTORY + ' polls, oldest left' });
      for (var j = 0; j < HISTORY - h.length; j++) strip.appendChild(el('i'));
      for (var j2 = 0; j2 < h.length; j2++) strip.appendChild(el('i', { cls: h[j2] }));
      var check = n.check;
      var checkCell = check ? (check.ms != null ? check.ms.toFixed(1) + ' ms' : '-') : '-';
      var checkTitle = check ? (check.ok ? 'ok: ' : 'failed: ') + (check.detail || '') + ' at ' + fmtTime(check.at) : 'no check yet';
      rows.push(el('tr', { 'data-testid': 'node-row', 'data-node': n.node, 'data-state': n.state, 'data-display': ds }, [
        el('td', {}, [el('code', { text: n.node })]),
        el('td', {}, [el('span', { cls: 'badge s-' + ds, 'data-testid': 'node-state', text: ds === 'warming' ? 'warming ' + Math.round(n.warmth * 100) + '%' : ds })]),
        el('td', { title: n.since || '', text: fmtAge(n.since) }),
        el('td', { cls: 'reason', text: n.reason || '' }),
        el('td', { cls: 'num' + (check && !check.ok ? ' bad' : ''), title: checkTitle, text: checkCell }),
        el('td', { cls: 'num', text: String(n.weight) }),
        el('td', { cls: 'num', 'data-testid': 'node-share', text: fmtPct(n.share) }),
        el('td', { cls: 'num', text: String(n.inFlight || 0) }),
        el('td', { cls: 'num', 'data-testid': 'node-rps', 'data-value': rps == null ? '' : rps.toFixed(2), text: fmtRate(rps) }),
        el('td', { cls: 'num' + (errRate ? ' bad' : ''), 'data-testid': 'node-errors', title: (n.errors || 0) + ' errors in all', text: fmtPct(errRate) }),
        el('td', { cls: 'num', title: 'owned here, served elsewhere / owned elsewhere, served here', text: (n.fallbacksFrom || 0) + ' / ' + (n.fallbacksTo || 0) }),
        el('td', {}, [strip]),
      ]));
    }
    for (var id in history) if (!seen[id]) delete history[id];
    tbody.replaceChildren.apply(tbody, rows);
    if (nodes.length === 0) tbody.appendChild(el('tr', {}, [el('td', { colspan: '12', cls: 'muted', text: 'no nodes' })]));
    prev = { at: now, byNode: byNode };
    $('sum-up').textContent = up + ' / ' + nodes.length;
    $('sum-up').className = 'v' + (up < nodes.length ? ' bad' : '');
    $('sum-rps').textContent = anyRate ? fmtRate(totalRps) : '-';
    $('sum-err').textContent = anyRate ? (totalRps > 0 ? fmtPct(Math.min(1, totalErr / totalRps)) : totalErr > 0 ? '100%' : '0%') : '-';
    $('sum-inflight').textContent = String(inflight);
    $('health-view').textContent = data.healthView === 'primary' ? 'health as seen by the primary process' : '';
  }

  function renderEvents(list) {
    for (var i = 0; i < list.length; i++) {
      if (list[i].seq > lastSeq) lastSeq = list[i].seq;
      events.unshift(list[i]);
    }
    if (events.length > 200) events.length = 200;
    if (list.length === 0 && events.length > 0) return;
    var ol = $('events');
    var items = events.map(function (e) {
      return el('li', { 'data-testid': 'event', 'data-kind': e.kind, 'data-node': e.node }, [
        el('span', { cls: 't', title: e.at, text: fmtTime(e.at) }),
        el('span', { cls: 'kind k-' + e.kind, text: e.kind.replace('node-', '') }),
        el('code', { text: e.node }),
        el('span', { cls: 'muted', text: e.detail || '' }),
      ]);
    });
    ol.replaceChildren.apply(ol, items);
    if (events.length === 0) ol.appendChild(el('li', { cls: 'muted', text: 'nothing yet' }));
  }

  function renderFunctions(list) {
    var tbody = $('functions-body');
    var rows = list.slice(0, 25).map(function (f) {
      var s = f.spills || {};
      var spills = ['full', 'wait', 'down', 'warmup'].filter(function (k) { return s[k]; }).map(function (k) { return k + ' ' + s[k]; }).join(', ');
      return el('tr', { 'data-testid': 'function-row', 'data-key': f.key }, [
        el('td', {}, [el('code', { text: f.key })]),
        el('td', { cls: 'num', text: String(f.requests) }),
        el('td', {}, [el('code', { text: f.owner || '-' })]),
        el('td', { cls: 'num', text: f.requests ? fmtPct(f.ownerHits / f.requests) : '-' }),
        el('td', { cls: spills ? '' : 'muted', text: spills || 'none' }),
      ]);
    });
    tbody.replaceChildren.apply(tbody, rows);
    if (rows.length === 0) tbody.appendChild(el('tr', {}, [el('td', { colspan: '5', cls: 'muted', text: 'no traffic yet' })]));
  }

  function renderConfig(c) {
    var parts = [];
    if (c.listenHost !== undefined) parts.push('listening on ' + c.listenHost + ':' + (c.listenPort === 0 ? '(any port)' : c.listenPort));
    if (c.workers > 1) parts.push(c.workers + ' workers');
    if (c.hashKey) parts.push('routing by ' + (c.hashKey.kind === 'header' ? 'header ' + c.hashKey.name : 'function'));
    if (c.balanceFactor) parts.push('balance factor ' + c.balanceFactor);
    if (c.warmup) parts.push('warm-up ' + c.warmup / 1000 + ' s');
    if (c.hcInterval) parts.push('health checks every ' + c.hcInterval + ' ms');
    $('config').textContent = parts.join(' · ');
  }

  var configLoaded = false;
  function poll() {
    var jobs = [
      api('/v1/nodes').then(renderNodes),
      api('/v1/events?after=' + lastSeq).then(function (b) { renderEvents(b.events || []); }),
      api('/v1/functions').then(function (b) { renderFunctions(b.functions || []); }),
    ];
    if (!configLoaded) jobs.push(api('/v1/config').then(function (c) { configLoaded = true; renderConfig(c); }));
    Promise.all(jobs).then(function () {
      setReachable(true);
      $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
    }, function (err) {
      setReachable(false, err && err.message ? err.message : 'no answer');
    }).then(function () { setTimeout(poll, POLL_MS); });
  }

  $('lookup-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var q = $('lookup-input').value.trim();
    var out = $('lookup-result');
    if (!q) return;
    var url = '/v1/route?' + (q.charAt(0) === '/' ? 'path=' : 'key=') + encodeURIComponent(q);
    out.textContent = 'looking up...';
    api(url).then(function (r) {
      var ranking = (r.ranking || []).map(function (n, i) {
        var ds = n.state !== 'up' ? 'down' : n.draining ? 'draining' : 'up';
        return el('li', { 'data-testid': 'lookup-rank', 'data-node': n.node, 'data-state': n.state }, [
          el('code', { text: n.node }), document.createTextNode(' '),
          el('span', { cls: 'badge s-' + ds, text: ds }),
          el('span', { cls: 'muted', text: ' weight ' + n.weight + (i === 0 ? ' · owner' : '') + (n.node === r.target ? ' · serves now' : '') }),
        ]);
      });
      out.replaceChildren(
        el('div', {}, [el('span', { cls: 'muted', text: 'key ' }), el('code', { 'data-testid': 'lookup-key', text: r.key })]),
        el('div', {}, [el('span', { cls: 'muted', text: 'target ' }),
          el('code', { 'data-testid': 'lookup-target', cls: r.target ? '' : 'bad', text: r.target || 'none (no node up)' })]),
        el('ol', { 'data-testid': 'lookup-ranking' }, ranking)
      );
    }, function (err) {
      out.replaceChildren(el('span', { cls: 'bad', 'data-testid': 'lookup-error', text: err.message }));
    });
  });

  poll();
})();
`;

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>fnlb dashboard</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>fnlb</h1>
  <span class="cfg" data-testid="config"></span>
  <span class="cfg" data-testid="health-view"></span>
  <span class="updated" data-testid="updated">connecting...</span>
</header>
<p class="banner" data-testid="unreachable-banner" role="alert"></p>
<main>
  <section class="wide">
    <div class="cards">
      <div class="card"><div class="v" data-testid="sum-up">-</div><div class="k">nodes up</div></div>
      <div class="card"><div class="v" data-testid="sum-rps">-</div><div class="k">requests / s</div></div>
      <div class="card"><div class="v" data-testid="sum-err">-</div><div class="k">error rate</div></div>
      <div class="card"><div class="v" data-testid="sum-inflight">-</div><div class="k">in flight</div></div>
    </div>
  </section>
  <section class="wide">
    <h2>Nodes</h2>
    <div class="scroll">
      <table data-testid="nodes">
        <thead><tr>
          <th>node</th><th>state</th><th>since</th><th>reason</th><th class="num">last check</th><th class="num">weight</th>
          <th class="num" title="expected share of the functions it owns">share</th><th class="num">in flight</th>
          <th class="num">req/s</th><th class="num">errors</th><th class="num" title="fallbacks: owned here, served elsewhere / owned elsewhere, served here">fallbacks from / to</th>
          <th>health (last 60 s)</th>
        </tr></thead>
        <tbody data-testid="nodes-body"><tr><td colspan="12" class="muted">loading...</td></tr></tbody>
      </table>
    </div>
  </section>
  <section>
    <h2>Top functions</h2>
    <div class="scroll">
      <table data-testid="functions">
        <thead><tr><th>function</th><th class="num">requests</th><th>owner</th><th class="num">on owner</th><th>spills</th></tr></thead>
        <tbody data-testid="functions-body"><tr><td colspan="5" class="muted">loading...</td></tr></tbody>
      </table>
    </div>
  </section>
  <section>
    <h2>Where does a function go?</h2>
    <form class="lookup" data-testid="lookup-form">
      <input data-testid="lookup-input" placeholder="/r/app/fn (or a key)" aria-label="request path or key" autocomplete="off">
      <button type="submit" data-testid="lookup-button">Look up</button>
    </form>
    <div class="result" data-testid="lookup-result"></div>
  </section>
  <section class="wide">
    <h2>Recent events</h2>
    <ol class="events" data-testid="events"><li class="muted">loading...</li></ol>
  </section>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;

/** The dashboard served at GET / of the admin listener. */
export function dashboardPage(): string {
  return HTML;
}
