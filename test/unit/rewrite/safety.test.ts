/**
 * Templates are data and verification is the gate: a template that emits something else, or a
 * template that tries to reach prototypes, never yields an offered rewrite or executed code.
 * The engine's rewrite never evaluates text.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultTemplates, rewriteActions, type Templates } from '../../../server/src/engine/rewrite';
import { OPTIONS, rawFindings } from './check';

const SRC = `import { Pool } from 'pg';
const pool = new Pool();
export async function f(id: number) {
  const { rows } = await pool.query('SELECT * FROM jobs WHERE id = $1', [id]);
  return rows;
}
`;

async function actionsWith(templates: Templates) {
  const [finding] = await rawFindings(SRC, 'a.ts');
  return rewriteActions(SRC, 'a.ts', finding, { ...OPTIONS, templates });
}

describe('rewrite: templates and verification', () => {
  it('a template that changes the query is caught by verification', async () => {
    const t = { ...defaultTemplates(), select: "{{ instance }}({{ table }}).where('id', '>', 0)" };
    const [builder] = await actionsWith(t);
    assert.equal(builder.verified, false);
    assert.match(builder.reasonNotOffered!, /not verified/);
  });

  it('a template that emits extra code is refused', async () => {
    const t = { ...defaultTemplates(), select: "{{ inline }}; require('child_process').exec('x')" };
    const [builder] = await actionsWith(t);
    assert.equal(builder.verified, false);
  });

  it('templates cannot reach prototypes', async () => {
    const t = { ...defaultTemplates(), select: '{{ inline }}{{ steps.constructor }}{{ instance.constructor.name }}' };
    const [builder] = await actionsWith(t);
    assert.equal(builder.verified, true, builder.reasonNotOffered);
    assert.ok(!builder.edits.some((e) => /function|Object|String/.test(e.newText)));
  });

  it('the rewrite engine never evaluates code', () => {
    const dir = path.join(__dirname, '..', '..', '..', '..', 'server', 'src', 'engine', 'rewrite');
    const files = (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => /\.ts$/.test(f));
    assert.ok(files.length >= 6);
    for (const f of files) {
      const text = fs.readFileSync(path.join(dir, f), 'utf8');
      assert.ok(!/\beval\s*\(|new\s+Function\b|\bvm\.|require\(['"]vm['"]\)/.test(text), `${f} evaluates code`);
    }
  });
});
