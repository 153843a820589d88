/**
 * The language server persists per-file results under the cache directory it is given
 * (initializationOptions.cacheDir, or --cache-dir) and reports the same after a restart.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyseFileCached, FileResultCache } from '../../../server/src/cache';
import { initEngine } from '../../../server/src/engine/analyze';
import { DEFAULT_CONFIG, detectOptions } from '../../../server/src/engine/config';
import { ProgressRequest, type InitializationOptions } from '../../../server/src/protocol';
import { startServer, waitReady } from '../../lsp/client';

const ROOT = path.join(__dirname, '..', '..', '..', '..');

describe('result cache in the language server', function () {
  this.timeout(120_000);
  let work: string;
  let cacheDir: string;

  before(async () => {
    await initEngine();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-srvcache-'));
    fs.cpSync(path.join(ROOT, 'examples'), path.join(work, 'examples'), { recursive: true });
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-srvcache-dir-'));
  });
  after(() => {
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(cacheDir, { recursive: true, force: true });
  });

  it('analyseFileCached reuses an entry, sees a change, and works without a cache', () => {
    const file = path.join(work, 'one.ts');
    fs.writeFileSync(file, "import { Pool } from 'pg';\nconst pool = new Pool();\npool.query('SELECT id FROM t');\n");
    const past = new Date(Date.now() - 60_000);
    fs.utimesSync(file, past, past);
    const detect = detectOptions(DEFAULT_CONFIG);
    const cache = FileResultCache.memory();
    const a = analyseFileCached(cache, file, 'one.ts', DEFAULT_CONFIG.maxFileSize, detect);
    assert.ok(!('skip' in a) && a.findings.length === 1);
    assert.equal(analyseFileCached(cache, file, 'one.ts', DEFAULT_CONFIG.maxFileSize, detect), a);
    assert.equal(cache.stats.hits, 1);
    fs.appendFileSync(file, "pool.query('DELETE FROM t');\n");
    const b = analyseFileCached(cache, file, 'one.ts', DEFAULT_CONFIG.maxFileSize, detect);
    assert.ok(!('skip' in b) && b.findings.length === 2);
    const c = analyseFileCached(undefined, file, 'one.ts', DEFAULT_CONFIG.maxFileSize, detect);
    assert.deepEqual(c, b);
    fs.rmSync(file);
  });

  it('writes the cache after the start-up scan and reports the same after a restart', async () => {
    const init = { cacheDir } as InitializationOptions;
    const first = await startServer({ workspace: work, initializationOptions: init });
    let before;
    try {
      await waitReady(first, 60_000);
      before = await first.connection.sendRequest(ProgressRequest.type, {});
    } finally {
      await first.stop();
    }
    const files = fs.readdirSync(cacheDir).filter((f) => f.startsWith('scan-') && f.endsWith('.json'));
    assert.equal(files.length, 1);
    const data = JSON.parse(fs.readFileSync(path.join(cacheDir, files[0]), 'utf8')) as { entries: Record<string, unknown> };
    assert.ok(Object.keys(data.entries).length >= 5);
    const second = await startServer({ workspace: work, initializationOptions: init });
    try {
      await waitReady(second, 60_000);
      const after = await second.connection.sendRequest(ProgressRequest.type, {});
      assert.ok(before.remaining > 0);
      assert.deepEqual(after.folders.map((f) => [f.remaining, f.kept, f.files.length]), before.folders.map((f) => [f.remaining, f.kept, f.files.length]));
    } finally {
      await second.stop();
    }
  });
});
