/**
 * Fixture pairs for the manual-transaction rewrite (test/fixtures/rewrite/knex-transaction/):
 * `<case>.input.ts` → `<case>.output.ts`, and `na-<case>.ts` files whose first line is
 * `// not applicable: <reason substring>`. Refresh outputs after review with UPDATE_GOLDEN=1.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DETECT, OPTIONS, checkTransaction, checkTransactionNotApplicable, rewriteTransactions, transactionFindings } from './check';
import { analyzeText } from '../../../server/src/engine/analyze';
import { defaultTemplates, enclosingManualTransaction, transactionRewriteActions } from '../../../server/src/engine/rewrite';
import { beginConfig } from '../../../server/src/engine/rewrite/transaction';

const DIR = path.join(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'rewrite', 'knex-transaction');

describe('rewrite: manual transaction → knex.transaction()', () => {
  for (const file of fs.readdirSync(DIR).sort()) {
    const full = path.join(DIR, file);
    const m = /^(.*)\.input\.(ts|js)$/.exec(file);
    if (m) {
      it(`${m[1]} (input → output)`, async () => {
        const before = fs.readFileSync(full, 'utf8');
        const outFile = path.join(DIR, `${m[1]}.output.${m[2]}`);
        if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(outFile, (await rewriteTransactions(before, file)).text);
        await checkTransaction(before, fs.readFileSync(outFile, 'utf8'), file);
      });
    } else if (file.startsWith('na-')) {
      it(`${file} (not applicable)`, async () => {
        const src = fs.readFileSync(full, 'utf8');
        const reason = /^\/\/ not applicable: (.*)$/m.exec(src)?.[1]?.trim() ?? '';
        assert.ok(reason, 'the first line must say `// not applicable: <reason substring>`');
        await checkTransactionNotApplicable(src, reason, file);
      });
    }
  }

  it('uses the configured instance name in the title and the code', async () => {
    const file = 'transfer.input.ts';
    const src = fs.readFileSync(path.join(DIR, file), 'utf8');
    const [f] = await transactionFindings(src, file);
    const options = { ...OPTIONS, knex: { instance: 'knex', import: './db' } };
    const [a] = transactionRewriteActions(src, file, f, options);
    assert.equal(a.title, 'Rewrite as knex.transaction()');
    assert.ok(a.verified);
    assert.ok(a.edits.some((e) => e.newText.startsWith('await knex.transaction(async (trx) => {')));
    assert.ok(a.edits.some((e) => e.newText === "\nimport { knex } from './db';"));
  });

  it('refuses when the instance is neither in scope nor importable', async () => {
    const file = 'transfer.input.ts';
    const src = fs.readFileSync(path.join(DIR, file), 'utf8');
    const [f] = await transactionFindings(src, file);
    assert.match(transactionRewriteActions(src, file, f, { knex: { instance: 'db' } })[0].reasonNotOffered ?? '', /not in scope/);
  });

  it('refuses findings of other rules', async () => {
    const file = 'transfer.input.ts';
    const src = fs.readFileSync(path.join(DIR, file), 'utf8');
    const [f] = await transactionFindings(src, file);
    assert.match(transactionRewriteActions(src, file, { ...f, rule: 'raw-sql' }, OPTIONS)[0].reasonNotOffered ?? '', /only manual-transaction findings/);
  });

  it('offers nothing when a (workspace) template renders something else', async () => {
    const file = 'transfer.input.ts';
    const src = fs.readFileSync(path.join(DIR, file), 'utf8');
    const [f] = await transactionFindings(src, file);
    const bodies: Array<[string, RegExp]> = [
      ['await {{ instance }}.transaction(async ({{ trx }}) => {});', /holds 0 trx.raw\(\) calls/],
      ['x{{ instance.constructor }}{{ body.__proto__ }}y', /not verified: the rendered transaction/],
      ["{{ instance }}.transaction(async ({{ trx }}) => {{ '{' }}{{ body }}});", /is not awaited/],
      ["await {{ instance }}.transaction(async ({{ trx }}) => {{ '{' }}{{ body }}}, { isolationLevel: 'serializable' });", /transaction options of the BEGIN/],
      ["await {{ instance }}.transaction(async ({{ trx }}) => {{ '{' }}{{ body }} client.release(); });", /still refers to `client`/],
    ];
    for (const [body, reason] of bodies) {
      const templates = { ...defaultTemplates(), transaction: body };
      const [a] = transactionRewriteActions(src, file, f, { ...OPTIONS, templates });
      assert.equal(a.verified, false, body);
      assert.deepEqual(a.edits, []);
      assert.match(a.reasonNotOffered ?? '', reason, body);
    }
  });

  it('tells which raw-sql findings lie inside a manual transaction', async () => {
    const file = 'transfer.input.ts';
    const src = fs.readFileSync(path.join(DIR, file), 'utf8');
    const all = (await analyzeText(src, file, DETECT)).findings;
    const [tx] = all.filter((f) => f.rule === 'manual-transaction');
    const raw = all.filter((f) => f.rule === 'raw-sql');
    assert.equal(raw.length, 4);
    for (const f of raw) assert.equal(enclosingManualTransaction(f, all), tx);
    assert.equal(enclosingManualTransaction(tx, all), undefined);
    const other = fs.readFileSync(path.join(DIR, 'isolation.input.ts'), 'utf8');
    const found = (await analyzeText(other, 'isolation.input.ts', DETECT)).findings;
    const outside = found.filter((f) => f.rule === 'raw-sql' && f.sql?.text.startsWith('SELECT count(*) AS n FROM accounts') && !f.sql.text.includes('WHERE'));
    assert.equal(outside.length, 1);
    assert.equal(enclosingManualTransaction(outside[0], found), undefined);
  });

  it('maps BEGIN modes to Knex transaction options, and refuses the ones Knex has not', () => {
    assert.deepEqual(beginConfig('BEGIN'), { config: '' });
    assert.deepEqual(beginConfig('begin transaction;'), { config: '' });
    assert.deepEqual(beginConfig('START TRANSACTION'), { config: '' });
    assert.deepEqual(beginConfig('BEGIN ISOLATION LEVEL SERIALIZABLE'), { config: "{ isolationLevel: 'serializable' }" });
    assert.deepEqual(beginConfig('BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY'), { config: "{ isolationLevel: 'read committed', readOnly: true }" });
    assert.deepEqual(beginConfig('START TRANSACTION READ ONLY, ISOLATION LEVEL REPEATABLE READ'), { config: "{ isolationLevel: 'repeatable read', readOnly: true }" });
    assert.match((beginConfig('BEGIN READ WRITE') as { reason: string }).reason, /READ WRITE/);
    assert.match((beginConfig('BEGIN ISOLATION LEVEL SERIALIZABLE, DEFERRABLE') as { reason: string }).reason, /DEFERRABLE/);
    assert.match((beginConfig('BEGIN ISOLATION LEVEL SNAPSHOT') as { reason: string }).reason, /not mapped/);
    assert.match((beginConfig('BEGIN ISOLATION LEVEL SERIALIZABLE ISOLATION LEVEL READ COMMITTED') as { reason: string }).reason, /two isolation levels/);
  });
});
