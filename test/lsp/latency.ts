/**
 * Benchmark (not a timed test): didChange → publishDiagnostics latency of the real server over
 * stdio on a generated 3,000-line file, p50 and p95. The debounce is set to 0 so the figure is
 * the server's own cost (analysis + publishing); an editor adds its debounce (200 ms default).
 *
 * After the edits, `edits` code-action requests (each right after an edit, on the range of a
 * finding, with its diagnostics) give the code-action response p50/p95.
 *
 *   npm run --silent build && node out/test/lsp/latency.js [--lines 3000] [--edits 200] [--json]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileUri, startServer, waitReady } from './client';

export type Language = 'typescript' | 'python';

/** A realistic source file of about `lines` lines: functions with raw SQL (some dynamic, some multi-line) between plain code. */
export function generateSource(language: Language, lines: number): string {
  const out: string[] = [];
  if (language === 'typescript') {
    out.push("import { Pool } from 'pg';", 'const pool = new Pool();', '');
    for (let i = 0; out.length < lines - 8; i++) {
      switch (i % 4) {
        case 0:
          out.push(`export async function find${i}(id: number) {`, `  const r = await pool.query('SELECT id, name, status FROM jobs_${i % 50} WHERE id = $1', [id]);`, '  return r.rows[0];', '}', '');
          break;
        case 1:
          out.push(`export async function list${i}(order: string) {`, `  const r = await pool.query(\`SELECT j.id, count(r.id) FROM jobs j JOIN runs r ON r.job_id = j.id GROUP BY j.id ORDER BY \${order}\`);`, '  return r.rows;', '}', '');
          break;
        case 2:
          out.push(`export function format${i}(a: string, b: string): string {`, '  const parts = [a, b].filter(Boolean);', '  return parts.join(" ").trim();', '}', '');
          break;
        default:
          out.push(`export async function save${i}(name: string) {`, '  await pool.query(', `    'INSERT INTO jobs_${i % 50} (name, status) VALUES ($1, $2) RETURNING id',`, "    [name, 'pending'],", '  );', '}', '');
      }
    }
  } else {
    out.push('import sqlite3', '', '', 'def connect():', '    return sqlite3.connect("app.db")', '', '');
    for (let i = 0; out.length < lines - 8; i++) {
      switch (i % 4) {
        case 0:
          out.push(`def find_${i}(cur, job_id):`, `    cur.execute("SELECT id, name, status FROM jobs_${i % 50} WHERE id = ?", (job_id,))`, '    return cur.fetchone()', '', '');
          break;
        case 1:
          out.push(`def list_${i}(cur, order):`, '    cur.execute(f"SELECT j.id, count(r.id) FROM jobs j JOIN runs r ON r.job_id = j.id GROUP BY j.id ORDER BY {order}")', '    return cur.fetchall()', '', '');
          break;
        case 2:
          out.push(`def format_${i}(a, b):`, '    parts = [p for p in (a, b) if p]', '    return " ".join(parts).strip()', '', '');
          break;
        default:
          out.push(`def save_${i}(cur, name):`, '    cur.execute(', `        "INSERT INTO jobs_${i % 50} (name, status) VALUES (?, ?)",`, "        (name, 'pending'),", '    )', '', '');
      }
    }
  }
  while (out.length < lines) out.push(language === 'typescript' ? '// end' : '# end');
  return out.join('\n') + '\n';
}

