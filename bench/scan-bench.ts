/**
 * The performance harness of issue #8: `npm run bench [-- --mb 50 --runs 3 --edits 200 --json]`.
 *
 * Corpus (built once, reproducibly, under .bench/corpus-<mb>mb; see bench/README.md): at least
 * `--mb` megabytes of mixed TS/JS/Python. One file in five holds SQL or session code (the
 * project's detector fixtures and examples, table names varied per copy); the rest is ordinary
 * code: real-world JavaScript and TypeScript from installed packages (mocha, ajv, picomatch,
 * typescript — pinned by package-lock.json) and generated Python modules without SQL.
 *
 * Measured in one run, each in a fresh Node process (so timings start cold, as a CLI does, and
 * each peak RSS is that measure's own):
 *   - floor:   read every file and parse it once with the same parsers (TypeScript's
 *              createSourceFile, tree-sitter-python), one thread, no detection;
 *   - scan:    `scanDirectory` over the same tree (prefilter, worker threads, detection, SQL
 *              analysis), no cache; its peak RSS;
 *   - peer:    ESLint + @typescript-eslint/parser running eslint-plugin-sql's
 *              `sql/no-unsafe-query` over the TS/JS part, against sqlmigrate scanning the same part;
 *   - incremental: after a cached scan, one file changes: the rescan with the in-memory cache,
 *              and a restart that reads the persisted cache from disk first;
 *   - LSP:     didChange → publishDiagnostics p50/p95 over `--edits` edits of a 3,000-line file
 *              (TypeScript and Python; debounce 0), and code-action p95 (test/lsp/latency.ts).
 * Floor and scan alternate `--runs` times and report medians. Every speed is given as a ratio
 * to a reference measured in the same run, because these machines are shared and noisy.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ts from 'typescript';
import { Language, Parser } from 'web-tree-sitter';
import { FileResultCache } from '../server/src/cache';
import { initEngine } from '../server/src/engine/analyze';
import { DEFAULT_CONFIG, detectOptions, PathRules, type Config } from '../server/src/engine/config';
import { defaultWorkerCount } from '../server/src/engine/pool';
import { listFiles, scanDirectory } from '../server/src/engine/scan';
import { FileFindingsRequest, type InitializationOptions } from '../server/src/protocol';
import { fileUri, poll, startServer, waitReady } from '../test/lsp/client';

const ROOT = path.join(__dirname, '..', '..');
const TS_JS_GLOB = '**/*.{ts,tsx,mts,cts,js,jsx,mjs,cjs}';

interface Args {
  mb: number;
  json: boolean;
  runs: number;
  edits: number;
  skipPeer: boolean;
  skipLsp: boolean;
}

function parseArgs(argv: string[]): Args {
  // `npm run bench --json` (without `--`) reaches us as npm_config_json.
  const a: Args = { mb: 50, json: process.env.npm_config_json === 'true', runs: 3, edits: 200, skipPeer: false, skipLsp: false };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--mb') a.mb = Number(argv[++i]);
    else if (argv[i] === '--json') a.json = true;
    else if (argv[i] === '--runs') a.runs = Number(argv[++i]);
    else if (argv[i] === '--edits') a.edits = Number(argv[++i]);
    else if (argv[i] === '--no-peer') a.skipPeer = true;
    else if (argv[i] === '--no-lsp') a.skipLsp = true;
  }
  return a;
}

// ------------------------------------------------------------------------------------------ corpus

function* walk(dir: string): Generator<string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.isFile()) yield p;
  }
}

/** Real-world JS/TS without SQL from installed packages: the bulk of a real repository. */
function realWorldSources(): string[] {
  const out: string[] = [];
  const dirs = ['mocha/lib', 'ajv/lib', 'ajv/dist', 'picomatch/lib', 'typescript/lib'];
  for (const d of dirs) {
    const abs = path.join(ROOT, 'node_modules', d);
    if (!fs.existsSync(abs)) continue;
    for (const f of walk(abs)) {
      if (!/\.(ts|js)$/.test(f) || f.endsWith('.d.ts')) continue;
      const size = fs.statSync(f).size;
      if (size > 1_500_000 || size < 500) continue;
      out.push(f);
    }
  }
  return out.sort();
}

