/**
 * Fuzzing (fast-check): the engine gets hostile text and must answer with findings and problems,
 * never a throw or a hang.
 *
 *  - fixtures mutated at random: insertions of random unicode (astral characters, lone
 *    surrogates, control characters), deletions, duplicated and dropped lines, CRLF / CR line
 *    ends, tabs, a BOM, very long lines; then analyzeTextSync: no throw, no hang (a generous
 *    per-input bound), every finding's range inside its document, and the keep edit and every
 *    verified rewrite of a text that parses still parse;
 *  - bytes (invalid UTF-8, NUL, truncated sequences) through the scanner's reader
 *    (readSourceFile / processFile): a skip with a reason exactly when a strict decoder refuses;
 *  - a random SQL grammar and token soup through analyzeSql in every dialect.
 *
 * SQLMIGRATE_FUZZ_RUNS multiplies the runs (CI default 1 → 250 mutated files, 300 byte files,
 * 600 SQL texts); SQLMIGRATE_FUZZ_SEED replays a run.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { analyzeTextSync } from '../../server/src/engine/analyze';
import { rewriteActions } from '../../server/src/engine/rewrite';
import { processFile, readSourceFile } from '../../server/src/engine/scan';
import { analyzeSql } from '../../server/src/engine/sql/analyze';
import type { Dialect, Finding } from '../../server/src/engine/types';
import { KEEP_REASON_PLACEHOLDER, keepEdit } from '../../server/src/lsp/present';
import { sqlArb, sqlSoupArb } from './gen';
import { applyLspEdits, corpus, DETECT, envInt, lspLines, rangeProblem, ready, report, syntaxErrors, withinBound, type Edit } from './support';

const SCALE = envInt('SQLMIGRATE_FUZZ_RUNS', 1) === 1 ? 1 : Math.max(1, Math.round(envInt('SQLMIGRATE_FUZZ_RUNS', 1) / 60));
const SEED = Number(process.env.SQLMIGRATE_FUZZ_SEED) || undefined;
/** Hang detector per input: generous (2 busy cores), never a speed assertion. */
const BOUND_MS = 20000;

const unicodeChunk = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 8 }),
  fc.string({ unit: 'binary', maxLength: 8 }), // any code point, astral included
  fc.constantFrom('\uD800', '\uDFFF', '\uDBFF\uDFFF', '😀', '𝒳', '\u0000', '\u2028', '\u2029', '\u000B', '\u000C', '\u0085', '\u200B', '\uFEFF', '\r', '\n', '\t', '"', "'", '`', '${', '}', '"""', '#', '//', '/*', '*/', '\\', '(', ')', '{', '}', 'SELECT ', "'SELECT * FROM t'"),
);

type Mutation = (text: string) => string;

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.nat(), unicodeChunk).map(([at, s]) => (t: string) => t.slice(0, at % (t.length + 1)) + s + t.slice(at % (t.length + 1))),
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 40 })).map(([at, n]) => (t: string) => t.slice(0, at % (t.length + 1)) + t.slice((at % (t.length + 1)) + n)),
  fc.nat().map((at) => (t: string) => {
    const lines = t.split('\n');
    const i = at % lines.length;
    lines.splice(i, 0, lines[i]);
    return lines.join('\n');
  }),
  fc.nat().map((at) => (t: string) => {
    const lines = t.split('\n');
    lines.splice(at % lines.length, 1);
    return lines.join('\n');
  }),
  fc.constant((t: string) => t.replace(/\r?\n/g, '\r\n')),
  fc.constant((t: string) => t.replace(/\r?\n/g, '\r')),
  fc.constant((t: string) => t.replace(/^( {2})+/gm, (m) => '\t'.repeat(m.length / 2))),
  fc.constant((t: string) => '\uFEFF' + t),
  fc.tuple(fc.nat(), fc.constantFrom(2000, 19000, 21000), fc.constantFrom('x', ' ', "'", '😀')).map(([at, n, c]) => (t: string) => {
    const lines = t.split('\n');
    lines.splice(at % (lines.length + 1), 0, `const long = '${c.repeat(n)}';`);
    return lines.join('\n');
  }),
  fc.tuple(fc.nat(), fc.constantFrom(500, 5000)).map(([at, n]) => (t: string) => {
    // A very long SQL statement inside a driver call.
    const lines = t.split('\n');
    lines.splice(at % (lines.length + 1), 0, `pool.query('SELECT ${Array.from({ length: n / 10 }, (_, i) => `c${i}`).join(', ')} FROM t WHERE id IN (${'1, '.repeat(n / 10)}2)');`);
    return lines.join('\n');
  }),
);

