/**
 * The child process of data-safety.test.ts: writes one kind of ledger file over and over with
 * the production code until it is killed. Each version `i` is recognisable in the file, and
 * `i` is printed on stdout after its write returned, so the parent can tell after a SIGKILL
 * whether the file holds the last finished version or the one in flight.
 *
 *   node kill-writer.js baseline <root>   writeBaseline(root, version i, { force: true })
 *   node kill-writer.js history <root>    appendPoints(root, [points i, i+1, ...]) in batches of 1–3
 *   node kill-writer.js cache <root> <cacheDir>   FileResultCache.set(every file, version i) + save()
 *
 * Versions continue from what the file already holds, so a chain of killed writers keeps one
 * sequence. Prints "ready <start>" once loaded.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { baselinePath, buildBaseline, countedRules, readBaseline, serialiseBaseline, writeBaseline, type LedgerFile } from '../../server/src/ledger/baseline';
import { appendPoints, historyPath, readHistory, zeroCounts, type HistoryPoint } from '../../server/src/history/points';
import type { DetectOptions } from '../../server/src/engine/types';

/** Detect options of the cache (its file name depends on them); the parent opens it with the same. */
export const CACHE_DETECT: DetectOptions = { defaultDialect: 'postgresql', wrappers: [], sessionFactories: [] };

export const FILES = 400;
const EPOCH = Date.UTC(2024, 0, 1);

/** The baseline of version i: every file's count depends on i, recordedAt encodes i. */
export function baselineFiles(i: number): LedgerFile[] {
  return Array.from({ length: FILES }, (_, k) => ({
    path: `src/module-${k}/file-${k}.ts`,
    findings: Array.from({ length: 1 + ((i + k) % 5) }, () => ({ rule: 'raw-sql' as const, kept: false })),
  }));
}

export function versionOfDate(iso: string): number {
  return (Date.parse(iso) - EPOCH) / 1000;
}

export function historyPoint(i: number): HistoryPoint {
  const files: HistoryPoint['files'] = {};
  for (let k = 0; k < FILES / 40; k++) files[`src/module-${k}/file-${k}.ts`] = { 'raw-sql': 1 + ((i + k) % 5) };
  return { commit: null, date: new Date(EPOCH + i * 1000).toISOString(), totals: { ...zeroCounts(), 'raw-sql': i }, files, kept: zeroCounts(), keptFiles: {}, filesScanned: i, source: 'history', v: 1 };
}

function main(): void {
  const [kind, root, cacheDir] = process.argv.slice(2);
  const done = (i: number) => fs.writeSync(1, `${i}\n`);
  if (kind === 'baseline') {
    let i = 1;
    try {
      const b = readBaseline(root);
      if (b) i = versionOfDate(b.recordedAt) + 1;
    } catch {
      i = 1;
    }
    fs.writeSync(1, `ready ${i}\n`);
    for (;; i++) {
      writeBaseline(root, buildBaseline(baselineFiles(i), countedRules(), { commit: null, now: new Date(EPOCH + i * 1000) }), { force: true });
      done(i);
    }
  } else if (kind === 'baseline-torn') {
    // A planted bug for the self-test: the baseline written in place, in two halves.
    let i = 1;
    try {
      const b = readBaseline(root);
      if (b) i = versionOfDate(b.recordedAt) + 1;
    } catch {
      i = 1;
    }
    fs.mkdirSync(path.join(root, '.sqlmigrate'), { recursive: true });
    fs.writeSync(1, `ready ${i}\n`);
    for (;; i++) {
      const text = serialiseBaseline(buildBaseline(baselineFiles(i), countedRules(), { commit: null, now: new Date(EPOCH + i * 1000) }));
      fs.writeFileSync(baselinePath(root), text.slice(0, text.length >> 1));
      fs.appendFileSync(baselinePath(root), text.slice(text.length >> 1));
      done(i);
    }
  } else if (kind === 'history-torn') {
    // A planted bug for the self-test: each line in two writes, and no newline repair after a crash.
    fs.mkdirSync(path.join(root, '.sqlmigrate'), { recursive: true });
    const points = fs.existsSync(historyPath(root)) ? readHistory(root).points : [];
    let i = points.length ? points[points.length - 1].filesScanned + 1 : 1;
    fs.writeSync(1, `ready ${i}\n`);
    for (;; i++) {
      const line = JSON.stringify(historyPoint(i)) + '\n';
      fs.appendFileSync(historyPath(root), line.slice(0, 40));
      fs.appendFileSync(historyPath(root), line.slice(40));
      done(i);
    }
  } else if (kind === 'history') {
    const points = readHistory(root).points;
    let i = points.length ? points[points.length - 1].filesScanned + 1 : 1;
    fs.writeSync(1, `ready ${i}\n`);
    for (;;) {
      const n = 1 + (i % 3);
      appendPoints(root, Array.from({ length: n }, (_, k) => historyPoint(i + k)));
      i += n;
      done(i - 1);
    }
  } else if (kind === 'cache') {
    // Loaded only here: the cache pulls in the engine (and the TypeScript compiler).
    const { FileResultCache } = require('../../server/src/cache') as typeof import('../../server/src/cache');
    const cache = FileResultCache.open(cacheDir, root, CACHE_DETECT);
    let i = 1;
    const first = cache.size ? cache.lookup('src/f0.ts', 100, 1000) : undefined;
    if (first && 'problems' in first) i = Number(first.problems[0].message) + 1;
    // The file's name depends on the engine build: the parent checks the one this writer uses.
    fs.writeSync(1, `ready ${i}\nfile ${cache.file}\n`);
    for (;; i++) {
      for (let k = 0; k < FILES; k++) {
        cache.set(`src/f${k}.ts`, 100, 1000, `hash-${i}-${k}`, { language: 'typescript', findings: [], problems: [{ message: String(i) }] });
      }
      if (!cache.save()) throw new Error('save failed');
      done(i);
    }
  } else {
    throw new Error(`unknown kind ${kind}`);
  }
}

if (require.main === module) main();
