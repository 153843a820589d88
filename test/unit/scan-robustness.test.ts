/**
 * Broken input is data: a tree full of hostile files scans with exit 0, lists what it
 * skipped with reasons, and still reports the findings in the ordinary files beside them.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from '../../server/src/cli/main';

interface JsonReport {
  summary: { filesScanned: number; skipped: Array<{ file: string; reason: string }>; totals: Record<string, number> };
  findings: Array<{ rule: string; file: string; startLine: number; endLine: number; parsed?: boolean; dynamic: boolean }>;
}

async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), stderrIsTTY: false });
  return { code, stdout, stderr };
}

describe('scanning hostile input', function () {
  let dir: string;
  let report: JsonReport;
  let exitCode: number;

  before(async function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-hostile-'));
    const w = (rel: string, data: string | Buffer) => {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), data);
    };
    w('ok/jobs.py', 'import sqlite3\n\ndef get(conn, i):\n    return conn.execute("SELECT * FROM jobs WHERE id = ?", (i,)).fetchone()\n');
    w('ok/users.ts', "import { Pool } from 'pg';\nconst pool = new Pool();\nexport const byId = (id: number) => pool.query('SELECT * FROM users WHERE id = $1', [id]);\n");
    // Binary content with a supported extension, and a real binary file.
    w('binary.py', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48]));
    w('image.png', Buffer.alloc(1024, 7));
    w('nul.ts', "const a = 'SELECT 1';\u0000\nconst b = 2;\n");
    // A 5 MB single-line minified bundle, and a smaller one under the size limit.
    w('dist-bundle.js', 'var a=1;' + 'function f(x){return x.query("SELECT * FROM t WHERE id = "+x)}'.repeat(80000) + '\n');
    w('app.bundle-small.js', 'var q="SELECT * FROM t";' + 'x=1;'.repeat(60000) + '\n');
    // Not UTF-8 (Latin-1 bytes).
    w('latin1.py', Buffer.concat([Buffer.from('# caf'), Buffer.from([0xe9]), Buffer.from('\ncur.execute("SELECT * FROM jobs")\n')]));
    // Unterminated strings, after a valid statement.
    w('unterminated.ts', "import { Pool } from 'pg';\nconst pool = new Pool();\npool.query('SELECT * FROM runs');\nconst s = 'SELECT * FROM jobs\n");
    w('unterminated.py', 'import sqlite3\nconn = sqlite3.connect(":memory:")\nconn.execute("DELETE FROM runs WHERE id = ?", (1,))\nx = """never closed\n');
    // 20,000-deep nested parentheses, with a statement before them.
    // Twenty parentheses a line, so the file is not mistaken for a minified one and the parsers meet the nesting.
    const deep = ('('.repeat(20) + '\n').repeat(1000) + '1' + ('\n' + ')'.repeat(20)).repeat(1000);
    w('deep.ts', `import { Pool } from 'pg';\nconst pool = new Pool();\npool.query('SELECT * FROM deep_ts');\nconst x = ${deep};\n`);
    w('deep-only.ts', `pool.query('SELECT * FROM deep_only'); const y = ${deep};\n`);
    w('deep.py', `import sqlite3\nconn = sqlite3.connect(":memory:")\nconn.execute("SELECT * FROM deep_py")\nx = ${deep}\n`);
    // BOM + CRLF.
    w('bom_crlf.py', '\uFEFFimport sqlite3\r\nconn = sqlite3.connect(":memory:")\r\nconn.execute(\r\n    "UPDATE jobs SET status = ? WHERE id = ?", ("done", 1)\r\n)\r\n');
    // Malformed SQL through a known driver.
    w('malformed.ts', "import { Pool } from 'pg';\nconst pool = new Pool();\npool.query('SELECT * FROM WHERE id = $1', [1]);\n");
    // Symbolic link loops.
    fs.mkdirSync(path.join(dir, 'a'));
    fs.symlinkSync('..', path.join(dir, 'a', 'up'));
    fs.symlinkSync('self', path.join(dir, 'self'));
    fs.symlinkSync('missing.py', path.join(dir, 'dangling.py'));
    const r = await runCli(['scan', dir, '--format', 'json']);
    exitCode = r.code;
    assert.equal(r.stderr, '', 'nothing on stderr when it is not a terminal');
    report = JSON.parse(r.stdout) as JsonReport;
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('exits 0 with only JSON on stdout', () => {
    assert.equal(exitCode, 0);
  });

  const SKIPS: Array<[string, RegExp]> = [
    ['binary.py', /binary/],
    ['nul.ts', /binary/],
    ['dist-bundle.js', /larger than/],
    ['app.bundle-small.js', /minified/],
    ['latin1.py', /not valid UTF-8 .*offset 5/],
    ['a/up', /symbolic link loop/],
    ['self', /symbolic link loop/],
    ['dangling.py', /broken symbolic link/],
  ];
  for (const [file, reason] of SKIPS) {
    it(`skips ${file} with a reason`, () => {
      const s = report.summary.skipped.find((k) => k.file === file);
      assert.ok(s, `${file} not in skipped: ${JSON.stringify(report.summary.skipped)}`);
      assert.match(s.reason, reason);
    });
  }

  it('does not list files of unsupported types as skipped', () => {
    assert.equal(report.summary.skipped.find((k) => k.file === 'image.png'), undefined);
  });

  const FOUND: Array<[string, number, number]> = [
    ['ok/jobs.py', 4, 4],
    ['ok/users.ts', 3, 3],
    ['unterminated.ts', 3, 3],
    ['unterminated.py', 3, 3],
    ['deep.ts', 3, 3],
    ['deep.py', 3, 3],
    ['deep-only.ts', 1, 1],
    ['bom_crlf.py', 3, 5],
    ['malformed.ts', 3, 3],
  ];
  for (const [file, start, end] of FOUND) {
    it(`still reports the statement in ${file}`, () => {
      const f = report.findings.find((x) => x.file === file && x.rule === 'raw-sql');
      assert.ok(f, `no raw-sql finding in ${file}; findings: ${JSON.stringify(report.findings.map((x) => [x.file, x.startLine]))}`);
      assert.equal(f.startLine, start);
      assert.equal(f.endLine, end);
    });
  }

  it('reports malformed SQL as an unparsed finding', () => {
    const f = report.findings.find((x) => x.file === 'malformed.ts');
    assert.equal(f?.parsed, false);
  });

  it('scans each real folder once despite the loops', () => {
    const files = report.findings.map((f) => f.file);
    assert.equal(new Set(files).size, files.length, 'a file was reported twice');
  });
});

describe('sqlmigrate CLI', () => {
  it('exits 2 on an unknown command', async () => {
    const r = await runCli(['frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command/);
  });

  it('exits 2 on a bad format', async () => {
    const r = await runCli(['scan', '.', '--format', 'xml']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--format/);
  });

  it('exits 2 on a missing directory', async () => {
    const r = await runCli(['scan', path.join(os.tmpdir(), 'sqlmigrate-does-not-exist')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no such directory/);
  });

  it('exits 2 with every problem of an invalid config, naming the file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-config-'));
    try {
      fs.writeFileSync(path.join(dir, '.sqlmigrate.json'), JSON.stringify({ dialect: 'oracle', exceptions: [{ path: 'a.py' }] }));
      const r = await runCli(['scan', dir]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /\.sqlmigrate\.json/);
      assert.match(r.stderr, /dialect/);
      assert.match(r.stderr, /reason/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses config paths that leave the workspace', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sqlmigrate-config-'));
    try {
      fs.writeFileSync(path.join(dir, '.sqlmigrate.json'), JSON.stringify({ include: ['../secrets/**'] }));
      const r = await runCli(['scan', dir]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /leaves the workspace/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
