/**
 * The burndown webview page: a self-contained HTML document (strict Content-Security-Policy,
 * nonce'd scripts, no inline handlers or styles) that draws `BurndownData` with uPlot.
 *
 * Contract for the VS Code client (a WebviewPanel):
 *
 *   const assets = burndownAssets(context.extensionPath);
 *   const panel = vscode.window.createWebviewPanel('sqlmigrate.burndown', 'Migration burndown', column, {
 *     enableScripts: true,
 *     localResourceRoots: assets.roots.map((r) => vscode.Uri.file(r)),
 *   });
 *   const uri = (p: string) => panel.webview.asWebviewUri(vscode.Uri.file(p)).toString();
 *   panel.webview.html = burndownHtml({
 *     cspSource: panel.webview.cspSource,
 *     nonce: newNonce(),
 *     scriptUris: assets.scripts.map(uri),
 *     styleUris: assets.styles.map(uri),
 *     data: loadBurndown(folderPath).data,        // server/src/history/trend.ts; null → empty state
 *   });
 *   // Later updates without reloading the page:
 *   panel.webview.postMessage({ type: 'sqlmigrate.burndown', data });
 *
 * The page posts `{ type: 'sqlmigrate.burndown.ready' }` when it has drawn (the panel answers
 * with fresh data: a hidden panel's page is reloaded from its HTML when shown again),
 * `{ type: 'sqlmigrate.burndown.rendered', page }` after each render (what the page shows: the
 * empty state or the charts, texts, legend, painted pixels — read by the e2e tests), and
 * `{ type: 'sqlmigrate.burndown.command', command: 'recordHistory' }` when the empty state's
 * button is pressed (the client offers to run `sqlmigrate history` in a terminal; its file
 * watcher posts the new data when the history file changes). A data message may carry
 * `folderUri`, which the page keeps with `setState` for the panel serializer.
 * Every workspace string (folder names, commit ids) reaches the page as JSON in a
 * non-executable script element with `<`, `>`, `&`, U+2028 and U+2029 escaped, and is put on
 * the page with `textContent` only.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BurndownData } from '../../server/src/history/trend';

export type { BurndownData } from '../../server/src/history/trend';

export interface BurndownHtmlOptions {
  /** `webview.cspSource`: where scripts' and styles' files may come from. */
  cspSource: string;
  /** A fresh random nonce per render ([A-Za-z0-9+/=], at least 16 characters). */
  nonce: string;
  /** Webview URIs of `burndownAssets().scripts`, in that order (uPlot first). */
  scriptUris: string[];
  /** Webview URIs of `burndownAssets().styles`. */
  styleUris: string[];
  /** The chart's data; null or no points shows the empty state. */
  data: BurndownData | null;
  /** Shown above the chart (a workspace folder's name, escaped). */
  title?: string;
}

export interface BurndownAssets {
  scripts: string[];
  styles: string[];
  /** Folders the webview must be allowed to load from (`localResourceRoots`). */
  roots: string[];
}

/**
 * The files the page loads, as absolute paths under the extension's folder: uPlot from
 * `dist/uplot/` in the packaged extension (scripts/bundle.mjs copies it there; the .vsix has no
 * node_modules) or from `node_modules/uplot/dist/` in a development build, and the page's own
 * script and stylesheet from `client/webview/media/`.
 */
export function burndownAssets(extensionRoot: string): BurndownAssets {
  const bundled = path.join(extensionRoot, 'dist', 'uplot');
  const uplot = fs.existsSync(path.join(bundled, 'uPlot.iife.min.js')) ? bundled : path.join(extensionRoot, 'node_modules', 'uplot', 'dist');
  const media = path.join(extensionRoot, 'client', 'webview', 'media');
  return {
    scripts: [path.join(uplot, 'uPlot.iife.min.js'), path.join(media, 'burndown.js')],
    styles: [path.join(uplot, 'uPlot.min.css'), path.join(media, 'burndown.css')],
    roots: [uplot, media],
  };
}

export function newNonce(): string {
  return randomBytes(18).toString('base64');
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON that is safe inside a `<script type="application/json">` element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function attrUri(u: string): string {
  if (/^\s*javascript:/i.test(u)) throw new Error(`refusing a javascript: URI for a webview asset: ${u}`);
  return escapeHtml(u);
}

export function burndownHtml(o: BurndownHtmlOptions): string {
  if (!/^[A-Za-z0-9+/=_-]{16,}$/.test(o.nonce)) throw new Error('the nonce must be 16 or more base64 characters');
  const csp = [
    "default-src 'none'",
    `img-src ${o.cspSource} data:`,
    `style-src ${o.cspSource}`,
    `font-src ${o.cspSource}`,
    `script-src 'nonce-${o.nonce}'`,
  ].join('; ');
  const empty = !o.data || o.data.points.length === 0;
  const title = o.title ? `Migration burndown — ${o.title}` : 'Migration burndown';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp.replace(/[&<>"]/g, (c) => escapeHtml(c))}">
<meta name="viewport" content="width=device-width, initial-scale=1">
${o.styleUris.map((u) => `<link rel="stylesheet" href="${attrUri(u)}">`).join('\n')}
<title>${escapeHtml(title)}</title>
</head>
<body>
<main id="app" class="${empty ? 'is-empty' : 'has-data'}">
  <header>
    <h1 id="title">${escapeHtml(title)}</h1>
    <p id="summary" class="summary" aria-live="polite"></p>
  </header>
  <section id="empty" class="empty"${empty ? '' : ' hidden'}>
    <h2>No history yet</h2>
    <p>The burndown is drawn from the migration's history: one point per commit, read from git.
    Record it with <code>sqlmigrate history</code> (or record a baseline); this view updates when it is written.</p>
    <button id="record-history" type="button">Record history from git</button>
  </section>
  <section id="charts" class="charts"${empty ? ' hidden' : ''}>
    <div id="chart-total" class="chart" role="img" aria-label="Statements left to migrate over time"></div>
    <h2 id="folders-title">Per folder</h2>
    <div id="chart-folders" class="chart" role="img" aria-label="Statements left per folder over time"></div>
    <table id="folder-table" class="folders">
      <thead><tr><th scope="col">folder</th><th scope="col" class="num">first point</th><th scope="col" class="num">now</th><th scope="col" class="num">change</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
</main>
<script type="application/json" id="burndown-data">${scriptJson(o.data)}</script>
${o.scriptUris.map((u) => `<script nonce="${o.nonce}" src="${attrUri(u)}"></script>`).join('\n')}
</body>
</html>
`;
}
