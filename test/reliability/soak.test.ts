/**
 * Soak: the real language server over stdio (test/lsp/client.ts) under a stream of random
 * edits across 50 open documents (25 TypeScript/JavaScript, 25 Python, copied from the
 * fixtures), incremental and full, while files are created, renamed and deleted on disk
 * (workspace/didChangeWatchedFiles with real files), `.sqlmigrate.json` is rewritten (sometimes
 * invalid, sometimes escaping the workspace) and the settings change (didChangeConfiguration).
 *
 * Checked: the server never dies and keeps answering; per document, published versions never
 * go backwards and never run ahead of what was sent; at the end every open document's last
 * diagnostics carry its latest version and equal a fresh analysis of its final text; the
 * server's RSS (/proc/<pid>/status VmRSS) stays under a bound (the peak is printed).
 *
 * SQLMIGRATE_SOAK_EDITS sets the number of edits (CI default 1,500; the issue's full run is
 * 10,000); SQLMIGRATE_SOAK_SEED replays a run.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Diagnostic, PublishDiagnosticsParams, TextDocumentContentChangeEvent } from 'vscode-languageserver-protocol';
import { analyzeText } from '../../server/src/engine/analyze';
import { detectOptions, parseConfig } from '../../server/src/engine/config';
import { toDiagnostic } from '../../server/src/lsp/present';
import { DEFAULT_SETTINGS, ServerInfoRequest } from '../../server/src/protocol';
import { fileUri, poll, startServer, waitReady, type TestServer } from '../lsp/client';
import { corpus, envInt, lineOffsets, prng, ready, report } from './support';

const EDITS = envInt('SQLMIGRATE_SOAK_EDITS', 1500);
const SEED = Number(process.env.SQLMIGRATE_SOAK_SEED) || 0x50a4;
/** Generous: the server holds findings, never trees; a leak over thousands of edits would cross it. */
const RSS_BOUND_MB = 1024;

const SNIPPETS = [
  "await pool.query('SELECT id FROM jobs WHERE id = $1', [id]);\n",
  'const { rows } = await pool.query(`UPDATE jobs SET status = $1 WHERE id = ${id}`);\n',
  'cur.execute("SELECT * FROM runs WHERE job_id = %s", (job_id,))\n',
  'session.query(Job).filter(Job.id == 1).first()\n',
  '// sqlmigrate-keep: soak\n',
  '# sqlmigrate-keep\n',
  '\n', '{', '}', '(', ')', "'", '"', '`', '"""', '${', '\t', '😀', '\u2028', '\r\n', 'SELECT ', ' FROM t', ';', 'async def f():\n    ', 'function g() {\n',
];

interface Doc {
  uri: string;
  languageId: string;
  fileName: string;
  text: string;
  version: number;
  /** Every didChange sent, for replaying a failure. */
  log: Array<{ version: number; changes: TextDocumentContentChangeEvent[] }>;
  initial: string;
}

