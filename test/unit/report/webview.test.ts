/**
 * The burndown webview page's HTML (the browser tier draws it in Chromium): a strict CSP with
 * a nonce on every script, no inline script or style, workspace text escaped, and assets that
 * exist where burndownAssets says.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { burndownAssets, burndownHtml, newNonce, scriptJson } from '../../../client/webview/burndown';
import { buildBurndown } from '../../../server/src/history';

const ROOT = path.join(__dirname, '..', '..', '..', '..');

describe('burndown webview HTML', () => {
  const nonce = newNonce();
  const html = burndownHtml({
    cspSource: 'https://x.vscode-cdn.net',
    nonce,
    scriptUris: ['https://x.vscode-cdn.net/a.js', 'https://x.vscode-cdn.net/b.js'],
    styleUris: ['https://x.vscode-cdn.net/a.css'],
    data: { ...buildBurndown([]), folders: ['</script><script>alert(1)</script>', 'a\u2028b'] },
    title: '<b>svc</b>',
  });

  it('has a strict CSP: scripts only by nonce, styles and fonts only from the webview origin', () => {
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)![1];
    assert.equal(csp, `default-src 'none'; img-src https://x.vscode-cdn.net data:; style-src https://x.vscode-cdn.net; font-src https://x.vscode-cdn.net; script-src 'nonce-${nonce}'`);
    const scripts = html.match(/<script[^>]*>/g)!;
    assert.equal(scripts.length, 3);
    assert.equal(scripts.filter((s) => s.includes(`nonce="${nonce}"`) && s.includes('src=')).length, 2);
    assert.match(scripts[0], /type="application\/json"/);
    assert.ok(!/\son[a-z]+=/i.test(html), 'no inline event handlers');
    assert.ok(!/style=/.test(html) && !/<style/.test(html), 'no inline styles');
    assert.throws(() => burndownHtml({ cspSource: 'x', nonce: 'short', scriptUris: [], styleUris: [], data: null }), /nonce/);
  });

  it('escapes workspace text and embeds data that cannot close its element', () => {
    assert.ok(html.includes('Migration burndown — &lt;b&gt;svc&lt;/b&gt;'));
    const json = /<script type="application\/json" id="burndown-data">([^<]*)<\/script>/.exec(html)![1];
    assert.deepEqual(JSON.parse(json).folders, ['</script><script>alert(1)</script>', 'a\u2028b']);
    assert.equal(scriptJson('<&>\u2029'), '"\\u003c\\u0026\\u003e\\u2029"');
  });

  it('shows the empty state server-side when there are no points', () => {
    assert.match(html, /<section id="empty" class="empty">/);
    assert.match(html, /<section id="charts" class="charts" hidden>/);
  });

  it('burndownAssets names files that exist (development layout)', () => {
    const assets = burndownAssets(ROOT);
    for (const f of [...assets.scripts, ...assets.styles]) assert.ok(fs.existsSync(f), f);
    assert.ok(assets.scripts[0].endsWith('uPlot.iife.min.js'));
    for (const f of [...assets.scripts, ...assets.styles]) assert.ok(assets.roots.some((r) => f.startsWith(r + path.sep)), f);
  });
});