function sqlSources(): string[] {
  const out: string[] = [];
  for (const d of ['test/fixtures/detect', 'examples']) {
    const abs = path.join(ROOT, d);
    if (!fs.existsSync(abs)) continue;
    for (const f of walk(abs)) if (/\.(ts|tsx|js|jsx|py)$/.test(f)) out.push(f);
  }
  return out.sort();
}

function pythonFiller(i: number): string {
  const lines = [`"""Generated module ${i}: plain Python without database access."""`, 'import math', 'from dataclasses import dataclass', ''];
  for (let k = 0; k < 40; k++) {
    lines.push(
      '@dataclass',
      `class Point${k}:`,
      '    x: float',
      '    y: float',
      '',
      `    def distance_${k}(self, other: "Point${k}") -> float:`,
      '        """Return the distance between two points."""',
      `        return math.hypot(self.x - other.x, self.y - other.y) * ${k + 1}`,
      '',
    );
  }
  return lines.join('\n') + '\n';
}

/** Builds the corpus unless the same one is there (the marker holds its size and a digest of its recipe). */
function buildCorpus(dir: string, mb: number): void {
  const withSqlFiles = sqlSources();
  const plainFiles = realWorldSources();
  const recipe = `${mb}|${withSqlFiles.length}|${plainFiles.length}|v2`;
  const marker = path.join(dir, '.complete');
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === recipe) return;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const target = mb * 1024 * 1024;
  const withSql = withSqlFiles.map((f) => ({ ext: path.extname(f), text: fs.readFileSync(f, 'utf8') }));
  const plain = plainFiles.map((f) => ({ ext: path.extname(f), text: fs.readFileSync(f, 'utf8') }));
  let total = 0;
  let i = 0;
  while (total < target) {
    const pkg = `pkg${String(Math.floor(i / 200)).padStart(3, '0')}`;
    // One file in five holds SQL, the rest is ordinary code: TS/JS from packages, and Python.
    let text: string;
    let ext: string;
    if (i % 5 === 0 && withSql.length) {
      const src = withSql[(i / 5) % withSql.length];
      text = src.text.replace(/\bjobs\b/g, `jobs_${i}`);
      ext = src.ext;
    } else if (i % 5 === 1) {
      text = pythonFiller(i);
      ext = '.py';
    } else {
      const src = plain[i % plain.length];
      text = src.text;
      ext = src.ext;
    }
    const file = path.join(dir, pkg, `m${i}${ext}`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    total += Buffer.byteLength(text);
    i++;
  }
  // Old mtimes: nothing in the corpus looks freshly written to the cache's racy-mtime check.
  const past = new Date(Date.now() - 3600_000);
  for (const f of walk(dir)) fs.utimesSync(f, past, past);
  fs.writeFileSync(marker, recipe);
}

// ------------------------------------------------------------------------------------------ child measures

function tsJsConfig(): Config {
  return { ...DEFAULT_CONFIG, include: [TS_JS_GLOB] };
}

function scriptKind(file: string): ts.ScriptKind {
  if (file.endsWith('.tsx')) return ts.ScriptKind.TSX;
  if (file.endsWith('.jsx')) return ts.ScriptKind.JSX;
  if (/\.[cm]?js$/.test(file)) return ts.ScriptKind.JS;
  return ts.ScriptKind.TS;
}

const peak = () => Math.round(process.resourceUsage().maxRSS / 1024);
const now = () => Number(process.hrtime.bigint()) / 1e6;

async function childFloor(dir: string, config: Config): Promise<object> {
  await Parser.init();
  const py = new Parser();
  py.setLanguage(await Language.load(require.resolve('tree-sitter-python/tree-sitter-python.wasm')));
  const t0 = now();
  const files = listFiles(dir, new PathRules(config), []);
  let bytes = 0;
  for (const f of files) {
    const text = fs.readFileSync(f.abs, 'utf8');
    bytes += Buffer.byteLength(text);
    if (f.rel.endsWith('.py')) py.parse(text)?.delete();
    else ts.createSourceFile(f.rel, text, ts.ScriptTarget.Latest, true, scriptKind(f.rel));
  }
  return { ms: now() - t0, files: files.length, bytes, peakRssMb: peak() };
}

