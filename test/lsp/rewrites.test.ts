/**
 * The server's rewrite plumbing (server/src/lsp/rewrites.ts) in process, with a small provider
 * written for the test: the fix-all loop (repeats on the rewritten text until stable, stops at the
 * pass limit, falls back to single rewrites when a batch would not parse), the cache per
 * document version, "never offered when the file would not parse", the single diff edit, and the
 * provider table by language.
 *
 * The test provider rewrites each line `raw <n>` into `done <n>`. Its fixAll takes only the first
 * `batch` statements per pass (as overlapping rewrites wait for the next pass); a statement
 * `raw 0` renders to `(` (a broken edit).
 */
import * as assert from 'node:assert/strict';
import { DEFAULT_CONFIG } from '../../server/src/engine/config';
import type { Finding } from '../../server/src/engine/types';
import { diffEdit, fixAllOutcome, knexProvider, sqlalchemyProvider, MAX_FIX_PASSES, REWRITE_PROVIDERS, RewriteCache, rewriteHover, type OfferedRewrite, type RewriteProvider, type TextEdit } from '../../server/src/lsp/rewrites';
import { applyEdits } from '../../server/src/engine/rewrite';

function findingsOf(text: string): Finding[] {
  const out: Finding[] = [];
  text.split('\n').forEach((line, i) => {
    const m = /^raw (\d+)$/.exec(line);
    if (m) {
      out.push({
        rule: 'raw-sql',
        range: { start: { line: i, character: 0 }, end: { line: i, character: line.length } },
        sql: { text: `stmt ${m[1]}`, dynamic: false, dynamicParts: [] },
        dynamic: false,
      } as unknown as Finding);
    }
  });
  return out;
}

function editFor(f: Finding): TextEdit {
  const n = /stmt (\d+)/.exec(f.sql!.text)![1];
  return { range: f.range, newText: n === '0' ? '(' : `done ${n}` };
}

