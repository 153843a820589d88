/**
 * Property test: random CRUD statements from a grammar, per dialect (SQLite via better-sqlite3,
 * PostgreSQL via PGlite, MySQL via mysql2 on a throwaway MariaDB server), planned, rendered and verified; every verified rewrite is executed
 * next to the original with the same random values. A rewrite that verifies but returns other
 * rows, another affected count or other table contents fails the test.
 * Then a quarter as many again with a schema mapping (items → goods, name → label, status →
 * state, 'pending' → 'queued', 'done' → 'finished'): the original on items, the rewrite on goods
 * (migrated by the mapping); refusals are fine, a verified mapped rewrite with other rows is not.
 * Default 2,000 statements per dialect; SQLMIGRATE_PROPERTY_RUNS=20000 for a longer run,
 * SQLMIGRATE_PROPERTY_SEED to replay a seed.
 */
import * as assert from 'node:assert/strict';
import { openMysql, openPostgres, openSqlite, type Db } from './db';
import { trial, type TrialResult } from './run-rewrite';
import type { SchemaMapping } from '../../server/src/engine/rewrite/plan';

const MAPPING: SchemaMapping = { items: { table: 'goods', columns: { name: 'label', status: 'state' }, values: { status: { pending: 'queued', done: 'finished' } } } };
const GOODS = [
  'CREATE TABLE goods (id INTEGER PRIMARY KEY, label TEXT, qty INTEGER, state TEXT, owner_id INTEGER, created_at TEXT)',
  "INSERT INTO goods (id, label, qty, state, owner_id, created_at) SELECT id, name, qty, CASE status WHEN 'pending' THEN 'queued' WHEN 'done' THEN 'finished' ELSE status END, owner_id, created_at FROM items",
];

const RUNS = Number(process.env.SQLMIGRATE_PROPERTY_RUNS ?? 2000);
const SEED = Number(process.env.SQLMIGRATE_PROPERTY_SEED ?? 20240601);

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Col = { name: string; type: 'int' | 'text' };
const ITEMS: Col[] = [
  { name: 'id', type: 'int' }, { name: 'name', type: 'text' }, { name: 'qty', type: 'int' },
  { name: 'status', type: 'text' }, { name: 'owner_id', type: 'int' }, { name: 'created_at', type: 'text' },
];
const TEXTS = ['alpha', 'beta', 'gamma', 'pending', 'done', 'failed', "o'hara", 'Alpha two', '2024-01-05', '2024-01-20', ''];

