/**
 * Data safety: the baseline (writeBaseline), the history (appendPoints) and the scan cache
 * (FileResultCache.save) survive their writer being killed at any moment. A child process
 * (kill-writer.ts) writes one kind of file in a loop with the production code; this test
 * SIGKILLs it after a random delay, many times, and after every kill checks that the file is
 * the last version the child finished or the one it was writing — parsing, validating, never
 * torn. History: every complete line parses and only a trailing partial line may be skipped.
 * Also: a corrupt baseline is reported, never overwritten (by the library, the CLI and the
 * language server), and a stale history lock left by a killed run does not block the next.
 *
 * SQLMIGRATE_KILLS sets the kills per file kind (CI default 100; the cache, whose writer loads
 * the engine, gets a quarter of them, at least 20).
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileResultCache } from '../../server/src/cache';
import { BASELINE_FILE, baselinePath, buildBaseline, countedRules, LedgerError, readBaseline, runBaselineCommand, serialiseBaseline, writeBaseline } from '../../server/src/ledger';
import { HISTORY_FILE, historyPath, parseHistory } from '../../server/src/history/points';
import { baselineFiles, CACHE_DETECT, FILES, versionOfDate } from './kill-writer';
import { TestRepo } from '../unit/history/repo';
import { envInt, prng, report } from './support';

const WRITER = path.join(__dirname, 'kill-writer.js');

interface KillResult {
  /** The start version the child announced. */
  start: number;
  /** The last version whose write returned, or start − 1. */
  lastDone: number;
  /** The file the writer said it writes (the cache's name depends on the engine build). */
  file?: string;
}

/** Starts a writer, waits until it is ready, lets it write for `delayMs`, SIGKILLs it and waits for it to be gone. */
function killAfter(args: string[], delayMs: number): Promise<KillResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    const hang = setTimeout(() => child.kill('SIGKILL'), 30000);
    child.stdout.on('data', (d) => {
      out += String(d);
      if (!timer && /^ready \d+\n/.test(out)) timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    child.stderr.on('data', (d) => (err += String(d)));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(hang);
      if (timer) clearTimeout(timer);
      const m = /^ready (\d+)\n/.exec(out);
      if (!m) return reject(new Error(`the writer never became ready (exit ${code} ${signal}): ${err}`));
      if (signal !== 'SIGKILL') return reject(new Error(`the writer stopped by itself (exit ${code}): ${err}`));
      const nums = out.slice(m[0].length).split('\n').filter((l) => /^\d+$/.test(l)).map(Number);
      const start = Number(m[1]);
      resolve({ start, lastDone: nums.length ? nums[nums.length - 1] : start - 1, file: /^file (.*)$/m.exec(out)?.[1] });
    });
  });
}

const made: string[] = [];
const tmpdir = (p: string) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `sqlmigrate-kill-${p}-`));
  made.push(d);
  return d;
};
const KILLS = envInt('SQLMIGRATE_KILLS', 100);
const SEED = Number(process.env.SQLMIGRATE_KILL_SEED) || 0x5eed;

