/**
 * Scan throughput benchmark: `npm run bench [-- --mb 20 --json]`.
 *
 * Builds (once, cached under .bench/) a corpus of at least `--mb` megabytes of mixed
 * TS/JS/Python: the project's own fixtures and examples (the files with SQL, renamed per
 * copy) mixed with real-world JavaScript and TypeScript from installed packages and
 * generated Python modules without SQL. Then measures, in the same run:
 *   - floor: reading every file and parsing it once with the same parsers (TypeScript's
 *     createSourceFile, tree-sitter-python), no detection;
 *   - scan:  `scanDirectory` over the same tree (prefilter, detection, SQL analysis);
 * and prints files/s, MB/s and the ratio scan/floor. Speed is reported as a ratio against
 * the floor measured in the same run, because these machines are noisy.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { initEngine } from '../server/src/engine/analyze';
import { DEFAULT_CONFIG } from '../server/src/engine/config';
import { listFiles, scanDirectory } from '../server/src/engine/scan';
import { PathRules } from '../server/src/engine/config';
import { Language, Parser } from 'web-tree-sitter';

let pyParser: Parser | undefined;
async function pythonParser(): Promise<Parser> {
  if (!pyParser) {
    await Parser.init();
    const lang = await Language.load(require.resolve('tree-sitter-python/tree-sitter-python.wasm'));
    pyParser = new Parser();
    pyParser.setLanguage(lang);
  }
  return pyParser;
}

const ROOT = path.join(__dirname, '..', '..');

interface Args {
  mb: number;
  json: boolean;
  runs: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { mb: 20, json: false, runs: 3 };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--mb') a.mb = Number(argv[++i]);
    else if (argv[i] === '--json') a.json = true;
    else if (argv[i] === '--runs') a.runs = Number(argv[++i]);
  }
  return a;
}

function* walk(dir: string): Generator<string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
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

function buildCorpus(dir: string, mb: number): void {
  const marker = path.join(dir, '.complete');
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === String(mb)) return;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const target = mb * 1024 * 1024;
  const withSql = sqlSources().map((f) => ({ ext: path.extname(f), text: fs.readFileSync(f, 'utf8') }));
  const plain = realWorldSources().map((f) => ({ ext: path.extname(f), text: fs.readFileSync(f, 'utf8') }));
  let total = 0;
  let i = 0;
  while (total < target) {
    const pkg = `pkg${String(Math.floor(i / 200)).padStart(3, '0')}`;
    // About one file in five holds SQL, the rest is ordinary code: TS/JS from packages, and Python.
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
  fs.writeFileSync(marker, String(mb));
}

async function floor(dir: string): Promise<{ ms: number; files: number; bytes: number }> {
  const py = await pythonParser();
  const skipped: Array<{ file: string; reason: string }> = [];
  const files = listFiles(dir, new PathRules(DEFAULT_CONFIG), skipped);
  const t0 = process.hrtime.bigint();
  let bytes = 0;
  for (const f of files) {
    const text = fs.readFileSync(f.abs, 'utf8');
    bytes += text.length;
    if (f.rel.endsWith('.py')) py.parse(text)?.delete();
    else ts.createSourceFile(f.rel, text, ts.ScriptTarget.Latest, true, scriptKind(f.rel));
  }
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, files: files.length, bytes };
}

function scriptKind(file: string): ts.ScriptKind {
  if (file.endsWith('.tsx')) return ts.ScriptKind.TSX;
  if (file.endsWith('.jsx')) return ts.ScriptKind.JSX;
  if (/\.[cm]?js$/.test(file)) return ts.ScriptKind.JS;
  return ts.ScriptKind.TS;
}

async function scan(dir: string): Promise<{ ms: number; findings: number; files: number }> {
  const t0 = process.hrtime.bigint();
  const report = await scanDirectory(dir, { config: DEFAULT_CONFIG });
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, findings: report.findings.length, files: report.summary.filesScanned };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const dir = path.join(ROOT, '.bench', `corpus-${args.mb}mb`);
  buildCorpus(dir, args.mb);
  await initEngine();
  // Warm up both paths once (JIT, parser initialisation), then alternate runs.
  await floor(dir);
  await scan(dir);
  const floors: number[] = [];
  const scans: number[] = [];
  let info = { files: 0, bytes: 0, findings: 0 };
  for (let r = 0; r < args.runs; r++) {
    const f = await floor(dir);
    const s = await scan(dir);
    floors.push(f.ms);
    scans.push(s.ms);
    info = { files: f.files, bytes: f.bytes, findings: s.findings };
  }
  const fMs = median(floors);
  const sMs = median(scans);
  const mbytes = info.bytes / 1024 / 1024;
  const result = {
    corpus: { files: info.files, megabytes: Number(mbytes.toFixed(1)), findings: info.findings },
    floor: { ms: Math.round(fMs), filesPerSecond: Math.round(info.files / (fMs / 1000)), mbPerSecond: Number((mbytes / (fMs / 1000)).toFixed(2)) },
    scan: { ms: Math.round(sMs), filesPerSecond: Math.round(info.files / (sMs / 1000)), mbPerSecond: Number((mbytes / (sMs / 1000)).toFixed(2)) },
    ratio: { scanOverFloor: Number((sMs / fMs).toFixed(3)) },
    runs: args.runs,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  if (args.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return;
  }
  console.log(`corpus: ${result.corpus.files} files, ${result.corpus.megabytes} MB, ${result.corpus.findings} findings (median of ${args.runs} runs)`);
  console.log('');
  console.log('| measure                     |    time | files/s |   MB/s |');
  console.log('| --------------------------- | ------: | ------: | -----: |');
  console.log(`| floor: read + parse once    | ${String(result.floor.ms).padStart(5)} ms | ${String(result.floor.filesPerSecond).padStart(7)} | ${String(result.floor.mbPerSecond).padStart(6)} |`);
  console.log(`| sqlmigrate scan             | ${String(result.scan.ms).padStart(5)} ms | ${String(result.scan.filesPerSecond).padStart(7)} | ${String(result.scan.mbPerSecond).padStart(6)} |`);
  console.log('');
  console.log(`scan / floor = ${result.ratio.scanOverFloor}   (peak RSS ${result.peakRssMb} MB)`);
}

void main();