class Gen {
  private params: Record<string, unknown> = {};
  private n = 0;
  /** `literalShare`: how often a value is written as a literal rather than a parameter. */
  constructor(private r: () => number, private dialect: Db['dialect'], private literalShare = 0.5) {}
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)];
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.r() * (hi - lo + 1));
  }
  rawValue(type: 'int' | 'text'): unknown {
    if (this.chance(0.05)) return null;
    return type === 'int' ? this.int(-10, 40) : this.pick(TEXTS);
  }
  literal(v: unknown): string {
    if (v === null) return 'NULL';
    if (typeof v === 'number') return String(v);
    return `'${String(v).replace(/'/g, "''")}'`;
  }
  /** A value: a literal or a parameter. */
  value(type: 'int' | 'text', allowNull = true): string {
    let v = this.rawValue(type);
    if (v === null && !allowNull) v = type === 'int' ? 1 : 'x';
    if (this.chance(this.literalShare)) return this.literal(v);
    this.n++;
    this.params[String(this.n)] = v;
    return this.dialect === 'postgresql' ? `$${this.n}` : '?';
  }
  predicate(cols: Col[], prefix = ''): string {
    const c = this.pick(cols);
    const col = prefix + c.name;
    switch (this.int(0, 7)) {
      case 0: return `${col} ${this.pick(['=', '<>', '<', '>', '<=', '>=', '!='])} ${this.value(c.type, false)}`;
      case 1: return `${col} ${this.pick(['IN', 'NOT IN'])} (${Array.from({ length: this.int(1, 3) }, () => this.value(c.type, false)).join(', ')})`;
      case 2: return `${col} ${this.pick(['BETWEEN', 'NOT BETWEEN'])} ${this.value(c.type, false)} AND ${this.value(c.type, false)}`;
      case 3: return `${col} IS ${this.pick(['', 'NOT '])}NULL`;
      case 4: {
        const t = this.pick(cols.filter((x) => x.type === 'text'));
        return `${prefix}${t.name} ${this.pick(['LIKE', 'NOT LIKE'])} ${this.literal(this.pick(['a%', '%a%', 'g%', '%e', 'beta']))}`;
      }
      case 6: {
        // A column as the condition (`WHERE o.active`, `WHERE NOT qty`): booleans in PostgreSQL, truthiness elsewhere.
        const b = this.dialect === 'postgresql' ? (prefix ? 'o.active' : undefined) : this.pick([`${prefix}qty`, ...(prefix ? ['o.active'] : [])]);
        if (b) return `${this.pick(['', 'NOT '])}${b}`;
        return `${col} = ${this.value(c.type, false)}`;
      }
      case 7: {
        // A case function around a text column, and maybe around the value.
        const fn = this.pick(['lower', 'upper']);
        const v = this.value('text', false);
        return `${fn}(${prefix}${this.pick(['name', 'status'])}) ${this.pick(['=', '<>', 'LIKE'])} ${this.chance(0.5) ? `${fn}(${v})` : v}`;
      }
      default: return `${col} = ${this.value(c.type, false)}`;
    }
  }
  where(cols: Col[], depth = 0, prefix = ''): string {
    if (depth >= 2 || this.chance(0.5)) return this.predicate(cols, prefix);
    const op = this.pick(['AND', 'OR']);
    const parts = Array.from({ length: this.int(2, 3) }, () => this.where(cols, depth + 1, prefix));
    return `(${parts.join(` ${op} `)})`;
  }
  select(): { sql: string; first: boolean } {
    const join = this.chance(0.2);
    const p = join ? 'i.' : '';
    const from = join ? `items i ${this.pick(['JOIN', 'LEFT JOIN'])} owners o ON o.id = i.owner_id` : 'items';
    let cols: string;
    let group = '';
    let having = '';
    const agg = this.chance(0.25);
    if (agg) {
      const g = this.pick(['status', 'owner_id']);
      const fn = this.pick(['count(*)', `count(${p}qty)`, `sum(${p}qty)`, `min(${p}qty)`, `max(${p}qty)`]);
      cols = `${p}${g}, ${fn} AS n`;
      group = ` GROUP BY ${p}${g}`;
      if (this.chance(0.3)) having = ` HAVING count(*) > ${this.value('int', false)}`;
    } else if (this.chance(0.3)) cols = join ? '*' : '*';
    else {
      const n = this.int(1, 3);
      const chosen = [...new Set(Array.from({ length: n }, () => this.pick(ITEMS).name))];
      cols = (this.chance(0.15) && !join ? 'DISTINCT ' : '') + chosen.map((c) => (join ? `i.${c}` : c)).join(', ') + (join && this.chance(0.5) ? ', o.name AS owner' : '');
    }
    const where = this.chance(0.8) ? ` WHERE ${this.where(ITEMS, 0, p)}` : '';
    let order = '';
    let limit = '';
    let first = false;
    if (!agg) {
      if (this.chance(0.7)) {
        order = ` ORDER BY ${p}${this.pick(['qty', 'name', 'created_at'])} ${this.pick(['ASC', 'DESC', ''])}, ${p}id`.replace(/\s+,/, ',');
        if (this.chance(0.4)) limit = ` LIMIT ${this.value('int', false).replace(/^-/, '')}`;
        if (limit && this.chance(0.4)) limit += ` OFFSET ${this.int(0, 5)}`;
        first = !limit && !cols.startsWith('DISTINCT') && this.chance(0.3);
      }
    } else if (this.chance(0.5)) order = ` ORDER BY ${p}${group.includes('status') ? 'status' : 'owner_id'}`;
    return { sql: `SELECT ${cols} FROM ${from}${where}${group}${having}${order}${limit}`, first };
  }
  insert(): string {
    const rows = this.int(1, 3);
    const cols = ['id', 'name', 'qty', 'status'];
    const values = Array.from({ length: rows }, (_, i) => `(${100 + i + this.int(0, 3) * 5}, ${this.value('text')}, ${this.value('int')}, ${this.value('text')})`);
    // MySQL has no RETURNING; its upserts are INSERT IGNORE and ON DUPLICATE KEY UPDATE.
    const returning = this.dialect !== 'mysql' && this.chance(0.4) ? ` RETURNING ${this.pick(['*', 'id', 'id, name'])}` : '';
    const conflict = this.dialect === 'postgresql' && this.chance(0.3) ? this.pick([' ON CONFLICT (id) DO NOTHING', ' ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, qty = EXCLUDED.qty'])
      : this.dialect === 'mysql' && this.chance(0.3) ? this.pick([' ON DUPLICATE KEY UPDATE name = VALUES(name)', ' ON DUPLICATE KEY UPDATE name = VALUES(name), qty = VALUES(qty)']) : '';
    const ignore = this.dialect === 'mysql' && !conflict && this.chance(0.15) ? 'IGNORE ' : '';
    return `INSERT ${ignore}INTO items (${cols.join(', ')}) VALUES ${values.join(', ')}${conflict}${returning}`;
  }
  update(): string {
    const sets: string[] = [];
    if (this.chance(0.6)) sets.push(`name = ${this.value('text')}`);
    if (this.chance(0.5)) sets.push(`qty = qty ${this.pick(['+', '-'])} ${this.value('int', false)}`);
    if (!sets.length || this.chance(0.3)) sets.push(`status = ${this.value('text')}`);
    const returning = this.dialect !== 'mysql' && this.chance(0.2) ? ' RETURNING id' : '';
    return `UPDATE items SET ${sets.join(', ')}${this.chance(0.9) ? ` WHERE ${this.where(ITEMS)}` : ''}${returning}`;
  }
  delete(): string {
    return `DELETE FROM items${this.chance(0.9) ? ` WHERE ${this.where(ITEMS)}` : ''}${this.dialect !== 'mysql' && this.chance(0.2) ? ' RETURNING id' : ''}`;
  }
  statement(): { sql: string; values: Record<string, unknown>; first: boolean } {
    this.params = {};
    this.n = 0;
    const k = this.r();
    let sql: string;
    let first = false;
    if (k < 0.55) ({ sql, first } = this.select());
    else if (k < 0.7) sql = this.insert();
    else if (k < 0.88) sql = this.update();
    else sql = this.delete();
    return { sql, values: this.params, first };
  }
}