async function childScan(dir: string, config: Config, workers?: number): Promise<object> {
  await initEngine();
  const t0 = now();
  const report = await scanDirectory(dir, { config, workers });
  return { ms: now() - t0, files: report.summary.filesScanned, findings: report.findings.length, peakRssMb: peak() };
}

/** A cached scan, then one file changes: in-memory rescan, then a "restart" reading the cache from disk. */
async function childIncremental(dir: string): Promise<object> {
  await initEngine();
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-bench-cache-'));
  const detect = detectOptions(DEFAULT_CONFIG);
  const victim = [...walk(dir)].find((f) => f.endsWith('.ts') && fs.readFileSync(f, 'utf8').includes('SELECT'))!;
  const original = fs.readFileSync(victim);
  const originalStat = fs.statSync(victim);
  try {
    const cache = FileResultCache.open(cacheDir, dir, detect);
    const t0 = now();
    const full = await scanDirectory(dir, { config: DEFAULT_CONFIG, cache });
    const coldMs = now() - t0;
    const s0 = now();
    cache.save();
    const saveMs = now() - s0;
    const unchanged0 = now();
    await scanDirectory(dir, { config: DEFAULT_CONFIG, cache });
    const unchangedMs = now() - unchanged0;

    fs.appendFileSync(victim, "\nexport async function benchEdit(db: any) { return db.query('DELETE FROM bench_edits WHERE id = 1'); }\n");
    const times: number[] = [];
    let findings = 0;
    for (let k = 0; k < 5; k++) {
      fs.appendFileSync(victim, `// edit ${k}\n`);
      const t = now();
      const r = await scanDirectory(dir, { config: DEFAULT_CONFIG, cache });
      times.push(now() - t);
      findings = r.findings.length;
    }
    cache.save();
    fs.appendFileSync(victim, '// one more edit\n');
    const r0 = now();
    const reopened = FileResultCache.open(cacheDir, dir, detect);
    const loadMs = now() - r0;
    await scanDirectory(dir, { config: DEFAULT_CONFIG, cache: reopened });
    const restartMs = now() - r0;
    times.sort((a, b) => a - b);
    return {
      ms: times[Math.floor(times.length / 2)],
      maxMs: times[times.length - 1],
      unchangedMs,
      restartMs,
      cacheLoadMs: loadMs,
      cacheSaveMs: saveMs,
      cacheBytes: fs.statSync(reopened.file).size,
      coldMs,
      findingsBefore: full.findings.length,
      findingsAfter: findings,
      peakRssMb: peak(),
    };
  } finally {
    fs.writeFileSync(victim, original);
    fs.utimesSync(victim, originalStat.atime, originalStat.mtime);
    fs.rmSync(cacheDir, { recursive: true, force: true });
  }
}

/**
 * The language server on the whole corpus: after its start-up scan, one closed file changes on
 * disk 20 times; each time, from didChangeWatchedFiles to `sqlmigrate/fileFindings` answering
 * with the new finding (event batching set to 0, as the edit benchmark sets the debounce to 0).
 * Also the server's peak RSS after the start-up scan (per-file summaries, no syntax trees).
 */
