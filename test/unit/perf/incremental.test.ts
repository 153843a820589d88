/**
 * The language server's incremental reanalysis (server/src/lsp/incremental.ts) must report
 * exactly what a full analysis of the same text reports. Every detector fixture, the examples
 * and the latency benchmark's generated files are edited function by function; after each edit
 * the incremental result is compared with a full analysis.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeTextSync, initEngine } from '../../../server/src/engine/analyze';
import { DEFAULT_CONFIG, detectOptions } from '../../../server/src/engine/config';
import { IncrementalAnalyzer, segment } from '../../../server/src/lsp/incremental';
import { generateSource } from '../../lsp/latency';

const ROOT = path.join(__dirname, '..', '..', '..', '..');
const detect = detectOptions(DEFAULT_CONFIG);

function* walk(dir: string): Generator<string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.isFile()) yield p;
  }
}

const json = (x: unknown) => JSON.stringify(x);

/** Edits each unit in turn (a new line after its first line, then a character typed on it) and compares. */
function check(inc: IncrementalAnalyzer, uri: string, original: string, fileName: string): { partial: number; steps: number } {
  let text = original;
  const first = inc.analyse(uri, text, fileName, detect);
  assert.equal(json(first.findings), json(analyzeTextSync(text, fileName, detect).findings), `${fileName}: first analysis`);
  let partial = 0;
  let steps = 0;
  const python = fileName.endsWith('.py');
  const units = segment(text.split('\n'), python).filter((s) => s.unit).map((s) => s.start);
  // From the last unit up, so earlier units' line numbers stay valid; every edit also shifts nothing above it.
  for (const start of units.reverse().slice(0, 25)) {
    for (const typed of ['', python ? '    pass  # edited' : '  // edited']) {
      const lines = text.split('\n');
      if (typed === '') lines.splice(start + 1, 0, '');
      else lines[start + 1] = typed;
      text = lines.join('\n');
      const r = inc.analyse(uri, text, fileName, detect);
      const full = analyzeTextSync(text, fileName, detect);
      assert.equal(json(r.findings), json(full.findings), `${fileName}: after editing the unit at line ${start + 1} (${r.partial ? 'partial' : 'full'})`);
      if (r.partial) partial++;
      steps++;
    }
  }
  // A line inserted at the top shifts every unit.
  text = (python ? '# header\n' : '// header\n') + text;
  const r = inc.analyse(uri, text, fileName, detect);
  assert.equal(json(r.findings), json(analyzeTextSync(text, fileName, detect).findings), `${fileName}: after a line inserted at the top`);
  return { partial, steps };
}

describe('incremental reanalysis of open documents', function () {
  this.timeout(120_000);
  before(() => initEngine());

  it('matches a full analysis after every edit of every fixture and example', () => {
    const files = [...walk(path.join(ROOT, 'test', 'fixtures', 'detect')), ...walk(path.join(ROOT, 'examples'))].filter((f) => /\.(ts|tsx|js|jsx|py)$/.test(f)).sort();
    let partial = 0;
    for (const f of files) {
      const inc = new IncrementalAnalyzer(0);
      partial += check(inc, 'file:///x', fs.readFileSync(f, 'utf8'), path.basename(f)).partial;
    }
    assert.ok(partial > 20, `the shortcut was taken ${partial} times`);
  });

  it('takes the shortcut on the latency benchmark files, and matches', () => {
    for (const language of ['typescript', 'python'] as const) {
      const inc = new IncrementalAnalyzer();
      const r = check(inc, 'file:///big', generateSource(language, 3000), language === 'python' ? 'big.py' : 'big.ts');
      assert.ok(r.partial >= r.steps - 2, `${language}: ${r.partial} of ${r.steps} edits analysed by units`);
    }
  });

  it('falls back to a full analysis for a syntax error, a changed context or a keep-file comment', () => {
    const inc = new IncrementalAnalyzer(0);
    const base = "import { Pool } from 'pg';\nconst pool = new Pool();\n\nexport async function a() {\n  return pool.query('SELECT 1 FROM t');\n}\n\nexport async function b() {\n  return pool.query('SELECT 2 FROM u');\n}\n";
    assert.equal(inc.analyse('u', base, 'x.ts', detect).partial, false);
    const edited = base.replace('SELECT 2 FROM u', 'DELETE FROM u');
    const r1 = inc.analyse('u', edited, 'x.ts', detect);
    assert.equal(r1.partial, true);
    assert.equal(json(r1.findings), json(analyzeTextSync(edited, 'x.ts', detect).findings));
    const broken = edited.replace("'DELETE FROM u');", "'DELETE FROM u'");
    assert.equal(inc.analyse('u', broken + '\n', 'x.ts', detect).partial, false);
    const context = edited.replace("from 'pg'", "from 'mysql2'");
    const r2 = inc.analyse('u', context, 'x.ts', detect);
    assert.equal(r2.partial, false);
    assert.equal(json(r2.findings), json(analyzeTextSync(context, 'x.ts', detect).findings));
    assert.equal(inc.analyse('u', '// sqlmigrate-keep-file: legacy\n' + context, 'x.ts', detect).partial, false);
  });

  it('verify() reports a difference and turns the shortcut off for that document', () => {
    const inc = new IncrementalAnalyzer(0);
    const text = "import { Pool } from 'pg';\nconst pool = new Pool();\nexport async function a() {\n  return pool.query('SELECT 1 FROM t');\n}\n";
    inc.analyse('v', text, 'x.ts', detect);
    assert.equal(inc.verify('v', text, 'x.ts', detect, analyzeTextSync(text, 'x.ts', detect).findings), undefined);
    assert.ok(inc.verify('v', text, 'x.ts', detect, []));
    assert.equal(inc.analyse('v', text.replace('SELECT 1', 'SELECT 2'), 'x.ts', detect).partial, false);
  });
});
