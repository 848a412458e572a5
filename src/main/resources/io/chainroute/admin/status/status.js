// chainroute's live status page: polls GET /status and renders it.
//
// Everything shown comes from /status, whose strings (node and chain names from the config, Envoy
// node ids and NACK messages from Envoy) are not trusted: text goes in only through text nodes and
// attributes through setAttribute; nothing is ever parsed as HTML. No inline script, so the page's
// Content-Security-Policy (default-src 'self') holds.
'use strict';

(function () {
  const POLL_MS = 1000;
  const TIMEOUT_MS = 3000;
  // Relative to the page (/ui/), so the page also works behind a proxy that adds a path prefix.
  const STATUS_URL = new URL('../status', document.baseURI).href;

  let lastOk = 0; // browser time of the last good poll, ms
  let lastVersion = null;
  let skewMs = 0; // server clock minus browser clock, when they differ by more than 2 s

  function $(id) {
    return document.getElementById(id);
  }

  /**
   * A new element. attrs: className, title and data-* keys (set as attributes); children: strings
   * (become text nodes), nodes, or null (skipped).
   */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined) {
        continue;
      }
      if (k === 'className') {
        e.className = v;
      } else {
        e.setAttribute(k, String(v));
      }
    }
    for (const c of children) {
      if (c === null || c === undefined) {
        continue;
      }
      e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function now() {
    return Date.now() + skewMs;
  }

  function clock(ms) {
    return new Date(ms).toLocaleTimeString([], { hour12: false });
  }

  function ago(ms) {
    const s = Math.max(0, Math.round((now() - ms) / 1000));
    if (s < 120) {
      return s + ' s ago';
    }
    if (s < 7200) {
      return Math.round(s / 60) + ' min ago';
    }
    return Math.round(s / 3600) + ' h ago';
  }

  /** "3 s ago" with the exact time as a tooltip; a dash when the instant is null. */
  function when(iso) {
    if (!iso) {
      return el('span', { className: 'muted', title: 'not seen yet' }, '—');
    }
    const t = Date.parse(iso);
    return el('time', { datetime: iso, title: new Date(t).toString() }, ago(t));
  }

  function latency(micros) {
    if (!(micros > 0)) {
      return '—';
    }
    return micros < 10000 ? (micros / 1000).toFixed(1) + ' ms' : Math.round(micros / 1000) + ' ms';
  }

  function healthBadge(health) {
    return el('span', { className: 'badge health-' + String(health).toLowerCase() }, health);
  }

  /** The node's place in each pool, from the chain's pools: "head HEALTHY p0". */
  function memberships(chain, nodeName) {
    const out = el('ul', { className: 'pools' });
    for (const pool of chain.pools || []) {
      for (const m of pool.members || []) {
        if (m.node === nodeName) {
          out.appendChild(
            el(
              'li',
              {
                className: 'member status-' + String(m.status).toLowerCase(),
                'data-pool': pool.name,
                'data-status': m.status,
                title: 'cluster ' + pool.cluster + ', priority ' + m.priority,
              },
              pool.name + ' ' + m.status + ' p' + m.priority,
            ),
          );
        }
      }
    }
    if (!out.firstChild) {
      out.appendChild(el('li', { className: 'member muted' }, 'in no pool'));
    }
    return out;
  }

  function nodeRow(chain, n) {
    const role = n.archive ? 'archive' : 'full';
    return el(
      'tr',
      {
        className: 'node health-' + String(n.health).toLowerCase(),
        'data-node': n.name,
        'data-health': n.health,
        'data-status': n.status,
      },
      el('td', { className: 'name' }, n.name),
      el('td', { className: 'region' }, n.region || '—'),
      el('td', { className: 'role' }, role),
      el('td', { className: 'endpoint' }, n.endpoint),
      el('td', { className: 'head num' }, n.head >= 0 ? n.head : '—'),
      el('td', { className: 'lag num' }, n.lag),
      el('td', { className: 'health' }, healthBadge(n.health)),
      el('td', { className: 'reason' }, n.reason || ''),
      el('td', { className: 'drained' }, n.health === 'DRAINED' ? 'drained' : 'no'),
      el('td', { className: 'latency num' }, latency(n.probeLatencyMicros)),
      el('td', { className: 'smoothed num' }, latency(n.smoothedLatencyMicros)),
      el(
        'td',
        { className: 'weight', 'data-weight': n.weight },
        el('span', { className: 'num' }, n.weight === undefined ? '—' : n.weight),
        n.weightReason ? el('div', { className: 'why' }, n.weightReason) : null,
      ),
      el('td', { className: 'advanced' }, when(n.lastAdvanced)),
      el('td', { className: 'membership' }, memberships(chain, n.name)),
    );
  }

  function poolRow(pool) {
    const members = el('ul', { className: 'pools' });
    for (const m of pool.members || []) {
      members.appendChild(
        el(
          'li',
          {
            className: 'member status-' + String(m.status).toLowerCase(),
            'data-node': m.node,
            'data-status': m.status,
          },
          m.node + ' ' + m.status + ' p' + m.priority,
        ),
      );
    }
    if (!members.firstChild) {
      members.appendChild(el('li', { className: 'member muted' }, 'no usable node'));
    }
    return el(
      'tr',
      { className: 'pool', 'data-pool': pool.name },
      el('td', { className: 'name' }, pool.name),
      el('td', { className: 'cluster' }, pool.cluster),
      el('td', {}, members),
    );
  }

  function table(className, headings, rows) {
    const head = el('tr', {});
    for (const h of headings) {
      head.appendChild(el('th', {}, h));
    }
    const body = el('tbody', {});
    rows.forEach((r) => body.appendChild(r));
    return el('table', { className: className }, el('thead', {}, head), body);
  }

  function chainSection(c) {
    const nodes = c.nodes || [];
    const synced = nodes.filter((n) => n.health === 'SYNCED').length;
    return el(
      'section',
      { className: 'chain', 'data-chain': c.name },
      el(
        'h2',
        {},
        c.name + ' ',
        el('span', { className: 'tag' }, c.protocol),
        ' ',
        el('span', { className: 'tag' }, c.pathPrefix),
        ' ',
        el(
          'span',
          { className: 'badge ' + (c.ready ? 'health-synced' : 'health-stalled') },
          c.ready ? 'ready' : 'no synced node',
        ),
      ),
      el(
        'dl',
        { className: 'facts' },
        el('dt', {}, 'head'),
        el('dd', { className: 'chain-head num' }, c.head >= 0 ? c.head : '—'),
        el('dt', {}, 'head last advanced'),
        el('dd', { className: 'chain-advanced' }, when(c.headAdvanced)),
        el('dt', {}, 'synced nodes'),
        el('dd', { className: 'chain-synced' }, synced + ' of ' + nodes.length),
      ),
      table(
        'nodes',
        [
          'node',
          'region',
          'role',
          'endpoint',
          'head',
          'lag',
          'health',
          'reason',
          'drained',
          'probe latency',
          'smoothed',
          'weight',
          'last advanced',
          'pools',
        ],
        nodes.map((n) => nodeRow(c, n)),
      ),
      table('pool-table', ['pool', 'cluster', 'members (status, priority)'], (c.pools || []).map(poolRow)),
      (c.regions || []).length === 0
        ? null
        : table(
            'region-table',
            ['Envoys in', 'pool', 'traffic', 'why', 'members sent (priority, weight)'],
            c.regions.map(regionRow),
          ),
    );
  }

  /** What an Envoy in one region is sent for one pool: keep local or spill over, why, members. */
  function regionRow(r) {
    const members = el('ul', { className: 'pools' });
    for (const m of r.members || []) {
      members.appendChild(
        el(
          'li',
          {
            className: 'member status-' + String(m.status).toLowerCase(),
            'data-node': m.node,
            'data-priority': m.priority,
            'data-weight': m.weight,
            title: (m.region || 'no region') + ', ' + m.status,
          },
          m.node + ' p' + m.priority + ' w' + m.weight,
        ),
      );
    }
    if (!members.firstChild) {
      members.appendChild(el('li', { className: 'member muted' }, 'no usable node'));
    }
    return el(
      'tr',
      { className: 'region', 'data-region': r.region, 'data-pool': r.pool, 'data-spill': r.spill },
      el('td', { className: 'name' }, r.region),
      el('td', {}, r.pool),
      el(
        'td',
        { className: 'decision' },
        el('span', { className: 'badge ' + (r.spill ? 'health-lagging' : 'health-synced') }, r.spill ? 'spill over' : 'local'),
      ),
      el('td', { className: 'reason' }, r.reason || ''),
      el('td', {}, members),
    );
  }

  /** ACK: Envoy runs what was sent; NACK: it refused the last push; pending: sent, no answer yet. */
  function xdsState(t) {
    if (t.acked) {
      return 'ACK';
    }
    if (!t.sentVersion) {
      return 'none sent';
    }
    return t.lastNack ? 'NACK' : 'pending';
  }

  function envoyRow(e) {
    const types = el('ul', { className: 'xds' });
    for (const t of e.resources || []) {
      const state = xdsState(t);
      const shortType = String(t.type).split('.').pop();
      const detail =
        state === 'ACK'
          ? ' ' + t.ackedVersion
          : ' sent ' + t.sentVersion + (t.ackedVersion ? ', runs ' + t.ackedVersion : '');
      types.appendChild(
        el(
          'li',
          {
            className: 'xds-type state-' + state.replace(' ', '-').toLowerCase(),
            'data-type': shortType,
            'data-state': state,
            title: t.type,
          },
          shortType + ' ',
          el('strong', {}, state),
          detail,
          t.lastNack
            ? el(
                'div',
                { className: 'nack' },
                'last NACK',
                t.lastNackAt ? ' (' + clock(Date.parse(t.lastNackAt)) + ')' : '',
                ': ',
                t.lastNack,
              )
            : null,
        ),
      );
    }
    return el(
      'tr',
      { className: 'envoy', 'data-envoy': e.nodeId },
      el('td', { className: 'name' }, e.nodeId),
      el('td', {}, e.cluster || '—'),
      el('td', {}, e.region || '—'),
      el('td', {}, when(e.connectedAt)),
      el('td', {}, types),
    );
  }

  function render(s) {
    const chains = s.chains || [];
    const envoys = s.envoys || [];
    const nodes = chains.flatMap((c) => c.nodes || []);
    const synced = nodes.filter((n) => n.health === 'SYNCED').length;
    $('summary').replaceChildren(
      el('span', { className: 'badge ' + (s.ready ? 'health-synced' : 'health-stalled') }, s.ready ? 'ready' : 'not ready'),
      ' ' + chains.length + (chains.length === 1 ? ' chain, ' : ' chains, '),
      synced + ' of ' + nodes.length + ' nodes synced, ',
      envoys.length + (envoys.length === 1 ? ' Envoy' : ' Envoys') + ' connected · topology version ' + s.version,
    );
    $('chains').replaceChildren(...chains.map(chainSection));
    $('envoy-rows').replaceChildren(...envoys.map(envoyRow));
    $('envoys').hidden = envoys.length === 0;
    $('no-envoys').hidden = envoys.length > 0;
    document.title = 'chainroute: ' + synced + '/' + nodes.length + ' synced';
  }

  function showConnection(state, text) {
    const conn = $('conn');
    conn.setAttribute('data-state', state);
    conn.className = 'conn ' + state;
    $('conn-text').textContent = text;
    document.body.classList.toggle('stale', state === 'disconnected');
  }

  function live() {
    showConnection('live', 'live · updated ' + clock(lastOk) + ' · version ' + lastVersion);
  }

  function disconnected(why) {
    const since = lastOk ? 'last update ' + clock(lastOk) + ' (' + ago(lastOk + skewMs) + ')' : 'no data yet';
    showConnection('disconnected', 'disconnected: ' + why + ' · ' + since);
  }

  async function poll() {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
    try {
      const res = await fetch(STATUS_URL, {
        cache: 'no-store',
        headers: { accept: 'application/json' },
        signal: abort.signal,
      });
      if (!res.ok) {
        throw new Error('/status answered HTTP ' + res.status);
      }
      const body = await res.json();
      const serverDate = Date.parse(res.headers.get('date') || '');
      const skew = Number.isNaN(serverDate) ? 0 : serverDate - Date.now();
      skewMs = Math.abs(skew) > 2000 ? skew : 0;
      lastOk = Date.now();
      lastVersion = body.version;
      render(body);
      live();
    } catch (e) {
      disconnected(e && e.name === 'AbortError' ? 'no answer in ' + TIMEOUT_MS / 1000 + ' s' : e.message || String(e));
    } finally {
      clearTimeout(timer);
      setTimeout(poll, POLL_MS);
    }
  }

  poll();
})();
