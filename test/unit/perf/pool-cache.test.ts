/**
 * Correctness of the scan's worker pool and per-file cache (not speed: that is `npm run bench`).
 * A pooled scan, a cached scan and a sequential scan of the same tree report the same thing;
 * the cache reuses what did not change and only what did not change.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileResultCache } from '../../../server/src/cache';
import { DEFAULT_CONFIG, detectOptions, type Config } from '../../../server/src/engine/config';
import { closeSharedPool } from '../../../server/src/engine/pool';
import { scanDirectory, type ScanReport } from '../../../server/src/engine/scan';

const ROOT = path.join(__dirname, '..', '..', '..', '..');

function* walk(dir: string): Generator<string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.isFile()) yield p;
  }
}

/** A tree of about 150 files: every fixture and example three times over, plus a binary file, a model file elsewhere. */
function makeTree(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-perf-'));
  const sources = [...walk(path.join(ROOT, 'test', 'fixtures', 'detect')), ...walk(path.join(ROOT, 'examples'))].filter((f) => /\.(ts|tsx|js|jsx|py)$/.test(f)).sort();
  for (let copy = 0; copy < 3; copy++) {
    for (const f of sources) {
      const rel = path.join(`copy${copy}`, path.relative(ROOT, f));
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.copyFileSync(f, path.join(dir, rel));
    }
  }
  fs.writeFileSync(path.join(dir, 'binary.py'), Buffer.from([0x69, 0x00, 0x01]));
  fs.writeFileSync(path.join(dir, 'zz_models.py'), 'class ZzWidget(Base):\n    __tablename__ = "zz_widgets"\n');
  fs.writeFileSync(path.join(dir, 'uses.py'), 'def f(session):\n    return session.query(ZzWidget).all()\n');
  return dir;
}

const json = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown;

function age(dir: string): void {
  const past = new Date(Date.now() - 60_000);
  for (const f of walk(dir)) fs.utimesSync(f, past, past);
}

describe('scan worker pool and result cache', function () {
  this.timeout(120_000);
  let dir: string;
  let sequential: ScanReport;
  const config: Config = DEFAULT_CONFIG;

  before(async () => {
    dir = makeTree();
    age(dir);
    sequential = await scanDirectory(dir, { config, workers: 0 });
  });

  after(async () => {
    await closeSharedPool();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the tree is big enough to use the pool and has findings, skips and a cross-file model', () => {
    assert.ok(sequential.summary.filesScanned >= 100, `${sequential.summary.filesScanned} files`);
    assert.ok(sequential.findings.length > 100);
    assert.ok(sequential.summary.skipped.some((s) => s.file === 'binary.py'));
    const q = sequential.findings.find((f) => f.file === 'uses.py' && f.rule === 'session-legacy-query');
    assert.deepEqual(q?.tables, ['zz_widgets']);
  });

  it('a pooled scan reports exactly what a sequential scan does, in the same order', async () => {
    const progress: number[] = [];
    const pooled = await scanDirectory(dir, { config, workers: 2, onProgress: (done) => progress.push(done) });
    assert.deepEqual(pooled, sequential);
    assert.ok(progress.length >= pooled.summary.filesScanned);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i] > progress[i - 1], 'progress is reported in list order');
  });

  it('a cached rescan reuses every entry and reports the same', async () => {
    const cache = FileResultCache.memory();
    const first = await scanDirectory(dir, { config, workers: 2, cache });
    assert.deepEqual(first, sequential);
    assert.equal(cache.stats.hits, 0);
    const second = await scanDirectory(dir, { config, workers: 0, cache });
    assert.deepEqual(second, sequential);
    assert.equal(cache.stats.hits, first.summary.filesScanned + first.summary.skipped.length);
  });

  it('a changed file is analysed again, and only it; a touched but unchanged file is recognised by its hash', async () => {
    const work = makeTree();
    try {
      age(work);
      const cache = FileResultCache.memory();
      await scanDirectory(work, { config, workers: 0, cache });
      // Change one file, touch another without changing it.
      const changed = path.join(work, 'uses.py');
      fs.writeFileSync(changed, 'def f(cur):\n    cur.execute("DELETE FROM jobs WHERE id = 1")\n');
      const touched = path.join(work, 'zz_models.py');
      fs.utimesSync(touched, new Date(), new Date());
      const stored = cache.stats.stored;
      const touchedBefore = cache.stats.touched;
      const again = await scanDirectory(work, { config, workers: 0, cache });
      assert.equal(cache.stats.stored - stored, 1, 'only the changed file is analysed');
      assert.equal(cache.stats.touched - touchedBefore, 1, 'the touched file is matched by content hash');
      const fresh = await scanDirectory(work, { config, workers: 0 });
      assert.deepEqual(again, fresh);
      assert.ok(again.findings.some((f) => f.file === 'uses.py' && f.kind === 'delete'));
      // A deleted file leaves the cache and the report.
      fs.rmSync(changed);
      const afterDelete = await scanDirectory(work, { config, workers: 0, cache });
      assert.deepEqual(afterDelete, await scanDirectory(work, { config, workers: 0 }));
      assert.equal(cache.hashOf('uses.py'), undefined);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it('persists across restarts, keyed by root and detect options', async () => {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-cache-'));
    try {
      const a = FileResultCache.open(cacheDir, dir, detectOptions(config));
      await scanDirectory(dir, { config, workers: 2, cache: a });
      assert.equal(a.save(), true);
      const b = FileResultCache.open(cacheDir, dir, detectOptions(config));
      assert.equal(b.size, a.size);
      // Through JSON, properties that were undefined are absent: compare as the JSON report does.
      assert.deepEqual(json(await scanDirectory(dir, { config, workers: 0, cache: b })), json(sequential));
      assert.equal(b.stats.stored, 0);
      // Other detect options: another cache file, empty.
      const other = FileResultCache.open(cacheDir, dir, { ...detectOptions(config), sessionFactories: ['make_session'] });
      assert.equal(other.size, 0);
      // A corrupt file is ignored.
      fs.writeFileSync(a.file, '{not json');
      assert.equal(FileResultCache.open(cacheDir, dir, detectOptions(config)).size, 0);
    } finally {
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});