/** The document an editor shows (a BOM is not part of it; the engine strips it too). */
const docText = (t: string) => (t.charCodeAt(0) === 0xfeff ? t.slice(1) : t);

export interface FuzzStats {
  inputs: number;
  findings: number;
  problems: number;
  skipped: number;
  editsChecked: number;
}

/** Analyses one text and checks every invariant; returns what went wrong. `analyse` is swappable for the self-test. */
export function checkText(text: string, fileName: string, stats: FuzzStats, analyse = (t: string, f: string) => analyzeTextSync(t, f, DETECT)): string[] {
  const fail: string[] = [];
  stats.inputs++;
  let r;
  try {
    r = withinBound(`analysing ${fileName}`, BOUND_MS, () => analyse(text, fileName));
  } catch (e) {
    return [`analysis threw or hung: ${(e as Error).stack ?? e}`];
  }
  const doc = docText(text);
  stats.findings += r.findings.length;
  stats.problems += r.problems.length;
  if (r.skipped) stats.skipped++;
  for (const f of r.findings) {
    const p = rangeProblem(f.range, doc);
    if (p) fail.push(`${f.rule} at ${JSON.stringify(f.range)}: ${p}`);
  }
  for (const p of r.problems) {
    if (!p.range) continue;
    const why = rangeProblem(p.range, doc);
    if (why) fail.push(`problem "${p.message}" at ${JSON.stringify(p.range)}: ${why}`);
  }
  if (fail.length || syntaxErrors(doc, fileName).length) return fail;
  // The text parses: every edit offered on it must leave it parsing.
  const check = (edits: Edit[], what: string) => {
    stats.editsChecked++;
    let after: string;
    try {
      after = applyLspEdits(doc, edits);
    } catch (e) {
      return void fail.push(`${what}: ${(e as Error).message}`);
    }
    const errs = syntaxErrors(after, fileName);
    if (errs.length) fail.push(`${what}: the result does not parse: ${errs[0]}`);
  };
  const lines = lspLines(doc);
  for (const f of r.findings.slice(0, 6)) {
    if (f.exception || f.rule === 'exception-missing-reason') continue;
    const k = keepEdit(f, lines[f.range.start.line] ?? '');
    check([{ range: { start: { line: k.line, character: 0 }, end: { line: k.line, character: 0 } }, newText: k.text.replace(KEEP_REASON_PLACEHOLDER, 'fuzz') }], `keep edit at line ${k.line + 1}`);
  }
  if (!/\.py$/.test(fileName)) {
    for (const f of r.findings.filter((x: Finding) => x.rule === 'raw-sql').slice(0, 4)) {
      for (const a of rewriteActions(doc, fileName, f, { knex: { instance: 'db', import: './db' }, defaultDialect: 'postgresql' })) {
        if (a.verified) check(a.edits, `${a.title} at line ${f.range.start.line + 1}`);
      }
    }
  }
  return fail;
}

