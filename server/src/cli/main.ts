/**
 * The `sqlmigrate` command line. Exit codes: 0 success, 1 a check failed,
 * 2 a usage or configuration error. Only the requested output goes to stdout;
 * progress goes to stderr, and only when stderr is a terminal.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../engine/config';
import { directoryArg, parseCommandArgs, UsageError } from './args';
import { toJson, toMarkdown, toTable } from '../engine/report/inventory';
import { scanDirectory } from '../engine/scan';
import { LEDGER_USAGE, runBaselineCommand, runProgressCommand } from '../ledger/cli';
import { FileResultCache } from '../cache';
import { CHECK_USAGE, runCheckCommand, toSarif } from '../check';
import { detectOptions } from '../engine/config';
import { loadConfig } from '../engine/scan';
import { HISTORY_USAGE, runHistoryCommand } from '../history/cli';
import { REPORT_USAGE, runReportCommand } from '../report/cli';
import { sqlmigrateVersion } from '../version';
import { FIX_USAGE, runFixCommand } from '../rewrite/fix';

const USAGE = `Usage: sqlmigrate <command> [options]

Commands:
  scan [dir]      Inventory raw SQL and legacy session patterns under dir (default: .)
      --format table|json|markdown|sarif   output format (default: table)
      --output <file>                write to a file instead of stdout
      --cache-dir <dir>              reuse per-file results of earlier scans kept in dir
${LEDGER_USAGE}${CHECK_USAGE}${HISTORY_USAGE}${REPORT_USAGE}${FIX_USAGE}
Options:
  -h, --help      show this help
  -v, --version   print the version
`;


export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  stderrIsTTY: boolean;
}

const defaultIo: Io = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  stderrIsTTY: !!process.stderr.isTTY,
};

export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  try {
    return await run(argv, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`sqlmigrate: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    if (e instanceof ConfigError) {
      io.stderr(`sqlmigrate: invalid configuration in ${e.file}:\n${e.details.map((d) => `  - ${d}`).join('\n')}\n`);
      return 2;
    }
    io.stderr(`sqlmigrate: internal error: ${(e as Error)?.stack ?? e}\n`);
    return 3;
  }
}

async function run(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    io.stdout(USAGE);
    return command ? 0 : 2;
  }
  if (command === '-v' || command === '--version') {
    io.stdout(`${version()}\n`);
    return 0;
  }
  switch (command) {
    case 'scan':
      return scan(rest, io);
    case 'baseline':
      return runBaselineCommand(rest, io);
    case 'progress':
      return runProgressCommand(rest, io);
    case 'check':
      return runCheckCommand(rest, io);
    case 'history':
      return runHistoryCommand(rest, io);
    case 'report':
      return runReportCommand(rest, io);
    case 'fix':
      return runFixCommand(rest, io);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

async function scan(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, {
    format: { type: 'string', default: 'table' },
    output: { type: 'string' },
    'cache-dir': { type: 'string' },
  });
  const format = values.format as string;
  if (!['table', 'json', 'markdown', 'sarif'].includes(format)) throw new UsageError(`--format must be table, json, markdown or sarif, not "${format}"`);
  const root = directoryArg(positionals);
  const progress = io.stderrIsTTY
    ? (done: number, file: string) => {
        if (done % 25 === 0) io.stderr(`\rscanning ${done} files… ${file.slice(-60).padEnd(60)}`);
      }
    : undefined;
  const config = loadConfig(root);
  const cacheDir = values['cache-dir'] as string | undefined;
  const cache = cacheDir ? FileResultCache.open(path.resolve(cacheDir), root, detectOptions(config)) : undefined;
  const report = await scanDirectory(root, { config, onProgress: progress, cache });
  if (cache && !cache.save()) io.stderr(`sqlmigrate: could not write the scan cache in ${cacheDir}; the next scan starts cold\n`);
  if (progress) io.stderr('\r' + ' '.repeat(80) + '\r');
  const text =
    format === 'json' ? toJson(report) : format === 'markdown' ? toMarkdown(report) : format === 'sarif' ? toSarif(report) : toTable(report);
  if (values.output) fs.writeFileSync(values.output as string, text);
  else io.stdout(text);
  return 0;
}

const version = sqlmigrateVersion;

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
