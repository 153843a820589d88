/**
 * What every `sqlmigrate` subcommand shares: its io, argument parsing, the directory argument,
 * and the mapping of expected errors to messages and exit codes (2: usage or set-up problem).
 *
 *   const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } });
 *   const root = directoryArg(positionals);
 *   ...
 *   } catch (e) { return commandError(e, io, USAGE); }
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../engine/config';
import { GitError } from '../history/git';
import { HistoryError } from '../history/points';
import { LedgerError } from '../ledger/baseline';

export interface CommandIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** When true, progress goes to stderr. */
  stderrIsTTY?: boolean;
}

export class UsageError extends Error {}

type Options = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>;

export function parseCommandArgs<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** The one optional directory argument (default: the current directory), resolved and checked. */
export function directoryArg(positionals: string[]): string {
  if (positionals.length > 1) throw new UsageError(`expected one directory, got ${positionals.length}`);
  const dir = path.resolve(positionals[0] ?? '.');
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new UsageError(`no such directory: ${positionals[0] ?? '.'}`);
  }
  if (!st.isDirectory()) throw new UsageError(`not a directory: ${positionals[0]}`);
  return dir;
}

/** Maps the errors every command shares to messages and exit codes; rethrows the rest. */
export function commandError(e: unknown, io: CommandIo, usage: string): number {
  if (e instanceof UsageError) {
    io.stderr(`sqlmigrate: ${e.message}\n\nUsage:\n${usage}`);
    return 2;
  }
  if (e instanceof ConfigError) {
    io.stderr(`sqlmigrate: invalid configuration in ${e.file}:\n${e.details.map((d) => `  - ${d}`).join('\n')}\n`);
    return 2;
  }
  if (e instanceof GitError || e instanceof HistoryError || e instanceof LedgerError) {
    io.stderr(`sqlmigrate: ${e.message}\n`);
    return 2;
  }
  throw e;
}