function percentile(sorted: number[], p: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export interface LatencyResult {
  language: Language;
  lines: number;
  findings: number;
  edits: number;
  p50: number;
  p95: number;
  max: number;
  /** The automatic (light-bulb) request. */
  codeAction: { requests: number; p50: number; p95: number; max: number; actions: number };
  /** The menu opened right after it, on the same version (adds the moves into repositories). */
  codeActionInvoked: { requests: number; p50: number; p95: number; max: number };
}

/** Starts the server over stdio, opens a generated file and times `edits` single-character edits, one at a time. */
export async function measureLatency(language: Language, lines = 3000, edits = 200): Promise<LatencyResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-latency-'));
  const file = path.join(dir, language === 'typescript' ? 'big.ts' : 'big.py');
  const text = generateSource(language, lines);
  fs.writeFileSync(file, text);
  // Configured as a project migrating would be, so code actions compute every rewrite they offer:
  // Knex (with its import), the TS repository move, and the Python repository move.
  fs.writeFileSync(path.join(dir, '.sqlmigrate.json'), JSON.stringify({ rewrite: { knex: { instance: 'db', import: './db' }, repository: { python: { session: 'get_session', sessionModule: 'db' } } } }));
  const s = await startServer({ workspace: dir, settings: { debounce: 0, scanOnStartup: false } });
  try {
    await waitReady(s);
    const uri = fileUri(file);
    s.open(uri, language, text, 1);
    const first = await s.diagnosticsFor(uri, (p) => p.version === 1, 60000);
    const times: number[] = [];
    const lineCount = text.split('\n').length;
    // Type at the end of a line in the middle: first a comment marker, then one character per edit (findings stay the same).
    const line = Math.floor(lineCount / 2);
    let end = text.split('\n')[line].length;
    for (let v = 2; v < edits + 2; v++) {
      const typed = v === 2 ? (language === 'typescript' ? ' //' : ' #') : 'x';
      const t0 = process.hrtime.bigint();
      s.change(uri, v, [{ range: { start: { line, character: end }, end: { line, character: end } }, text: typed }]);
      end += typed.length;
      await s.diagnosticsFor(uri, (p) => p.version === v, 30000);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const sorted = [...times].sort((a, b) => a - b);

    // Code actions: edit, then ask for the quick fixes of a finding (the server must answer for the
    // new version) as the editor does: the automatic light-bulb request (triggerKind 2) timed in
    // `codeAction`, then the menu the user opens on it (triggerKind 1: also the moves into
    // repositories) timed in `codeActionInvoked`.
    const caTimes: number[] = [];
    const invokedTimes: number[] = [];
    let actions = 0;
    const diags = first.diagnostics;
    for (let k = 0, v = edits + 2; k < edits && diags.length; k++, v++) {
      s.change(uri, v, [{ range: { start: { line, character: end }, end: { line, character: end } }, text: 'y' }]);
      end += 1;
      const d = diags[(k * 7) % diags.length];
      const request = (triggerKind: 1 | 2) =>
        s.connection.sendRequest('textDocument/codeAction', { textDocument: { uri }, range: d.range, context: { diagnostics: [d], only: ['quickfix'], triggerKind } }) as Promise<unknown[] | null>;
      const t0 = process.hrtime.bigint();
      await request(2);
      caTimes.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const t1 = process.hrtime.bigint();
      const res = await request(1);
      invokedTimes.push(Number(process.hrtime.bigint() - t1) / 1e6);
      actions += res?.length ?? 0;
    }
    const caSorted = [...caTimes].sort((a, b) => a - b);
    const invSorted = [...invokedTimes].sort((a, b) => a - b);
    return {
      language,
      lines: lineCount - 1,
      findings: first.diagnostics.length,
      edits,
      p50: percentile(sorted, 50),
      p95: percentile(sorted, 95),
      max: sorted[sorted.length - 1],
      codeAction: { requests: caTimes.length, p50: percentile(caSorted, 50), p95: percentile(caSorted, 95), max: caSorted[caSorted.length - 1] ?? 0, actions },
      codeActionInvoked: { requests: invokedTimes.length, p50: percentile(invSorted, 50), p95: percentile(invSorted, 95), max: invSorted[invSorted.length - 1] ?? 0 },
    };
  } finally {
    await s.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const arg = (name: string, def: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : def;
  };
  const json = process.argv.includes('--json');
  void (async () => {
    const results: LatencyResult[] = [];
    for (const language of ['typescript', 'python'] as const) results.push(await measureLatency(language, arg('lines', 3000), arg('edits', 200)));
    if (json) console.log(JSON.stringify(results, null, 2));
    else
      for (const r of results) {
        console.log(
          `${r.language.padEnd(10)} ${r.lines} lines, ${r.findings} findings, ${r.edits} edits: didChange → publishDiagnostics p50 ${r.p50.toFixed(1)} ms, p95 ${r.p95.toFixed(1)} ms, max ${r.max.toFixed(1)} ms; ` +
            `code action (light bulb) p50 ${r.codeAction.p50.toFixed(1)} ms, p95 ${r.codeAction.p95.toFixed(1)} ms; menu opened p50 ${r.codeActionInvoked.p50.toFixed(1)} ms, p95 ${r.codeActionInvoked.p95.toFixed(1)} ms`,
        );
      }
  })().catch((e) => {
    console.error(e);
    process.exitCode = 1;
  });
}
