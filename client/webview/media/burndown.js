// @ts-check
/**
 * The burndown chart page's script (runs in the webview, after uPlot). Reads BurndownData from
 * the `#burndown-data` JSON element (or a `{ type: 'sqlmigrate.burndown', data }` message),
 * draws the statements left over time with the baseline, the target and the projection, and a
 * per-folder chart and table. Text goes on the page through textContent only; colours come from
 * VS Code's theme variables (with fallbacks) and follow theme changes.
 */
(function () {
  'use strict';

  /** @type {any} */
  const uPlotCtor = /** @type {any} */ (globalThis).uPlot;
  /** @type {{ postMessage(m: unknown): void } | undefined} */
  let vscodeApi;
  try {
    const acquire = /** @type {any} */ (globalThis).acquireVsCodeApi;
    vscodeApi = typeof acquire === 'function' ? acquire() : undefined;
  } catch (_) {
    vscodeApi = undefined;
  }

  const DAY = 86400000;
  /** Content-Security-Policy violations seen after this script started (reported to the extension). */
  /** @type {string[]} */
  const violations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    violations.push(`${e.violatedDirective} ${e.blockedURI}`);
  });
  /** @type {any[]} */
  let charts = [];
  /** @type {any} */
  let current = null;

  function readInitialData() {
    const el = document.getElementById('burndown-data');
    if (!el || !el.textContent) return null;
    try {
      return JSON.parse(el.textContent);
    } catch (_) {
      return null;
    }
  }

  function isDark() {
    const cls = document.body.classList;
    if (cls.contains('vscode-dark') || cls.contains('vscode-high-contrast')) return true;
    if (cls.contains('vscode-light') || cls.contains('vscode-high-contrast-light')) return false;
    return !!(window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches);
  }

  /** A theme colour: the VS Code variable when set, else a fallback for the scheme. */
  function color(name, light, dark) {
    const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim() ||
      getComputedStyle(document.body).getPropertyValue(name).trim();
    return v || (isDark() ? dark : light);
  }

  function palette() {
    return {
      fg: color('--vscode-charts-foreground', '#3b3b3b', '#cccccc'),
      lines: color('--vscode-charts-lines', 'rgba(0,0,0,0.12)', 'rgba(255,255,255,0.14)'),
      left: color('--vscode-charts-blue', '#1a85ff', '#3794ff'),
      baseline: color('--vscode-descriptionForeground', '#717171', '#9d9d9d'),
      target: color('--vscode-charts-green', '#388a34', '#89d185'),
      projection: color('--vscode-charts-orange', '#d18616', '#d18616'),
      series: [
        color('--vscode-charts-blue', '#1a85ff', '#3794ff'),
        color('--vscode-charts-orange', '#d18616', '#d18616'),
        color('--vscode-charts-green', '#388a34', '#89d185'),
        color('--vscode-charts-purple', '#652d90', '#b180d7'),
        color('--vscode-charts-red', '#e51400', '#f14c4c'),
        color('--vscode-charts-yellow', '#bf8803', '#cca700'),
        isDark() ? '#4ec9b0' : '#16825d',
        isDark() ? '#c586c0' : '#af00db',
      ],
      font: (getComputedStyle(document.body).fontFamily || 'sans-serif'),
    };
  }

  function day(iso) {
    return typeof iso === 'string' ? iso.slice(0, 10) : '—';
  }

  function setText(id, text) {
    const el = document.getElementById(id);
    if (el) el.textContent = text;
  }

  /** The summary line, built from text nodes and <strong> elements. */
  function renderSummary(data) {
    const el = document.getElementById('summary');
    if (!el) return;
    el.textContent = '';
    const pts = data.points.filter((p) => p.source !== 'baseline');
    const last = (pts.length ? pts : data.points)[(pts.length ? pts : data.points).length - 1];
    /** @param {string} text @param {boolean} [strong] */
    const add = (text, strong) => {
      const node = strong ? document.createElement('strong') : document.createTextNode(text);
      if (strong) node.textContent = text;
      el.appendChild(node);
    };
    add(String(last.remaining), true);
    add(` left on ${day(last.date)}`);
    if (data.baseline) {
      const base = data.baseline.remaining;
      const pct = base > 0 ? Math.round((1 - last.remaining / base) * 100) : last.remaining === 0 ? 100 : 0;
      add(' · ');
      add(`${pct}%`, true);
      add(` migrated since the baseline (${base}, ${day(data.baseline.date)})`);
    }
    if (data.target) add(` · target ${data.target.remaining} (${Math.round(data.target.reduction * 100)}% fewer)`);
    if (data.projection) {
      const p = data.projection;
      add(' · ');
      if (p.completion) {
        add(`done by ${day(p.completion)}`, true);
        add(` at ${p.ratePerWeek} per week`);
      } else {
        add('not going down at the recent rate');
      }
      if (data.target && p.targetDate && last.remaining > data.target.remaining) add(`; target by ${day(p.targetDate)}`);
    }
    if (last.kept) add(` · ${last.kept} kept on purpose`);
  }

  function destroyCharts() {
    for (const c of charts) c.destroy();
    charts = [];
  }

  function axes(pal) {
    const axis = {
      stroke: pal.fg,
      grid: { stroke: pal.lines, width: 1 },
      ticks: { stroke: pal.lines, width: 1 },
      font: `11px ${pal.font}`,
    };
    return [axis, Object.assign({}, axis, { size: 48 })];
  }

  function widthOf(el) {
    return Math.max(320, Math.floor(el.getBoundingClientRect().width || (document.body.clientWidth - 40)));
  }

  function renderTotal(data, pal) {
    const el = document.getElementById('chart-total');
    if (!el) return;
    el.textContent = '';
    const pts = data.points.filter((p) => p.source !== 'baseline');
    const series = pts.length ? pts : data.points;
    const xs = series.map((p) => Date.parse(p.date) / 1000);
    const left = series.map((p) => p.remaining);
    const last = series[series.length - 1];
    const proj = data.projection;
    /** @type {(number|null)[]} */
    let projection = xs.map(() => null);
    if (proj && proj.completion && series.length >= 2) {
      const tLast = Date.parse(last.date);
      const span = Math.max(tLast - Date.parse(series[0].date), DAY);
      const end = Math.min(Date.parse(proj.completion), tLast + Math.max(span, 30 * DAY));
      if (end > tLast) {
        const endValue = Math.max(0, last.remaining - (proj.ratePerWeek / (7 * DAY)) * (end - tLast));
        xs.push(end / 1000);
        left.push(/** @type {any} */ (null));
        projection = xs.map(() => null);
        projection[xs.length - 2] = last.remaining;
        projection[xs.length - 1] = endValue;
      }
    }
    if (series.length === 1) {
      // One point: a day either side, so the baseline and target lines have a length.
      xs.unshift(xs[0] - 86400);
      xs.push(xs[1] + 86400);
      left.unshift(/** @type {any} */ (null));
      left.push(/** @type {any} */ (null));
      projection = xs.map(() => null);
    }
    const constant = (v) => xs.map(() => v);
    const cols = [xs, left];
    const defs = [
      {},
      { label: 'left to migrate', stroke: pal.left, width: 2.5, points: { show: series.length <= 200, size: 6, fill: pal.left }, fill: hexAlpha(pal.left, 0.08) },
    ];
    if (data.baseline) {
      cols.push(constant(data.baseline.remaining));
      defs.push({ label: 'baseline', stroke: pal.baseline, width: 1.5, dash: [6, 4], points: { show: false } });
    }
    if (data.target) {
      cols.push(constant(data.target.remaining));
      defs.push({ label: 'target', stroke: pal.target, width: 1.5, dash: [2, 3], points: { show: false } });
    }
    if (projection.some((v) => v !== null)) {
      cols.push(projection);
      defs.push({ label: 'projection', stroke: pal.projection, width: 1.8, dash: [6, 4], points: { show: false }, spanGaps: true });
    }
    const yMax = Math.max(1, ...left.filter((v) => v !== null), data.baseline ? data.baseline.remaining : 0);
    const opts = {
      width: widthOf(el),
      height: 300,
      series: defs,
      axes: axes(pal),
      scales: { x: { time: true }, y: { range: [0, Math.ceil(yMax * 1.1)] } },
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
    };
    if (series.length === 1) {
      // One point: give the time scale some width around it.
      opts.scales.x = { time: true, range: [xs[0], xs[xs.length - 1]] };
    }
    charts.push(new uPlotCtor(opts, cols, el));
  }

  function renderFolders(data, pal) {
    const el = document.getElementById('chart-folders');
    const tbody = document.querySelector('#folder-table tbody');
    const title = document.getElementById('folders-title');
    if (!el || !tbody) return;
    el.textContent = '';
    tbody.textContent = '';
    const folders = Array.isArray(data.folders) ? data.folders : [];
    const hidden = folders.length === 0;
    el.hidden = hidden;
    /** @type {HTMLElement} */ (tbody.parentElement).hidden = hidden;
    if (title) title.hidden = hidden;
    if (hidden) return;
    const series = data.points.filter((p) => p.source !== 'baseline');
    const pts = series.length ? series : data.points;
    const xs = pts.map((p) => Date.parse(p.date) / 1000);
    const cols = [xs];
    const defs = [{}];
    folders.forEach((f, i) => {
      cols.push(pts.map((p) => (p.folders && typeof p.folders[f] === 'number' ? p.folders[f] : 0)));
      defs.push({ label: f, stroke: pal.series[i % pal.series.length], width: 2, points: { show: pts.length <= 60, size: 4 } });
    });
    const opts = { width: widthOf(el), height: 220, series: defs, axes: axes(pal), scales: { x: { time: true } }, legend: { show: true } };
    if (xs.length === 1) opts.scales.x = { time: true, range: [xs[0] - 86400, xs[0] + 86400] };
    charts.push(new uPlotCtor(opts, cols, el));

    const first = pts[0];
    const last = pts[pts.length - 1];
    folders.forEach((f, i) => {
      const tr = document.createElement('tr');
      const name = document.createElement('td');
      const sw = document.createElement('span');
      sw.className = 'swatch';
      sw.style.background = pal.series[i % pal.series.length];
      name.appendChild(sw);
      name.appendChild(document.createTextNode(f));
      const a = (first.folders && first.folders[f]) || 0;
      const b = (last.folders && last.folders[f]) || 0;
      const cells = [String(a), String(b), b - a > 0 ? `+${b - a}` : String(b - a)];
      tr.appendChild(name);
      cells.forEach((text, k) => {
        const td = document.createElement('td');
        td.className = 'num' + (k === 2 ? (b < a ? ' down' : b > a ? ' up' : '') : '');
        td.textContent = text;
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
  }

  /** `#rrggbb` with alpha as rgba(); other colour forms are returned transparent-free. */
  function hexAlpha(c, a) {
    const m = /^#([0-9a-f]{6})$/i.exec(c.trim());
    if (!m) return 'rgba(127,127,127,' + a + ')';
    const n = parseInt(m[1], 16);
    return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
  }

  function render(data) {
    current = data;
    destroyCharts();
    const app = document.getElementById('app');
    const empty = !data || !Array.isArray(data.points) || data.points.length === 0;
    const emptyEl = document.getElementById('empty');
    const chartsEl = document.getElementById('charts');
    if (emptyEl) emptyEl.hidden = !empty;
    if (chartsEl) chartsEl.hidden = empty;
    if (app) app.className = empty ? 'is-empty' : 'has-data';
    if (empty) {
      setText('summary', 'No points recorded yet.');
      return;
    }
    if (typeof uPlotCtor !== 'function') {
      setText('summary', 'The chart library did not load.');
      return;
    }
    const pal = palette();
    renderSummary(data);
    renderTotal(data, pal);
    renderFolders(data, pal);
  }

  const button = document.getElementById('record-history');
  if (button) {
    button.addEventListener('click', () => {
      if (vscodeApi) vscodeApi.postMessage({ type: 'sqlmigrate.burndown.command', command: 'recordHistory' });
    });
  }

  /**
   * What the page shows, for the extension (its e2e tests read it): the state, the text, the
   * legend, and how much of the main chart's canvas is painted.
   */
  function describe() {
    const text = (sel) => {
      const el = document.querySelector(sel);
      return el ? (el.textContent || '').trim() : '';
    };
    const emptyEl = document.getElementById('empty');
    const chartsEl = document.getElementById('charts');
    const canvases = Array.from(document.querySelectorAll('#charts canvas'));
    let inked = 0;
    const first = /** @type {HTMLCanvasElement | undefined} */ (document.querySelector('#chart-total canvas') || undefined);
    if (first && first.width > 0 && first.height > 0) {
      try {
        const ctx = first.getContext('2d');
        const img = ctx ? ctx.getImageData(0, 0, first.width, first.height).data : [];
        for (let i = 3; i < img.length; i += 16) if (img[i] > 0) inked++;
      } catch (_) {
        inked = -1;
      }
    }
    return {
      empty: !!emptyEl && !emptyEl.hidden,
      chartsVisible: !!chartsEl && !chartsEl.hidden,
      title: text('#title'),
      summary: text('#summary'),
      canvases: canvases.filter((c) => /** @type {HTMLCanvasElement} */ (c).width > 0).length,
      inked,
      legend: Array.from(document.querySelectorAll('#chart-total .u-legend .u-series .u-label')).map((e) => (e.textContent || '').trim()),
      folderRows: document.querySelectorAll('#folder-table tbody tr').length,
      points: current && Array.isArray(current.points) ? current.points.length : 0,
      button: !!document.getElementById('record-history'),
      theme: document.body.className,
      violations: violations.slice(0, 10),
    };
  }

  function reportRendered() {
    if (!vscodeApi) return;
    // uPlot paints on its next commit: report once it has.
    setTimeout(() => {
      if (vscodeApi) vscodeApi.postMessage({ type: 'sqlmigrate.burndown.rendered', page: describe() });
    }, 50);
  }

  window.addEventListener('message', (event) => {
    const msg = event.data;
    if (msg && msg.type === 'sqlmigrate.burndown') {
      // Remembered by VS Code with the panel, so it can be restored after a reload.
      if (vscodeApi && typeof msg.folderUri === 'string' && typeof (/** @type {any} */ (vscodeApi)).setState === 'function') {
        /** @type {any} */ (vscodeApi).setState({ folderUri: msg.folderUri });
      }
      render(msg.data);
      reportRendered();
    }
  });

  // Theme changes: VS Code swaps the body class and the CSS variables.
  new MutationObserver(() => render(current)).observe(document.body, { attributes: true, attributeFilter: ['class'] });
  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(() => {
      for (const c of charts) c.setSize({ width: widthOf(c.root.parentElement), height: c.height });
    }, 100);
  });

  render(readInitialData());
  document.body.dataset.rendered = 'true';
  if (vscodeApi) vscodeApi.postMessage({ type: 'sqlmigrate.burndown.ready' });
  reportRendered();
})();