function testProvider(batch: number, calls = { actions: 0 }): RewriteProvider<unknown> {
  return {
    target: 'Test',
    rules: ['raw-sql'],
    fixable: (f) => f.rule === 'raw-sql',
    options: () => ({}),
    actions: (_text, _file, f): OfferedRewrite[] => {
      calls.actions++;
      return [{ id: 'test', title: 'Rewrite with Test', preferred: true, verified: true, edits: [editFor(f)] }];
    },
    fixAll: (_text, _file, findings) => {
      const take = findings.slice(0, batch);
      return { edits: take.map(editFor), applied: take.length };
    },
    parses: (text) => !/\($/m.test(text),
  };
}

const lines = (...xs: string[]) => xs.join('\n');

describe('lsp rewrites: the fix-all loop', () => {
  const CASES: Array<{ name: string; text: string; batch: number; passes: number; applied: number; after: string; single: boolean }> = [
    { name: 'everything in one pass', text: lines('a', 'raw 1', 'raw 2'), batch: 10, passes: 1, applied: 2, after: lines('a', 'done 1', 'done 2'), single: true },
    { name: 'one per pass until stable', text: lines('raw 1', 'raw 2', 'raw 3'), batch: 1, passes: 3, applied: 3, after: lines('done 1', 'done 2', 'done 3'), single: false },
    {
      name: 'stops at the pass limit',
      text: lines(...Array.from({ length: MAX_FIX_PASSES + 2 }, (_, i) => `raw ${i + 1}`)),
      batch: 1,
      passes: MAX_FIX_PASSES,
      applied: MAX_FIX_PASSES,
      after: lines(...Array.from({ length: MAX_FIX_PASSES + 2 }, (_, i) => (i < MAX_FIX_PASSES ? `done ${i + 1}` : `raw ${i + 1}`))),
      single: false,
    },
    { name: 'a batch that would not parse falls back to the rewrites that do', text: lines('raw 0', 'raw 1', 'raw 2'), batch: 10, passes: 2, applied: 2, after: lines('raw 0', 'done 1', 'done 2'), single: false },
    { name: 'nothing to do', text: lines('a', 'raw 0'), batch: 10, passes: 0, applied: 0, after: lines('a', 'raw 0'), single: false },
  ];
  for (const c of CASES) {
    it(c.name, () => {
      const r = fixAllOutcome(c.text, 'a.ts', testProvider(c.batch), {}, findingsOf);
      assert.deepEqual({ passes: r.passes, applied: r.applied, text: r.text }, { passes: c.passes, applied: c.applied, text: c.after });
      assert.equal(!!r.singlePassEdits, c.single, 'the first pass\'s own edits are kept only when it was the only pass');
      if (r.singlePassEdits) assert.equal(applyEdits(c.text, r.singlePassEdits), c.after);
      const one = diffEdit(c.text, r.text);
      assert.equal(one ? applyEdits(c.text, [one]) : c.text, c.after, 'the single diff edit gives the same text');
    });
  }
});

describe('lsp rewrites: the cache and the parse check', () => {
  it('computes once per document version and options, recomputes for a new version', () => {
    const calls = { actions: 0 };
    const p = testProvider(1, calls);
    const cache = new RewriteCache();
    const text = lines('raw 1', 'raw 2');
    const [f] = findingsOf(text);
    const opts = {};
    cache.actions('u', 1, p, opts, text, 'a.ts', f, findingsOf(text));
    cache.actions('u', 1, p, opts, text, 'a.ts', f, findingsOf(text));
    assert.equal(calls.actions, 1, 'hover then code action: one computation');
    cache.actions('u', 2, p, opts, text, 'a.ts', f, findingsOf(text));
    assert.equal(calls.actions, 2, 'a new version');
    cache.actions('u', 2, p, {}, text, 'a.ts', f, findingsOf(text));
    assert.equal(calls.actions, 3, 'new options (config or templates changed)');
    assert.deepEqual(cache.stats, { computed: 3, hits: 1 });
  });

  it('turns a verified rewrite whose file would not parse into "not offered"', () => {
    const cache = new RewriteCache();
    const text = lines('raw 0', 'raw 1');
    const [broken, fine] = findingsOf(text);
    const a = cache.actions('u', 1, testProvider(1), {}, text, 'a.ts', broken, findingsOf(text))[0];
    assert.deepEqual({ verified: a.verified, edits: a.edits, reason: a.reasonNotOffered }, { verified: false, edits: [], reason: 'the rewritten file would not parse' });
    assert.equal(cache.actions('u', 1, testProvider(1), {}, text, 'a.ts', fine, findingsOf(text))[0].verified, true);
  });
});

describe('lsp rewrites: providers by language and the hover section', () => {
  it('has Knex for TypeScript and JavaScript and SQLAlchemy 2.0 for Python', () => {
    assert.deepEqual(REWRITE_PROVIDERS.typescript, { provider: knexProvider });
    assert.deepEqual(REWRITE_PROVIDERS.javascript, { provider: knexProvider });
    assert.deepEqual(REWRITE_PROVIDERS.python, { provider: sqlalchemyProvider });
  });

  const FIXABLE: Array<[string, RewriteProvider<unknown>, Partial<Finding>, boolean]> = [
    ['knex: raw SQL', knexProvider as RewriteProvider<unknown>, { rule: 'raw-sql', sql: { text: 'SELECT 1', dynamic: false, dynamicParts: [] } as unknown as Finding['sql'], dynamic: false, exception: null }, true],
    ['knex: dynamic SQL', knexProvider as RewriteProvider<unknown>, { rule: 'raw-sql', sql: { text: 'SELECT 1', dynamic: true, dynamicParts: [] } as unknown as Finding['sql'], dynamic: true, exception: null }, false],
    ['knex: kept on purpose', knexProvider as RewriteProvider<unknown>, { rule: 'raw-sql', sql: { text: 'SELECT 1', dynamic: false, dynamicParts: [] } as unknown as Finding['sql'], dynamic: false, exception: { reason: 'probe', source: 'inline' } }, false],
    ['knex: a session.query() chain', knexProvider as RewriteProvider<unknown>, { rule: 'session-legacy-query', dynamic: false, exception: null }, false],
    ['knex: a hand-written transaction', knexProvider as RewriteProvider<unknown>, { rule: 'manual-transaction', dynamic: false, exception: null }, true],
    ['knex: a hand-written transaction kept on purpose', knexProvider as RewriteProvider<unknown>, { rule: 'manual-transaction', dynamic: false, exception: { reason: 'x', source: 'inline' } }, false],
    ['sqlalchemy: a session.query() chain', sqlalchemyProvider as RewriteProvider<unknown>, { rule: 'session-legacy-query', dynamic: false, exception: null }, true],
    ['sqlalchemy: kept on purpose', sqlalchemyProvider as RewriteProvider<unknown>, { rule: 'session-legacy-query', dynamic: false, exception: { reason: 'later', source: 'inline' } }, false],
    ['sqlalchemy: raw SQL', sqlalchemyProvider as RewriteProvider<unknown>, { rule: 'raw-sql', sql: { text: 'SELECT 1', dynamic: false, dynamicParts: [] } as unknown as Finding['sql'], dynamic: false, exception: null }, false],
  ];
  for (const [name, provider, f, expected] of FIXABLE) {
    it(`fix-all takes ${name}: ${expected}`, () => assert.equal(provider.fixable(f as Finding), expected));
  }

  it('reads the schema mapping from the config into the Knex options', () => {
    const schemaMapping = { jobs: { table: 'tasks' } };
    const o = knexProvider.options(undefined, { ...DEFAULT_CONFIG, rewrite: { knex: { instance: 'k' }, schemaMapping } }, () => undefined) as { knex?: { instance?: string }; schemaMapping?: unknown };
    assert.equal(o.knex?.instance, 'k');
    assert.deepEqual(o.schemaMapping, schemaMapping);
  });

  const HOVERS: Array<[string, Parameters<typeof rewriteHover>, string[]]> = [
    ['verified', [{ provider: knexProvider as RewriteProvider<unknown> }, [{ id: 'knex', title: 'Rewrite with Knex', preferred: true, verified: true, edits: [], sql: 'select 1' }]], ['**Rewrite with Knex available (verified).** Knex produces the same statement:', '', '```sql', 'select 1', '```']],
    ['not offered', [{ provider: knexProvider as RewriteProvider<unknown> }, [{ id: 'knex', title: 'Rewrite with Knex', preferred: true, verified: false, edits: [], reasonNotOffered: 'DDL' }]], ['**No Knex rewrite:** DDL']],
    ['raw only', [{ provider: knexProvider as RewriteProvider<unknown> }, [{ id: 'knex', title: 'Rewrite with Knex', preferred: true, verified: false, edits: [], reasonNotOffered: 'WITH' }, { id: 'knex-raw', title: 'Wrap in db.raw()', preferred: false, verified: true, edits: [] }]], ['**No Knex rewrite:** WITH', '', 'Also available: `Wrap in db.raw()` (verified).']],
    ['unavailable', [{ unavailable: 'no target for this language' }, undefined], ['_No rewrite: no target for this language._']],
    ['verified, code instead of SQL', [{ provider: sqlalchemyProvider as RewriteProvider<unknown> }, [{ id: 'sqlalchemy2', title: 'Rewrite in SQLAlchemy 2.0 style', preferred: true, verified: true, edits: [], code: { language: 'python', text: 'session.scalars(select(User)).all()' } }]], ['**Rewrite in SQLAlchemy 2.0 style available (verified).**', '', '```python', 'session.scalars(select(User)).all()', '```']],
    ['verified, neither SQL nor code', [{ provider: knexProvider as RewriteProvider<unknown> }, [{ id: 'knex-transaction', title: 'Rewrite as db.transaction()', preferred: true, verified: true, edits: [] }]], ['**Rewrite as db.transaction() available (verified).**']],
    ['untrusted', [undefined, undefined, 'this workspace is not trusted'], ['_No rewrite: this workspace is not trusted._']],
  ];
  for (const [name, args, expected] of HOVERS) {
    it(`hover: ${name}`, () => assert.deepEqual(rewriteHover(...args), expected));
  }
});