function rss(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** The LSP position of an offset (line breaks \r\n, \r, \n), and back. */
function positionAt(text: string, offset: number): { line: number; character: number } {
  const { starts } = lineOffsets(text);
  let line = 0;
  while (line + 1 < starts.length && starts[line + 1] <= offset) line++;
  return { line, character: offset - starts[line] };
}

/** A random edit of `text` as an LSP change, and the text after it. Offsets never split a \r\n pair. */
function randomChange(text: string, rand: () => number): { change: TextDocumentContentChangeEvent; text: string } {
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  let at = Math.floor(rand() * (text.length + 1));
  if (text[at - 1] === '\r' && text[at] === '\n') at--;
  const r = rand();
  if (r < 0.03) {
    // A full replacement: the document as it was plus a snippet, or a fragment of it.
    const next = rand() < 0.5 ? text.slice(0, at) + pick(SNIPPETS) + text.slice(at) : text.slice(0, at);
    return { change: { text: next }, text: next };
  }
  let end = at;
  let insert = '';
  if (r < 0.55) insert = pick(SNIPPETS);
  else if (r < 0.85) {
    end = Math.min(text.length, at + 1 + Math.floor(rand() * 40));
    if (text[end - 1] === '\r' && text[end] === '\n') end++;
  } else {
    // Replace the line holding `at` with a snippet (keeping the line break).
    const { starts, ends } = lineOffsets(text);
    const line = positionAt(text, at).line;
    at = starts[line];
    end = ends[line];
    // (\r\n stripped whole: a lone \r joined to the next line's \n would be one line break for
    // the server's text but two for the incremental line index of vscode-languageserver-textdocument,
    // a state editors never send — they normalise line ends.)
    insert = pick(SNIPPETS).replace(/\r?\n$/, '');
  }
  const range = { start: positionAt(text, at), end: positionAt(text, end) };
  return { change: { range, text: insert }, text: text.slice(0, at) + insert + text.slice(end) };
}

function comparable(d: Diagnostic): string {
  return JSON.stringify([d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character, d.code, d.severity, d.message]);
}

/**
 * Compares every document's last published diagnostics with a fresh analysis of its text (the
 * final config is `{}` and the settings the defaults). Keeps failing documents for replay.
 */
async function compareFinal(docs: Doc[], lastFor: (uri: string) => PublishDiagnosticsParams | undefined, keepFailures: boolean): Promise<{ mismatches: string[]; diagnostics: number }> {
  const detect = detectOptions(parseConfig('{}'));
  const mismatches: string[] = [];
  let diagnostics = 0;
  for (const d of docs) {
    const got = lastFor(d.uri);
    if (!got) {
      mismatches.push(`${path.basename(d.fileName)}: no diagnostics published`);
      continue;
    }
    if (got.version !== d.version) mismatches.push(`${path.basename(d.fileName)}: last diagnostics for v${got.version}, the document is at v${d.version}`);
    const r = await analyzeText(d.text, d.fileName, detect);
    const want = r.findings.map((f) => toDiagnostic(f, DEFAULT_SETTINGS)).filter((x): x is Diagnostic => !!x).map(comparable).sort();
    const have = got.diagnostics.map(comparable).sort();
    diagnostics += have.length;
    if (JSON.stringify(want) !== JSON.stringify(have)) {
      const keep = path.join(os.tmpdir(), 'sqlmigrate-soak-failures');
      if (keepFailures) {
        fs.mkdirSync(keep, { recursive: true });
        fs.writeFileSync(path.join(keep, path.basename(d.fileName)), d.text);
        fs.writeFileSync(path.join(keep, `${path.basename(d.fileName)}.replay.json`), JSON.stringify({ languageId: d.languageId, initial: d.initial, log: d.log }));
      }
      mismatches.push(`${path.basename(d.fileName)} v${d.version}${keepFailures ? ` (final text kept in ${keep})` : ''}: published ${have.length} diagnostics, a fresh analysis gives ${want.length}\n  only published: ${have.filter((x) => !want.includes(x)).slice(0, 3).join('\n    ')}\n  only fresh: ${want.filter((x) => !have.includes(x)).slice(0, 3).join('\n    ')}`);
    }
  }
  return { mismatches, diagnostics };
}

describe('reliability: language-server soak', function () {
  this.timeout(175000);
  let s: TestServer | undefined;
  let dir: string;
  let finalState: { docs: Doc[]; lastFor: (uri: string) => PublishDiagnosticsParams | undefined } | undefined;
  before(ready);
  after(async () => {
    await s?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`survives ${EDITS} random edits across 50 documents with file events and configuration changes`, async () => {
    const rand = prng(SEED);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-soak-'));
    const all = corpus();
    const ts = all.filter((f) => /\.[cm]?[jt]sx?$/.test(f.rel)).slice(0, 25);
    const py = all.filter((f) => f.rel.endsWith('.py')).slice(0, 25);
    assert.equal(ts.length + py.length, 50);
    const docs: Doc[] = [...ts, ...py].map((f, i) => {
      const ext = path.extname(f.rel);
      const rel = ext === '.py' ? `app/m${i}${ext}` : `src/m${i}${ext}`;
      const abs = path.join(dir, rel);
      fs.mkdirSync(path.dirname(abs), { recursive: true });
      fs.writeFileSync(abs, f.text);
      const languageId = ext === '.py' ? 'python' : /\.[cm]?jsx?$/.test(ext) ? 'javascript' : 'typescript';
      return { uri: fileUri(abs), languageId, fileName: abs, text: f.text, version: 1, log: [], initial: f.text };
    });
    fs.writeFileSync(path.join(dir, '.sqlmigrate.json'), '{}\n');

    s = await startServer({ workspace: dir, settings: { debounce: 10 } });
    const server = s;
    await waitReady(server, 60000);
    const pid = server.process.pid!;
    const byUri = new Map(docs.map((d) => [d.uri, d]));
    // Published versions per document: never backwards, never ahead of what was sent.
    const order: string[] = [];
    const lastVersion = new Map<string, number>();
    server.connection.onNotification('textDocument/publishDiagnostics', (p: PublishDiagnosticsParams) => {
      server.diagnostics.push(p);
      const d = byUri.get(p.uri);
      if (!d || p.version === undefined || p.version === null) return;
      const prev = lastVersion.get(p.uri) ?? 0;
      if (p.version < prev) order.push(`${path.basename(p.uri)}: v${p.version} published after v${prev}`);
      if (p.version > d.version) order.push(`${path.basename(p.uri)}: v${p.version} published, only v${d.version} sent`);
      lastVersion.set(p.uri, Math.max(prev, p.version));
    });
    for (const d of docs) server.open(d.uri, d.languageId, d.text, 1);

    let peak = rss(pid);
    const start = peak;
    let fileEvents = 0;
    let configChanges = 0;
    let settingsChanges = 0;
    let requests = 0;
    let incremental = 0;
    const extra: string[] = [];
    const CONFIGS = [
      '{ "dialect": "mysql" }',
      '{ "exclude": ["app/**"] }',
      '{ "dialect": 42 ',
      '{ "include": ["../../**"] }',
      '{ "exceptions": [{ "path": "../outside.ts", "reason": "x" }] }',
      '{ "wrappers": ["DB.query"], "sessionFactories": ["get_session"] }',
      '',
      '{}',
    ];
    const watched = (changes: Array<{ uri: string; type: 1 | 2 | 3 }>) => {
      fileEvents += changes.length;
      void server.connection.sendNotification('workspace/didChangeWatchedFiles', { changes });
    };

    for (let i = 1; i <= EDITS; i++) {
      const d = docs[Math.floor(rand() * docs.length)];
      const n = rand() < 0.2 ? 2 + Math.floor(rand() * 3) : 1;
      const changes: TextDocumentContentChangeEvent[] = [];
      for (let k = 0; k < n; k++) {
        const c = randomChange(d.text, rand);
        changes.push(c.change);
        d.text = c.text;
        if ('range' in c.change) incremental++;
      }
      d.version++;
      d.log.push({ version: d.version, changes });
      server.change(d.uri, d.version, changes);

      if (i % 37 === 0) {
        // Files appear, move and vanish on disk.
        const r = rand();
        if (r < 0.4 || !extra.length) {
          const rel = `src/extra/e${i}.${rand() < 0.5 ? 'ts' : 'py'}`;
          fs.mkdirSync(path.join(dir, 'src/extra'), { recursive: true });
          fs.writeFileSync(path.join(dir, rel), rel.endsWith('.py') ? 'cur.execute("DELETE FROM t")\n' : "pool.query('DELETE FROM t');\n");
          extra.push(rel);
          watched([{ uri: fileUri(path.join(dir, rel)), type: 1 }]);
        } else if (r < 0.7) {
          const from = extra.splice(Math.floor(rand() * extra.length), 1)[0];
          const to = from.replace(/e(\d+)/, `r$1_${i}`);
          fs.renameSync(path.join(dir, from), path.join(dir, to));
          extra.push(to);
          watched([{ uri: fileUri(path.join(dir, from)), type: 3 }, { uri: fileUri(path.join(dir, to)), type: 1 }]);
        } else if (r < 0.9) {
          const gone = extra.splice(Math.floor(rand() * extra.length), 1)[0];
          fs.rmSync(path.join(dir, gone));
          watched([{ uri: fileUri(path.join(dir, gone)), type: 3 }]);
        } else {
          // The file of an open document changes on disk (a branch switch): the editor's text wins.
          const o = docs[Math.floor(rand() * docs.length)];
          fs.writeFileSync(o.fileName, rand() < 0.5 ? '' : o.text + '\n// changed on disk\n');
          watched([{ uri: o.uri, type: 2 }]);
        }
      }
      if (i % 97 === 0) {
        configChanges++;
        fs.writeFileSync(path.join(dir, '.sqlmigrate.json'), CONFIGS[Math.floor(rand() * CONFIGS.length)]);
        watched([{ uri: fileUri(path.join(dir, '.sqlmigrate.json')), type: 2 }]);
      }
      if (i % 131 === 0) {
        settingsChanges++;
        server.settings = rand() < 0.5 ? { debounce: Math.floor(rand() * 60), severity: { ...DEFAULT_SETTINGS.severity, 'raw-sql': rand() < 0.5 ? 'off' : 'error' } } : { enable: rand() < 0.7, debounce: 0 };
        void server.connection.sendNotification('workspace/didChangeConfiguration', { settings: { sqlmigrate: server.settings } });
      }
      if (i % 25 === 0) {
        // Keep the stream from running arbitrarily far ahead, and check the server answers.
        const h = docs[Math.floor(rand() * docs.length)];
        await server.connection.sendRequest('textDocument/hover', { textDocument: { uri: h.uri }, position: positionAt(h.text, Math.floor(rand() * h.text.length)) });
        requests++;
      }
      if (i % 100 === 0) peak = Math.max(peak, rss(pid));
      assert.equal(server.process.exitCode, null, `the server exited during edit ${i}: ${server.stderr.slice(-2000)}`);
    }

    // Settle: default settings, a valid config, the disk as the editor has it.
    server.settings = { debounce: 10 };
    void server.connection.sendNotification('workspace/didChangeConfiguration', { settings: { sqlmigrate: server.settings } });
    fs.writeFileSync(path.join(dir, '.sqlmigrate.json'), '{}\n');
    watched([{ uri: fileUri(path.join(dir, '.sqlmigrate.json')), type: 2 }]);
    for (const d of docs) fs.writeFileSync(d.fileName, d.text);
    watched(docs.map((d) => ({ uri: d.uri, type: 2 as const })));
    const info = await server.connection.sendRequest(ServerInfoRequest.type);
    assert.ok(info, 'the server answers a final request');
    requests++;

    // Every open document's last diagnostics: its latest version, and a fresh analysis of its text.
    const lastFor = (uri: string) => [...server.diagnostics].reverse().find((p) => p.uri === uri);
    await poll('diagnostics for the latest version of every document', () => docs.every((d) => lastFor(d.uri)?.version === d.version), 90000, 100);
    let quiet = server.diagnostics.length;
    await poll('the server to go quiet', async () => {
      await new Promise((r) => setTimeout(r, 1500));
      const still = server.diagnostics.length === quiet;
      quiet = server.diagnostics.length;
      return still;
    }, 60000, 0);
    peak = Math.max(peak, rss(pid));

    const { mismatches, diagnostics } = await compareFinal(docs, lastFor, true);
    report('soak', { edits: EDITS, incrementalChanges: incremental, documents: docs.length, fileEvents, configRewrites: configChanges, settingsChanges, requestsAnswered: requests, publishes: server.diagnostics.length, finalDiagnostics: diagnostics, rssStartMB: start.toFixed(0), rssPeakMB: peak.toFixed(0), rssBoundMB: RSS_BOUND_MB });
    assert.deepEqual(order, [], 'published versions went backwards or ahead');
    assert.deepEqual(mismatches, []);
    assert.ok(peak < RSS_BOUND_MB, `server RSS peaked at ${peak.toFixed(0)} MB (bound ${RSS_BOUND_MB} MB)`);
    assert.equal(server.process.exitCode, null, 'the server is alive');
    finalState = { docs, lastFor };
  });

  it('the final comparison catches a stale or wrong publication (planted bugs)', async () => {
    assert.ok(finalState, 'the soak ran');
    const { docs, lastFor } = finalState;
    // The client believes in a text the server never received: its diagnostics are for another text.
    const edited = docs.map((d, i) => (i === 0 ? { ...d, text: d.text + "\nawait pool.query('DELETE FROM planted');\n" } : d));
    const wrongText = await compareFinal(edited.slice(0, 1), lastFor, false);
    assert.ok(wrongText.mismatches.some((m) => /a fresh analysis gives/.test(m)), wrongText.mismatches.join('\n'));
    // A document one version ahead of what was published.
    const ahead = await compareFinal([{ ...docs[1], version: docs[1].version + 1 }], lastFor, false);
    assert.ok(ahead.mismatches.some((m) => /last diagnostics for v/.test(m)), ahead.mismatches.join('\n'));
    // A publication that lost a diagnostic.
    const lossy = (uri: string) => {
      const p = lastFor(uri);
      return p && { ...p, diagnostics: p.diagnostics.slice(1) };
    };
    const withFindings = docs.filter((d) => (lastFor(d.uri)?.diagnostics.length ?? 0) > 0);
    assert.ok(withFindings.length > 0);
    const lost = await compareFinal(withFindings.slice(0, 1), lossy, false);
    assert.equal(lost.mismatches.length, 1);
  });
});