async function childLspIncremental(dir: string): Promise<object> {
  const victim = [...walk(dir)].find((f) => f.endsWith('.ts') && fs.readFileSync(f, 'utf8').includes('SELECT'))!;
  const original = fs.readFileSync(victim);
  const originalStat = fs.statSync(victim);
  const t0 = now();
  const s = await startServer({ workspace: dir, settings: { debounce: 0 }, initializationOptions: { eventBatchMs: 0 } as InitializationOptions });
  try {
    await waitReady(s, 900_000);
    const startupMs = now() - t0;
    const hwm = () => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${s.process.pid}/status`, 'utf8'));
        return m ? Math.round(Number(m[1]) / 1024) : -1;
      } catch {
        return -1;
      }
    };
    const rssAfterScan = hwm();
    const uri = fileUri(victim);
    const times: number[] = [];
    for (let k = 0; k < 20; k++) {
      fs.appendFileSync(victim, `\nexport async function benchEdit${k}(db: any) { return db.query('DELETE FROM bench_edit_${k} WHERE id = 1'); }\n`);
      const t = now();
      void s.connection.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri, type: 2 }] });
      await poll(
        `the change ${k} to be indexed`,
        async () => (await s.connection.sendRequest(FileFindingsRequest.type, { uri })).some((f) => f.tables.includes(`bench_edit_${k}`)),
        30_000,
        0,
      );
      times.push(now() - t);
    }
    times.sort((a, b) => a - b);
    return { ms: times[Math.floor(times.length / 2)], p95: times[Math.ceil(times.length * 0.95) - 1], startupScanMs: startupMs, serverPeakRssMb: rssAfterScan, serverPeakRssMbEnd: hwm() };
  } finally {
    await s.stop();
    fs.writeFileSync(victim, original);
    fs.utimesSync(victim, originalStat.atime, originalStat.mtime);
  }
}

/** The other configuration than the default: one worker thread when the default is none, none otherwise. */
function altWorkers(): number {
  return defaultWorkerCount() === 0 ? 1 : 0;
}

function runChild(kind: string, dir: string): Record<string, number> {
  const out = execFileSync(process.execPath, [__filename, '--child', kind, dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
}

function runPeer(dir: string): Record<string, number> {
  const out = execFileSync(process.execPath, [path.join(ROOT, 'bench', 'eslint-peer.mjs'), dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
}

function runLatency(edits: number): Array<{ language: string; p50: number; p95: number; max: number; findings: number; codeAction: { p50: number; p95: number }; codeActionInvoked: { p50: number; p95: number } }> {
  const script = path.join(ROOT, 'out', 'test', 'lsp', 'latency.js');
  const out = execFileSync(process.execPath, [script, '--edits', String(edits), '--lines', '3000', '--json'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.slice(out.indexOf('['))) as ReturnType<typeof runLatency>;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// ------------------------------------------------------------------------------------------ main

interface Row {
  measure: string;
  value: string;
  target: string;
  met: boolean | null;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') {
    const [, kind, dir] = argv;
    const r = kind === 'floor' ? await childFloor(dir, DEFAULT_CONFIG)
      : kind === 'floor-tsjs' ? await childFloor(dir, tsJsConfig())
      : kind === 'scan' ? await childScan(dir, DEFAULT_CONFIG)
      : kind === 'scan-alt' ? await childScan(dir, DEFAULT_CONFIG, altWorkers())
      : kind === 'scan-tsjs' ? await childScan(dir, tsJsConfig())
      : kind === 'lsp-incremental' ? await childLspIncremental(dir)
      : await childIncremental(dir);
    process.stdout.write(JSON.stringify(r) + '\n');
    process.exit(0); // the shared worker pool is unref'd, but do not wait for it
  }
  const args = parseArgs(argv);
  const dir = path.join(ROOT, '.bench', `corpus-${args.mb}mb`);
  const log = (m: string) => {
    if (!args.json) process.stderr.write(m + '\n');
  };
  log(`building the corpus (${args.mb} MB) under ${path.relative(ROOT, dir)} …`);
  buildCorpus(dir, args.mb);

  const floors: Array<Record<string, number>> = [];
  const scans: Array<Record<string, number>> = [];
  const singles: Array<Record<string, number>> = [];
  for (let r = 0; r < args.runs; r++) {
    log(`run ${r + 1}/${args.runs}: floor, scan, scan with ${altWorkers()} worker(s)`);
    floors.push(runChild('floor', dir));
    scans.push(runChild('scan', dir));
    singles.push(runChild('scan-alt', dir));
  }
  const s1Ms = median(singles.map((s) => s.ms));
  const fMs = median(floors.map((f) => f.ms));
  const sMs = median(scans.map((s) => s.ms));
  const scanRss = Math.max(...scans.map((s) => s.peakRssMb));
  const info = { files: floors[0].files, bytes: floors[0].bytes, findings: scans[0].findings };

  let peer: { ms: number; files: number; problems: number; peakRssMb: number; scanMs: number; scanFiles: number; scanRssMb: number; floorMs: number } | undefined;
  if (!args.skipPeer) {
    log('peer: ESLint + @typescript-eslint/parser + sql/no-unsafe-query on the TS/JS part; sqlmigrate on the same part');
    const p = runPeer(dir);
    const tsScans = [runChild('scan-tsjs', dir), runChild('scan-tsjs', dir), runChild('scan-tsjs', dir)];
    const tsFloor = runChild('floor-tsjs', dir);
    peer = { ms: p.ms, files: p.files, problems: p.problems, peakRssMb: p.peakRssMb, scanMs: median(tsScans.map((s) => s.ms)), scanFiles: tsScans[0].files, scanRssMb: Math.max(...tsScans.map((s) => s.peakRssMb)), floorMs: tsFloor.ms };
  }

  log('incremental rescan after a one-file change');
  const inc = runChild('incremental', dir);
  log('language server on the corpus: reanalysis of one changed file');
  const lspInc = args.skipLsp ? undefined : runChild('lsp-incremental', dir);

  let lsp: ReturnType<typeof runLatency> | undefined;
  if (!args.skipLsp) {
    log(`language server: ${args.edits} edits of a 3,000-line file, TypeScript and Python`);
    lsp = runLatency(args.edits);
  }

  const mbytes = info.bytes / 1024 / 1024;
  const result = {
    corpus: { dir: path.relative(ROOT, dir), files: info.files, megabytes: Number(mbytes.toFixed(1)), findings: info.findings },
    runs: args.runs,
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length,
    workers: defaultWorkerCount(),
    floor: { ms: Math.round(fMs), runsMs: floors.map((f) => Math.round(f.ms)), mbPerSecond: Number((mbytes / (fMs / 1000)).toFixed(2)), peakRssMb: Math.max(...floors.map((f) => f.peakRssMb)) },
    scan: { ms: Math.round(sMs), runsMs: scans.map((s) => Math.round(s.ms)), mbPerSecond: Number((mbytes / (sMs / 1000)).toFixed(2)), peakRssMb: scanRss },
    scanOtherWorkers: { workers: altWorkers(), ms: Math.round(s1Ms), runsMs: singles.map((s) => Math.round(s.ms)), mbPerSecond: Number((mbytes / (s1Ms / 1000)).toFixed(2)), peakRssMb: Math.max(...singles.map((s) => s.peakRssMb)) },
    peer: peer && {
      tool: 'eslint 10 + @typescript-eslint/parser 8 + eslint-plugin-sql sql/no-unsafe-query',
      ms: Math.round(peer.ms),
      files: peer.files,
      problems: peer.problems,
      peakRssMb: peer.peakRssMb,
      sqlmigrateMs: Math.round(peer.scanMs),
      sqlmigrateFiles: peer.scanFiles,
      sqlmigratePeakRssMb: peer.scanRssMb,
      floorMs: Math.round(peer.floorMs),
    },
    lspIncremental: lspInc && Object.fromEntries(Object.entries(lspInc).map(([k, v]) => [k, Number(v.toFixed(1))])),
    incremental: Object.fromEntries(Object.entries(inc).map(([k, v]) => [k, typeof v === 'number' ? Number(v.toFixed(1)) : v])),
    lsp: lsp?.map((l) => ({ language: l.language, findings: l.findings, edits: args.edits, p50: round1(l.p50), p95: round1(l.p95), max: round1(l.max), codeActionP50: round1(l.codeAction.p50), codeActionP95: round1(l.codeAction.p95), menuP50: round1(l.codeActionInvoked.p50), menuP95: round1(l.codeActionInvoked.p95) })),
    ratios: {
      scanOverFloor: Number((sMs / fMs).toFixed(3)),
      scanOtherWorkersOverFloor: Number((s1Ms / fMs).toFixed(3)),
      peerOverScan: peer ? Number((peer.ms / peer.scanMs).toFixed(2)) : null,
      peerOverFloorTsJs: peer ? Number((peer.ms / peer.floorMs).toFixed(2)) : null,
    },
  };

  const rows: Row[] = [
    { measure: 'full scan / parse-only floor', value: `${result.ratios.scanOverFloor} (${result.scan.ms} / ${result.floor.ms} ms)`, target: '≤ 1.0', met: result.ratios.scanOverFloor <= 1 },
  ];
  if (result.peer) rows.push({ measure: 'ESLint peer / scan (TS/JS part)', value: `${result.ratios.peerOverScan}× (${result.peer.ms} / ${result.peer.sqlmigrateMs} ms)`, target: '≥ 5×', met: result.ratios.peerOverScan! >= 5 });
  for (const l of result.lsp ?? []) {
    rows.push({ measure: `edit → diagnostics p50 / p95 (${l.language})`, value: `${l.p50} / ${l.p95} ms`, target: 'p95 ≤ 30 ms', met: l.p95 <= 30 });
    rows.push({ measure: `code action p95, light bulb (${l.language})`, value: `${l.codeActionP95} ms`, target: '≤ 50 ms', met: l.codeActionP95 <= 50 });
    rows.push({ measure: `code action p95, menu opened (${l.language})`, value: `${l.menuP95} ms`, target: '≤ 50 ms', met: l.menuP95 <= 50 });
  }
  if (result.lspIncremental) rows.push({ measure: 'one file changed: server reanalysis p50/p95', value: `${result.lspIncremental.ms} / ${result.lspIncremental.p95} ms`, target: '≤ 50 ms', met: result.lspIncremental.p95 <= 50 });
  rows.push({ measure: 'one file changed: cached scanDirectory', value: `${result.incremental.ms} ms (restart from disk ${result.incremental.restartMs} ms)`, target: '(walks all)', met: null });
  rows.push({ measure: 'peak RSS, full scan', value: `${result.scan.peakRssMb} MB (floor ${result.floor.peakRssMb} MB${result.peer ? `, ESLint ${result.peer.peakRssMb} MB` : ''})`, target: '≤ 400 MB', met: result.scan.peakRssMb <= 400 });
  if (result.lspIncremental) rows.push({ measure: 'peak RSS, server after start-up scan', value: `${result.lspIncremental.serverPeakRssMb} MB (scan ${Math.round(result.lspIncremental.startupScanMs)} ms)`, target: '≤ 400 MB', met: result.lspIncremental.serverPeakRssMb <= 400 });

  if (args.json) {
    process.stdout.write(JSON.stringify({ ...result, table: rows }, null, 2) + '\n');
    return;
  }
  console.log(`corpus: ${result.corpus.files} files, ${result.corpus.megabytes} MB, ${result.corpus.findings} findings; ${result.cores} cores, ${result.workers} scan workers by default; floor and scan: median of ${args.runs} cold runs`);
  console.log('');
  console.log(`| measure                     |     time |   MB/s | peak RSS |`);
  console.log(`| --------------------------- | -------: | -----: | -------: |`);
  console.log(`| floor: read + parse once    | ${pad(result.floor.ms, 5)} ms | ${pad(result.floor.mbPerSecond, 6)} | ${pad(result.floor.peakRssMb, 5)} MB |`);
  console.log(`| sqlmigrate scan             | ${pad(result.scan.ms, 5)} ms | ${pad(result.scan.mbPerSecond, 6)} | ${pad(result.scan.peakRssMb, 5)} MB |`);
  console.log(`| scan, ${altWorkers()} worker thread(s)   | ${pad(result.scanOtherWorkers.ms, 5)} ms | ${pad(result.scanOtherWorkers.mbPerSecond, 6)} | ${pad(result.scanOtherWorkers.peakRssMb, 5)} MB |`);
  if (result.peer) {
    console.log(`| TS/JS part: ESLint peer     | ${pad(result.peer.ms, 5)} ms |        | ${pad(result.peer.peakRssMb, 5)} MB |`);
    console.log(`| TS/JS part: sqlmigrate scan | ${pad(result.peer.sqlmigrateMs, 5)} ms |        | ${pad(result.peer.sqlmigratePeakRssMb, 5)} MB |`);
    console.log(`| TS/JS part: floor           | ${pad(result.peer.floorMs, 5)} ms |        |          |`);
  }
  console.log('');
  console.log('| target                                  | measured                                   | target      | met |');
  console.log('| --------------------------------------- | ------------------------------------------ | ----------- | --- |');
  for (const r of rows) console.log(`| ${r.measure.padEnd(39)} | ${r.value.padEnd(42)} | ${r.target.padEnd(11)} | ${r.met === null ? '–' : r.met ? 'yes' : 'NO'} |`);
  console.log('');
  console.log(`scan / floor = ${result.ratios.scanOverFloor} (${defaultWorkerCount()} workers; with ${altWorkers()}: ${result.ratios.scanOtherWorkersOverFloor})   peer / scan = ${result.ratios.peerOverScan ?? '–'}`);
}

function pad(v: number | string, n: number): string {
  return String(v).padStart(n);
}

function round1(n: number): number {
  return Number(n.toFixed(1));
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