async function property(db: Db, runs: number, seed: number, mapping?: SchemaMapping) {
  // With a mapping, mostly literals: the value mapping applies to them (bindings are refused).
  const gen = new Gen(rng(seed), db.dialect, mapping ? 0.85 : 0.5);
  const counts: Record<string, number> = { equal: 0, unplanned: 0, unverified: 0, different: 0 };
  const reasons = new Map<string, number>();
  const failures: string[] = [];
  for (let i = 0; i < runs; i++) {
    const s = gen.statement();
    const r: TrialResult = await trial(db, { sql: s.sql, values: s.values, firstRow: s.first, mapping });
    counts[r.status]++;
    if (r.status === 'unplanned' || r.status === 'unverified') {
      const key = `${r.status}: ${r.reason.replace(/:.*$/s, '').slice(0, 80)}`;
      reasons.set(key, (reasons.get(key) ?? 0) + 1);
      if (process.env.SQLMIGRATE_PROPERTY_SHOW) console.log(`        ${r.status}: ${s.sql} — ${r.reason}`);
    }
    if (r.status === 'different' && failures.length < 5) failures.push(`${s.sql} ${JSON.stringify(s.values)} → ${r.detail}; knex: ${r.knexSql}`);
  }
  return { counts, reasons, failures };
}

describe('equivalence: random CRUD statements (property test)', function () {
  this.timeout(600_000);
  const dbs: Array<[string, () => Promise<Db>, number]> = [
    ['SQLite (better-sqlite3)', openSqlite, 0],
    ['PostgreSQL (PGlite)', openPostgres, 1],
    ['MySQL (mysql2 on MariaDB)', openMysql, 2],
  ];
  for (const [label, open, seedOffset] of dbs) {
    it(`${label}: ${RUNS} statements, every verified rewrite returns the same rows`, async () => {
      const db = await open();
      try {
        const { counts, reasons, failures } = await property(db, RUNS, SEED + seedOffset);
        const top = [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, n]) => `${n}× ${k}`).join('; ');
        console.log(`      ${db.dialect}: ${RUNS} generated, ${counts.equal + counts.different} verified and executed (${counts.equal} equal, ${counts.different} different), ${counts.unverified} not verified, ${counts.unplanned} not planned${top ? ` — ${top}` : ''}`);
        assert.deepEqual(failures, []);
        assert.ok(counts.equal >= RUNS * 0.5, `only ${counts.equal} of ${RUNS} statements were verified and executed`);
        // The same grammar through a schema mapping.
        for (const sql of GOODS) await db.exec(sql);
        const mappedRuns = Math.ceil(RUNS / 4);
        const m = await property(db, mappedRuns, SEED + 10 + seedOffset, MAPPING);
        const mtop = [...m.reasons].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, n]) => `${n}× ${k.slice(0, 90)}`).join('; ');
        console.log(`      ${db.dialect} with schema mapping: ${mappedRuns} generated, ${m.counts.equal + m.counts.different} verified and executed (${m.counts.equal} equal, ${m.counts.different} different), ${m.counts.unverified} not verified, ${m.counts.unplanned} not planned — ${mtop}`);
        assert.deepEqual(m.failures, []);
        assert.ok(m.counts.equal >= mappedRuns * 0.25, `only ${m.counts.equal} of ${mappedRuns} mapped statements were verified and executed`);
      } finally {
        await db.close();
      }
    });
  }
});