describe('reliability: data safety under SIGKILL', function () {
  this.timeout(170000);
  after(() => {
    for (const d of made) fs.rmSync(d, { recursive: true, force: true });
  });

  /** What is wrong with the baseline after a kill, or undefined. */
  function baselineProblem(root: string, r: KillResult): { problem?: string; inFlight?: boolean } {
    let b;
    try {
      b = readBaseline(root);
    } catch (e) {
      return { problem: `the baseline cannot be read after a kill: ${(e as Error).message.slice(0, 200)}` };
    }
    if (!b) return r.lastDone === 0 ? {} : { problem: `the baseline vanished after version ${r.lastDone}` };
    const v = versionOfDate(b.recordedAt);
    if (v !== r.lastDone && v !== r.lastDone + 1) return { problem: `the file holds version ${v}; the writer had finished ${r.lastDone}` };
    if (v < r.start - 1) return { problem: `the file went back to version ${v} (the writer started at ${r.start})` };
    if (JSON.stringify(b) !== JSON.stringify(buildBaseline(baselineFiles(v), countedRules(), { commit: null, now: new Date(b.recordedAt) }))) return { problem: `the content is not version ${v}'s` };
    return { inFlight: v === r.lastDone + 1 };
  }

  /** What is wrong with the history after a kill, or undefined; `torn` collects the partial lines kills left. */
  function historyProblem(root: string, r: KillResult, torn: Set<string>): { problem?: string; partial?: boolean } {
    let text = '';
    try {
      text = fs.readFileSync(historyPath(root), 'utf8');
    } catch {
      return r.lastDone === 0 ? {} : { problem: `${HISTORY_FILE} vanished` };
    }
    const h = parseHistory(text);
    const lines = text.split('\n');
    let partial = false;
    for (const bad of h.invalid) {
      const line = lines[bad.line - 1];
      const trailingPartial = bad.line === lines.length && !text.endsWith('\n');
      if (!trailingPartial && !torn.has(line)) return { problem: `line ${bad.line} is unusable (${bad.reason}) and is not a partial line a kill left: ${line.slice(0, 120)}` };
      if (trailingPartial && !torn.has(line)) {
        torn.add(line);
        partial = true;
      }
    }
    const seq = h.points.map((p) => p.filesScanned);
    const gap = seq.findIndex((n, i) => n !== i + 1);
    if (gap >= 0) return { problem: `point ${gap + 1} holds ${seq[gap]} (lost or duplicated points)` };
    if (seq.length < r.lastDone || seq.length > r.lastDone + 3) return { problem: `${seq.length} points; the writer had finished ${r.lastDone}` };
    return { partial };
  }

  it('the baseline is always the old or the new version', async () => {
    const root = tmpdir('baseline');
    const rand = prng(SEED);
    let inFlight = 0;
    let tmpMax = 0;
    for (let k = 0; k < KILLS; k++) {
      const r = await killAfter(['baseline', root], Math.floor(rand() * 25));
      const c = baselineProblem(root, r);
      assert.equal(c.problem, undefined, `kill ${k + 1}: ${c.problem}`);
      if (c.inFlight) inFlight++;
      tmpMax = Math.max(tmpMax, fs.readdirSync(path.dirname(baselinePath(root))).filter((f) => f.endsWith('.tmp')).length);
    }
    const last = versionOfDate(readBaseline(root)!.recordedAt);
    // The temporary files killed writers left are removed by the next write that completes.
    writeBaseline(root, buildBaseline(baselineFiles(last + 1), countedRules(), { commit: null }), { force: true });
    const left = fs.readdirSync(path.dirname(baselinePath(root))).filter((f) => f !== 'baseline.json');
    report('baseline writes killed', { kills: KILLS, survived: KILLS, newVersionNotYetReported: inFlight, lastVersion: last, mostTemporaryFilesSeen: tmpMax, leftAfterAWrite: left.length });
    assert.deepEqual(left, [], 'temporary files of killed writers pile up in .sqlmigrate/');
  });

  it('the checks catch a writer that is not atomic (planted bugs)', async () => {
    const rand = prng(SEED + 3);
    const caught = async (kind: string, check: (root: string, r: KillResult) => string | undefined) => {
      const root = tmpdir(kind);
      for (let k = 1; k <= 60; k++) {
        const problem = check(root, await killAfter([kind, root], Math.floor(rand() * 25)));
        if (problem) return k;
      }
      return 0;
    };
    const b = await caught('baseline-torn', (root, r) => baselineProblem(root, r).problem);
    const torn = new Set<string>();
    const h = await caught('history-torn', (root, r) => historyProblem(root, r, torn).problem);
    report('planted non-atomic writers', { baselineCaughtAtKill: b, historyCaughtAtKill: h });
    assert.ok(b > 0, 'a baseline written in place in two halves survived 60 kills unnoticed');
    assert.ok(h > 0, 'history lines written in two pieces without newline repair survived 60 kills unnoticed');
  });

  it('the history keeps every complete line; only a trailing partial line is skipped', async () => {
    const root = tmpdir('history');
    const rand = prng(SEED + 1);
    const torn = new Set<string>();
    let partialSeen = 0;
    for (let k = 0; k < KILLS; k++) {
      const r = await killAfter(['history', root], Math.floor(rand() * 12));
      const c = historyProblem(root, r, torn);
      assert.equal(c.problem, undefined, `kill ${k + 1}: ${c.problem}`);
      if (c.partial) partialSeen++;
    }
    const final = parseHistory(fs.readFileSync(historyPath(root), 'utf8'));
    report('history appends killed', { kills: KILLS, survived: KILLS, points: final.points.length, partialLinesLeftByKills: partialSeen, unusableLines: final.invalid.length });
  });

  it('the scan cache is always the old or the new version', async () => {
    const kills = Math.max(20, Math.floor(KILLS / 4));
    const root = tmpdir('cache-root');
    const cacheDir = path.join(root, 'cache');
    const rand = prng(SEED + 2);
    let inFlight = 0;
    for (let k = 0; k < kills; k++) {
      const r = await killAfter(['cache', root, cacheDir], Math.floor(rand() * 40));
      // Another build of the engine during the run (a rebuild of out/) names a new file: each
      // writer's own file is checked.
      assert.ok(r.file && path.dirname(r.file) === cacheDir, `kill ${k + 1}: the writer did not name its cache file`);
      if (!fs.existsSync(r.file)) {
        assert.equal(r.lastDone, 0, `kill ${k + 1}: the cache file vanished`);
        continue;
      }
      const data = JSON.parse(fs.readFileSync(r.file, 'utf8')) as { entries: Record<string, [number, number, string, { problems: Array<{ message: string }> }]> };
      const versions = new Set(Object.values(data.entries).map((e) => Number(e[3].problems[0].message)));
      assert.equal(versions.size, 1, `kill ${k + 1}: the cache mixes versions ${[...versions].join(', ')}`);
      const v = [...versions][0];
      assert.ok(v === r.lastDone || v === r.lastDone + 1, `kill ${k + 1}: the cache holds version ${v}; the writer had finished ${r.lastDone}`);
      assert.equal(Object.keys(data.entries).length, FILES);
      const mine = FileResultCache.open(cacheDir, root, CACHE_DETECT);
      if (mine.file === r.file) assert.equal(mine.size, FILES, `kill ${k + 1}: the cache does not load`);
      if (v === r.lastDone + 1) inFlight++;
    }
    report('scan cache saves killed', { kills, survived: kills, newVersionNotYetReported: inFlight });
  });

  it('a killed `sqlmigrate history` run leaves whole lines and does not block the next run', async () => {
    const repo = new TestRepo('sqlmigrate-kill-history-');
    made.push(repo.dir);
    const COMMITS = 60;
    for (let c = 1; c <= COMMITS; c++) {
      const files: Record<string, string> = {};
      for (let f = 0; f < 1 + (c % 4); f++) files[`src/f${f}.ts`] = `import { Pool } from 'pg';\nconst pool = new Pool();\n${Array.from({ length: c }, (_, i) => `pool.query('SELECT ${i} FROM t${f}');`).join('\n')}\n`;
      repo.commit(`c${c}`, `2024-01-${String(1 + (c % 28)).padStart(2, '0')}T10:00:00Z`, files);
    }
    const rand = prng(SEED + 4);
    const bin = path.join(__dirname, '..', '..', '..', 'bin', 'sqlmigrate.js');
    const run = (killAfterMs?: number) =>
      new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [bin, 'history', repo.dir], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += String(d)));
        const t = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        child.on('close', (code, signal) => {
          if (t) clearTimeout(t);
          resolve({ code, signal, stderr });
        });
      });
    const kills = Math.max(6, Math.floor(KILLS / 12));
    const torn = new Set<string>();
    let killed = 0;
    for (let k = 0; k < kills; k++) {
      const r = await run(150 + Math.floor(rand() * 700));
      if (r.signal === 'SIGKILL') killed++;
      else assert.equal(r.code, 0, `run ${k + 1} failed: ${r.stderr}`);
      const text = fs.existsSync(historyPath(repo.dir)) ? fs.readFileSync(historyPath(repo.dir), 'utf8') : '';
      const h = parseHistory(text);
      const lines = text.split('\n');
      for (const bad of h.invalid) {
        const line = lines[bad.line - 1];
        const trailing = bad.line === lines.length && !text.endsWith('\n');
        assert.ok(trailing || torn.has(line), `run ${k + 1}: line ${bad.line} is unusable: ${bad.reason}`);
        torn.add(line);
      }
    }
    const last = await run();
    assert.equal(last.code, 0, `the run after ${killed} killed runs failed: ${last.stderr}`);
    const h = parseHistory(fs.readFileSync(historyPath(repo.dir), 'utf8'));
    const commits = h.points.map((p) => p.commit);
    assert.equal(new Set(commits).size, commits.length, 'a commit was recorded twice');
    assert.deepEqual([...commits].sort(), [...repo.commits].sort(), 'every commit is recorded once');
    report('history runs killed', { runs: kills, killed, commits: COMMITS, points: h.points.length, unusableLines: h.invalid.length });
  });

  it('a killed `sqlmigrate fix` leaves every source file as it was or as a complete run writes it', async () => {
    const FIXTURES = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'rewrite', 'knex');
    const bin = path.join(__dirname, '..', '..', '..', 'bin', 'sqlmigrate.js');
    const makeTree = () => {
      const dir = tmpdir('fix');
      for (let copy = 0; copy < 3; copy++) {
        for (const driver of fs.readdirSync(FIXTURES)) {
          const src = path.join(FIXTURES, driver);
          if (!fs.statSync(src).isDirectory()) continue;
          fs.mkdirSync(path.join(dir, `c${copy}`, driver), { recursive: true });
          for (const f of fs.readdirSync(src)) if (!/\.output\./.test(f)) fs.copyFileSync(path.join(src, f), path.join(dir, `c${copy}`, driver, f));
        }
      }
      fs.writeFileSync(path.join(dir, '.sqlmigrate.json'), JSON.stringify({ wrappers: ['DB.query'], rewrite: { knex: { instance: 'db', import: './db' } } }));
      return dir;
    };
    const snapshot = (dir: string) => {
      const out = new Map<string, string>();
      const walk = (rel: string) => {
        for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
          const r = rel ? `${rel}/${e.name}` : e.name;
          if (e.isDirectory()) walk(r);
          else out.set(r, fs.readFileSync(path.join(dir, r), 'utf8'));
        }
      };
      walk('');
      return out;
    };
    const run = (dir: string, killAfterMs?: number) =>
      new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [bin, 'fix', dir, '--target', 'knex'], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += String(d)));
        const t = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        child.on('close', (code, signal) => {
          if (t) clearTimeout(t);
          resolve({ code, signal, stderr });
        });
      });
    // Every state a file can legitimately be in: the original, and after each complete run until stable.
    const ref = makeTree();
    const states = new Map<string, Set<string>>();
    const add = (snap: Map<string, string>) => snap.forEach((text, rel) => (states.get(rel) ?? states.set(rel, new Set()).get(rel)!).add(text));
    add(snapshot(ref));
    for (let pass = 0; pass < 5; pass++) {
      const before = JSON.stringify([...snapshot(ref)]);
      const r = await run(ref);
      assert.equal(r.code, 0, r.stderr);
      add(snapshot(ref));
      if (JSON.stringify([...snapshot(ref)]) === before) break;
    }
    const changed = [...states.values()].filter((v) => v.size > 1).length;
    assert.ok(changed > 20, `only ${changed} files are rewritten by fix`);

    const dir = makeTree();
    const rand = prng(SEED + 5);
    const kills = Math.max(6, Math.floor(KILLS / 12));
    let killed = 0;
    let tmpSeen = 0;
    for (let k = 0; k < kills; k++) {
      const r = await run(dir, 250 + Math.floor(rand() * 900));
      if (r.signal === 'SIGKILL') killed++;
      else assert.equal(r.code, 0, r.stderr);
      for (const [rel, text] of snapshot(dir)) {
        if (/\.tmp$/.test(rel)) {
          tmpSeen++;
          continue;
        }
        assert.ok(states.get(rel)?.has(text), `kill ${k + 1}: ${rel} is neither its original nor a complete run's version:\n${text.slice(0, 400)}`);
      }
    }
    const last = await run(dir);
    assert.equal(last.code, 0, last.stderr);
    const leftovers = [...snapshot(dir).keys()].filter((rel) => /\.tmp$/.test(rel));
    report('fix runs killed', { runs: kills, killed, files: states.size, filesRewritten: changed, temporaryFilesSeenAfterKills: tmpSeen, temporaryFilesLeftInTheSourceTree: leftovers.length });
    for (const [rel, text] of snapshot(dir)) if (!/\.tmp$/.test(rel)) assert.ok(states.get(rel)?.has(text), `${rel} after a complete run`);
    assert.deepEqual(leftovers, [], 'killed fix runs leave temporary files in the source tree');
    // The check itself: a file written in place and cut by a kill would be caught.
    const [rel, versions] = [...states].find(([, v]) => v.size > 1)!;
    const torn = [...versions][1].slice(0, [...versions][1].length >> 1);
    assert.ok(!versions.has(torn), `a torn ${rel} would pass unnoticed`);
  });

  describe('a corrupt baseline is reported, never overwritten', () => {
    // test/lsp/ledger.test.ts covers merge-conflict markers through writeBaseline; these are the
    // other ways a file goes bad, through the library and through the CLI without --force.
    const good = serialiseBaseline(buildBaseline(baselineFiles(3), countedRules(), { commit: null }));
    const CASES: Array<[string, string, RegExp]> = [
      ['empty', '', /not valid JSON/],
      ['truncated (a torn write)', good.slice(0, Math.floor(good.length / 2)), /not valid JSON/],
      ['a BOM and garbage', '\uFEFF\u0000\u0001garbage', /not valid JSON/],
      ['an array', '[]', /not a sqlmigrate baseline/],
      ['a count edited by hand', good.replace(/"remaining": (\d+)/, (_m, n) => `"remaining": ${Number(n) + 1}`), /changed by hand/],
      ['a negative count', good.replace(/"kept": 0/, '"kept": -1'), /not a sqlmigrate baseline/],
      ['an unknown rule', good.replace('"raw-sql"', '"rm-rf"'), /not a sqlmigrate baseline/],
      ['prototype keys', '{"__proto__": {"version": 1}, "constructor": {"prototype": {}}}', /not a sqlmigrate baseline/],
    ];
    for (const [name, text, message] of CASES) {
      it(name, async () => {
        const root = tmpdir('corrupt');
        fs.mkdirSync(path.join(root, '.sqlmigrate'));
        fs.writeFileSync(baselinePath(root), text);
        assert.throws(() => readBaseline(root), (e: unknown) => e instanceof LedgerError && message.test(e.message) && e.message.includes(BASELINE_FILE));
        assert.throws(() => writeBaseline(root, buildBaseline([], countedRules())), (e: unknown) => e instanceof LedgerError && /left as it is/.test(e.message));
        let stderr = '';
        const code = await runBaselineCommand([root], { stdout: () => undefined, stderr: (s: string) => void (stderr += s) });
        assert.equal(code, 1, `the CLI exits 1 (${stderr})`);
        assert.match(stderr, /--force/);
        assert.equal(fs.readFileSync(baselinePath(root), 'utf8'), text, 'the file was changed');
        assert.ok(!('version' in ({} as object)), 'the prototype was not polluted');
      });
    }
  });
});
