/**
 * Architecture invariants that a reviewer should not have to check by hand.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..', '..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (/\.ts$/.test(e.name)) out.push(p);
  }
  return out;
}

describe('architecture invariants', () => {
  it('the engine imports nothing from VS Code or LSP', () => {
    const offenders: string[] = [];
    for (const file of sources(path.join(ROOT, 'server', 'src', 'engine'))) {
      const text = fs.readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from\s+|require\(\s*|import\(\s*)['"]([^'"]+)['"]/g)) {
        if (/^(vscode|vscode-languageserver|vscode-languageclient|vscode-jsonrpc)(\/|$)/.test(m[1])) offenders.push(`${path.relative(ROOT, file)}: ${m[1]}`);
      }
    }
    assert.deepEqual(offenders, []);
  });

  it('the engine never writes files', () => {
    const offenders: string[] = [];
    for (const file of sources(path.join(ROOT, 'server', 'src', 'engine'))) {
      const text = fs.readFileSync(file, 'utf8');
      if (/\b(writeFile|appendFile|rename|unlink|rmSync|mkdirSync|createWriteStream)\w*\s*\(/.test(text)) offenders.push(path.relative(ROOT, file));
    }
    assert.deepEqual(offenders, []);
  });
});
