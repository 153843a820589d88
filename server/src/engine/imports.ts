/**
 * Drivers across files. A call such as `pool.query(...)` in jobs.ts does not tell its driver
 * when `pool` comes from another module of the project (`import { pool } from './pool'`); the
 * module that creates it does (`export const pool = new Pool()` with `Pool` from 'pg'). The
 * detector records both halves per file (`driverExports`, and `via` on findings whose driver is
 * unknown); this index joins them once the whole tree is known.
 *
 *   const index = new DriverIndex();
 *   index.add('src/db/pool.ts', { pool: 'pg' });
 *   index.resolve('src/db/jobs.ts', finding);   // finding.driver 'unknown' → 'pg'
 *
 * Only relative imports are followed (`./pool`, `../db/index.js`); packages and path aliases are
 * not, and a name exported with different drivers by candidates of the same path stays unknown.
 */
import * as path from 'node:path';
import { dialectForDriver, rawSqlMessage } from './detect/common';
import { analyzeSql } from './sql/analyze';
import type { Finding } from './types';

const SOURCE_EXT = /\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/i;

export class DriverIndex {
  private readonly modules = new Map<string, Record<string, string>>();

  get size(): number {
    return this.modules.size;
  }

  /** Records what `rel` (workspace-relative, `/`-separated) exports bound to a driver. */
  add(rel: string, exports: Record<string, string> | undefined): void {
    if (!exports || !Object.keys(exports).length) return;
    this.modules.set(rel.replace(SOURCE_EXT, ''), exports);
  }

  remove(rel: string): void {
    this.modules.delete(rel.replace(SOURCE_EXT, ''));
  }

  /** The driver `name` has when imported into `fromRel` from `specifier`, if known. */
  driverOf(fromRel: string, specifier: string, name: string): string | undefined {
    if (!specifier.startsWith('.')) return undefined;
    const base = path.posix.normalize(path.posix.join(path.posix.dirname(fromRel), specifier));
    if (base.startsWith('../')) return undefined;
    const stem = base.replace(SOURCE_EXT, '');
    for (const key of [stem, `${base}/index`, `${stem}/index`]) {
      const exports = this.modules.get(key);
      if (exports && Object.prototype.hasOwnProperty.call(exports, name)) return exports[name];
    }
    return undefined;
  }

  /** A copy of `finding` with its driver resolved, or `finding` itself when nothing changes (cached analyses are shared, never mutated). */
  resolved(fromRel: string, finding: Finding): Finding {
    if (finding.driver !== 'unknown' || !finding.via) return finding;
    const copy = { ...finding };
    return this.resolve(fromRel, copy) ? copy : finding;
  }

  /**
   * Gives a finding of `fromRel` whose driver is unknown the driver of the import its receiver
   * came from; the statement is analysed again when that driver's dialect differs. Returns true
   * when the finding changed.
   */
  resolve(fromRel: string, finding: Finding): boolean {
    if (finding.driver !== 'unknown' || !finding.via) return false;
    const driver = this.driverOf(fromRel, finding.via.module, finding.via.name);
    if (!driver) return false;
    finding.driver = driver;
    const dialect = dialectForDriver(driver);
    if (finding.rule === 'raw-sql' && finding.sql && finding.info && dialect && dialect !== finding.info.dialect) {
      const info = analyzeSql(finding.sql.text, dialect);
      finding.info = info;
      finding.kind = info.kind;
      finding.tables = info.tables;
      finding.complexity = info.complexity;
      finding.message = rawSqlMessage({ callee: finding.callee ?? finding.driver, sql: finding.sql }, info);
    }
    return true;
  }
}