describe('reliability: fuzzing', function () {
  this.timeout(170000);
  before(ready);
  const files = corpus();

  it('mutated fixtures: no throw, no hang, ranges inside the document, offered edits parse', () => {
    const stats: FuzzStats = { inputs: 0, findings: 0, problems: 0, skipped: 0, editsChecked: 0 };
    fc.assert(
      fc.property(fc.constantFrom(...files), fc.array(mutation, { minLength: 1, maxLength: 6 }), (file, muts) => {
        const text = muts.reduce((t, m) => m(t), file.text);
        const failures = checkText(text, path.basename(file.rel), stats);
        assert.deepEqual(failures, [], `${file.rel} mutated:\n${JSON.stringify(text).slice(0, 3000)}`);
      }),
      { numRuns: 250 * SCALE, seed: SEED },
    );
    report('mutated fixtures', { ...stats });
    // A sanity bound, not a count: the mutated inputs still hold findings (more than one per input
    // on average) and verified edits to check. The corpus grows with the fixtures, so no fixed total.
    assert.ok(stats.findings > stats.inputs && stats.editsChecked > 100, `the mutations still left findings and edits to check: ${JSON.stringify(stats)}`);
  });

  it('generated unicode soup in TS and Python files', () => {
    const stats: FuzzStats = { inputs: 0, findings: 0, problems: 0, skipped: 0, editsChecked: 0 };
    fc.assert(
      fc.property(fc.array(fc.oneof(unicodeChunk, sqlSoupArb.map((s) => `pool.query('${s}')\n`), sqlSoupArb.map((s) => `cur.execute("""${s}""")\n`)), { maxLength: 30 }), fc.constantFrom('s.ts', 's.py', 's.jsx'), (parts, name) => {
        const failures = checkText(parts.join(''), name, stats);
        assert.deepEqual(failures, []);
      }),
      { numRuns: 200 * SCALE, seed: SEED },
    );
    report('unicode soup', { ...stats });
  });

  it('the scanner reads bytes strictly: invalid UTF-8 and NUL bytes are skips with a reason, never a throw', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-fuzz-bytes-'));
    const strict = new TextDecoder('utf-8', { fatal: true });
    const sample = files.filter((f) => /pool\.query|execute/.test(f.text)).slice(0, 10);
    let n = 0;
    let skips = 0;
    let analysed = 0;
    try {
      fc.assert(
        fc.property(fc.constantFrom(...sample), fc.nat(), fc.uint8Array({ maxLength: 12 }), fc.constantFrom('x.ts', 'x.py', 'x.js'), (file, at, bytes, name) => {
          const base = Buffer.from(file.text, 'utf8');
          const pos = at % (base.length + 1);
          const buf = Buffer.concat([base.subarray(0, pos), Buffer.from(bytes), base.subarray(pos)]);
          const abs = path.join(dir, name);
          fs.writeFileSync(abs, buf);
          n++;
          const read = withinBound('readSourceFile', BOUND_MS, () => readSourceFile(abs, 2 * 1024 * 1024));
          let valid = true;
          try {
            strict.decode(buf);
          } catch {
            valid = false;
          }
          const expectSkip = !valid || buf.includes(0);
          assert.equal('skip' in read, expectSkip, `valid=${valid} nul=${buf.includes(0)}: ${JSON.stringify(read).slice(0, 200)}`);
          if ('skip' in read) {
            skips++;
            assert.match(read.skip, /not valid UTF-8 \(first invalid byte at offset \d+\)|binary file \(a NUL byte at offset \d+\)/);
          }
          const o = withinBound('processFile', BOUND_MS, () => processFile(abs, name, 2 * 1024 * 1024, DETECT));
          assert.equal(o.kind === 'readSkip', expectSkip);
          if (o.kind === 'done') {
            analysed++;
            for (const f of o.result.findings) assert.equal(rangeProblem(f.range, docText(buf.toString('utf8'))), undefined);
          }
        }),
        { numRuns: 300 * SCALE, seed: SEED },
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    report('bytes through the reader', { files: n, skipped: skips, analysed });
    assert.ok(skips > 0 && analysed > 0);
  });

  it('a random SQL grammar and token soup through analyzeSql in every dialect', () => {
    const dialects: Dialect[] = ['postgresql', 'mysql', 'sqlite'];
    let n = 0;
    let parsed = 0;
    let grammar = 0;
    fc.assert(
      fc.property(fc.oneof(sqlArb('dollar').map((g) => ({ ...g, grammar: true })), sqlArb('question').map((g) => ({ ...g, grammar: true })), sqlSoupArb.map((s) => ({ sql: s, params: -1, grammar: false }))), fc.constantFrom(...dialects), (g, d) => {
        n++;
        const info = withinBound('analyzeSql', BOUND_MS, () => analyzeSql(g.sql, d));
        assert.ok(['select', 'insert', 'update', 'delete', 'ddl', 'other'].includes(info.kind), info.kind);
        assert.ok(Array.isArray(info.tables) && info.tables.every((t) => typeof t === 'string'));
        assert.ok(Number.isInteger(info.params.count) && info.params.count >= 0);
        assert.ok(info.statementCount >= 1);
        assert.equal(info.parsed, info.parseError === undefined, 'parsed ⇔ no parse error');
        if (info.parsed) parsed++;
        if (g.grammar) {
          grammar++;
          const lead = /^\s*(\w+)/.exec(g.sql)![1].toLowerCase();
          if (['select', 'insert', 'update', 'delete'].includes(lead) && !/ FOR UPDATE|->>|UNION|OVER/.test(g.sql)) assert.equal(info.kind, lead, g.sql);
          if (g.params > 0 && /\$\d/.test(g.sql)) assert.equal(info.params.count, g.params, g.sql);
        }
      }),
      { numRuns: 600 * SCALE, seed: SEED },
    );
    report('SQL texts', { texts: n, grammarTexts: grammar, parsed });
  });

  describe('regressions found by this tier', () => {
    it('U+2028 / U+2029 in a TypeScript string or comment do not move findings (editors end lines only at \\r\\n, \\r, \\n)', () => {
      // (A line comment would end at U+2028, which JavaScript reads as a line break: a block comment holds it.)
      const text = "import { Pool } from 'pg';\nconst pool = new Pool();\n/* a note\u2028with a separator */\nconst s = 'x\u2029y';\nexport async function f(id: number) {\n  const { rows } = await pool.query('SELECT id FROM jobs WHERE id = $1', [id]);\n  return rows;\n}\n";
      assert.deepEqual(syntaxErrors(text, 'a.ts'), [], 'the input itself parses');
      const r = analyzeTextSync(text, 'a.ts', DETECT);
      let verified = 0;
      assert.deepEqual(r.findings.map((f) => [f.rule, f.range.start.line, f.range.start.character]), [['raw-sql', 5, 25]]);
      // A rewrite offered on it must land where the editor shows the statement.
      for (const a of rewriteActions(text, 'a.ts', r.findings[0], { knex: { instance: 'db', import: './db' }, defaultDialect: 'postgresql' })) {
        if (!a.verified) continue;
        verified++;
        const after = applyLspEdits(text, a.edits);
        assert.deepEqual(syntaxErrors(after, 'a.ts'), []);
        assert.ok(!after.includes("pool.query('SELECT id"), after);
      }
      assert.equal(verified, 2, 'the Knex rewrite and db.raw() are offered, their edits placed by editor lines');
      // A keep comment placed by line keeps it.
      const keep = text.replace('  const { rows }', '  // sqlmigrate-keep: a reason\n  const { rows }');
      assert.ok(analyzeTextSync(keep, 'a.ts', DETECT).findings.every((f) => f.exception), 'the keep comment is matched by line');
    });

    it('Python with old Mac line ends (\\r only) is parsed as Python reads it, with editor line numbers', () => {
      const text = 'import sqlite3\rconn = sqlite3.connect("x")\rdef f(x):\r    cur = conn.cursor()\r    cur.execute("SELECT * FROM jobs WHERE id = ?", (x,))\r';
      const r = analyzeTextSync(text, 'a.py', DETECT);
      assert.deepEqual(r.problems, []);
      assert.deepEqual(r.findings.map((f) => [f.rule, f.range.start.line, f.range.start.character]), [['raw-sql', 4, 4]]);
      for (const f of r.findings) assert.equal(rangeProblem(f.range, text), undefined);
    });
  });

  describe('the checks catch planted bugs', () => {
    it('a finding whose range runs past its line, and a problem outside the document', () => {
      const stats: FuzzStats = { inputs: 0, findings: 0, problems: 0, skipped: 0, editsChecked: 0 };
      const text = "pool.query('SELECT 1');\n";
      const real = analyzeTextSync(text, 'a.ts', DETECT);
      assert.ok(real.findings.length > 0);
      const shifted = () => ({ ...real, findings: real.findings.map((f) => ({ ...f, range: { ...f.range, end: { line: 0, character: 999 } } })) });
      assert.ok(checkText(text, 'a.ts', stats, shifted).some((x) => /outside 0\.\./.test(x)));
      const lost = () => ({ ...real, problems: [{ message: 'x', range: { start: { line: 5, character: 0 }, end: { line: 5, character: 1 } } }] });
      assert.ok(checkText(text, 'a.ts', stats, lost).some((x) => /problem "x"/.test(x)));
      const throws = () => {
        throw new Error('boom');
      };
      assert.ok(checkText(text, 'a.ts', stats, throws).some((x) => /threw or hung: Error: boom/.test(x)));
    });

    it('the hang detector fires on a function that outlasts its bound', () => {
      assert.throws(() => withinBound('busy', 5, () => {
        const end = Date.now() + 30;
        while (Date.now() < end) {
          // busy
        }
      }), /hang detector/);
    });
  });
});
