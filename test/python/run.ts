/**
 * Runs test/python/harness.py under Debian's python3 (python3-sqlalchemy 1.4) with JSON in and out.
 * `/usr/bin/python3` explicitly: a `python3` earlier on PATH (pyenv, a virtualenv) may lack
 * Debian's dist-packages. SQLMIGRATE_PYTHON overrides it.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const PYTHON = process.env.SQLMIGRATE_PYTHON ?? '/usr/bin/python3';
/** The harness and models live in the source tree, next to this file's source. */
export const HARNESS_DIR = path.join(__dirname, '..', '..', '..', 'test', 'python');

export interface Pair {
  name: string;
  original: string;
  rewritten: string;
}

export interface CallResult {
  name: string;
  fn: string;
  kwargs: Record<string, unknown>;
  original: { result: unknown; rows: unknown; session: unknown };
  rewritten: { result: unknown; rows: unknown; session: unknown };
}

export interface HarnessOutput {
  sqlalchemy: string;
  results: CallResult[];
  errors: Array<{ name: string; side: string; error: string }>;
}

function python(args: string[], input: string): string {
  if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: apt-get install python3 python3-sqlalchemy python3-flask-sqlalchemy (.ci/run does)`);
  const r = spawnSync(PYTHON, args, { input, encoding: 'utf8', cwd: HARNESS_DIR, maxBuffer: 256 * 1024 * 1024, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${PYTHON} ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(-2000)}`);
  return r.stdout;
}

export function runHarness(pairs: Pair[]): HarnessOutput {
  const out = JSON.parse(python([path.join(HARNESS_DIR, 'harness.py')], JSON.stringify({ pairs }))) as HarnessOutput;
  if (!/^1\.4\./.test(out.sqlalchemy)) throw new Error(`expected SQLAlchemy 1.4 (Debian's python3-sqlalchemy), found ${out.sqlalchemy}`);
  return out;
}

/** `python3 -m py_compile` without writing .pyc files: compile() of each text; returns the errors. */
export function compileErrors(sources: Array<{ name: string; text: string }>): string[] {
  const script = 'import json,sys\nerrs=[]\nfor s in json.load(sys.stdin):\n    try:\n        compile(s["text"], s["name"], "exec")\n    except SyntaxError as e:\n        errs.append("%s:%s: %s" % (s["name"], e.lineno, e.msg))\nprint(json.dumps(errs))\n';
  return JSON.parse(python(['-c', script], JSON.stringify(sources))) as string[];
}
