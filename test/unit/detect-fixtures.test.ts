/**
 * The detector fixture tables: every file under test/fixtures/detect/<language>/ is run
 * through the engine and its findings must equal the file's `@expect` annotations.
 * Prints precision and recall over all fixtures.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeText } from '../../server/src/engine/analyze';
import type { DetectOptions, Finding } from '../../server/src/engine/types';
import { compare, precision, readExpectations, recall, type Score } from '../support/expect';

const FIXTURES = path.join(__dirname, '..', '..', '..', 'test', 'fixtures', 'detect');

export const FIXTURE_OPTIONS: DetectOptions = {
  defaultDialect: 'postgresql',
  wrappers: [{ callee: 'Audit.exec', sqlArgument: 1 }],
  sessionFactories: ['get_session'],
};

function fixtureFiles(): Array<{ language: string; file: string }> {
  const out: Array<{ language: string; file: string }> = [];
  for (const language of fs.readdirSync(FIXTURES).sort()) {
    const dir = path.join(FIXTURES, language);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const f of fs.readdirSync(dir).sort()) out.push({ language, file: path.join(dir, f) });
  }
  return out;
}

describe('detector fixtures', () => {
  const total: Record<string, Score> = {};
  const files = fixtureFiles();

  it('has fixtures for both languages', () => {
    const langs = new Set(files.map((f) => f.language));
    assert.ok(langs.has('typescript') && langs.has('python'), `fixture folders: ${[...langs]}`);
  });

  for (const { language, file } of files) {
    const name = `${language}/${path.basename(file)}`;
    it(name, async () => {
      const text = fs.readFileSync(file, 'utf8');
      const expected = readExpectations(text);
      if (path.basename(file).startsWith('negative')) assert.equal(expected.length, 0, 'negative fixtures carry no @expect');
      const result = await analyzeText(text, file, FIXTURE_OPTIONS);
      assert.equal(result.skipped, undefined, `fixture was skipped: ${result.skipped}`);
      const score = (total[language] ??= { truePositives: 0, falsePositives: 0, falseNegatives: 0, mismatches: 0 });
      const remaining: Finding[] = [...result.findings];
      const errors: string[] = [];
      for (const e of expected) {
        const i = remaining.findIndex((f) => f.rule === e.rule && f.range.start.line + 1 === e.line);
        if (i < 0) {
          score.falseNegatives++;
          errors.push(`line ${e.line}: missed ${e.rule} (annotated at line ${e.at})`);
          continue;
        }
        const [f] = remaining.splice(i, 1);
        score.truePositives++;
        const diff = compare(e, f);
        if (diff.length) {
          score.mismatches++;
          errors.push(`line ${e.line} ${e.rule}: ${diff.join('; ')}`);
        }
      }
      for (const f of remaining) {
        score.falsePositives++;
        errors.push(`line ${f.range.start.line + 1}: unexpected ${f.rule} (${f.message})`);
      }
      assert.deepEqual(errors, [], `${name}:\n  ${errors.join('\n  ')}`);
    });
  }

  after(() => {
    const all: Score = { truePositives: 0, falsePositives: 0, falseNegatives: 0, mismatches: 0 };
    for (const [language, s] of Object.entries(total)) {
      console.log(`      ${language}: precision ${(precision(s) * 100).toFixed(1)}%, recall ${(recall(s) * 100).toFixed(1)}% (${s.truePositives} found, ${s.falsePositives} false positives, ${s.falseNegatives} missed, ${s.mismatches} with wrong details)`);
      for (const k of Object.keys(all) as Array<keyof Score>) all[k] += s[k];
    }
    console.log(`      all fixtures: precision ${(precision(all) * 100).toFixed(1)}%, recall ${(recall(all) * 100).toFixed(1)}%`);
  });
});
