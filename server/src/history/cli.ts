/**
 * `sqlmigrate history [dir] [--since <rev|date>] [--every <n|day|week>] [--json]`, for
 * `server/src/cli/main.ts` to dispatch to:
 *
 *   case 'history': return runHistoryCommand(rest, io);
 *
 * Exit codes: 0 recorded (or nothing new), 2 usage error, not a git repository, or a history
 * file that cannot be written.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { commandError, directoryArg, parseCommandArgs, UsageError, type CommandIo } from '../cli/args';
import { parseEvery, recordHistory } from './history';
import { HISTORY_FILE } from './points';

export const HISTORY_USAGE = `  history [dir]   Record the migration's history from git into dir/${HISTORY_FILE}
                  (reads past commits without checking them out; only new commits are scanned)
      --since <rev|date>             start at this commit (on HEAD's first-parent line) or date
      --every <n|day|week>           every nth commit, or the last commit of each day or week
      --json                         print the recorded points and counters as JSON
`;

export async function runHistoryCommand(argv: string[], io: CommandIo): Promise<number> {
  try {
    const { values, positionals } = parseCommandArgs(argv, {
      since: { type: 'string' },
      every: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      io.stdout(`Usage: sqlmigrate history [dir] [options]\n${HISTORY_USAGE}`);
      return 0;
    }
    const every = parseEvery(values.every as string | undefined);
    if (typeof every === 'string') throw new UsageError(every);
    const root = directoryArg(positionals);
    const progress = io.stderrIsTTY
      ? (done: number, total: number) => io.stderr(`\rscanning commit ${done}/${total}…`)
      : undefined;
    const result = await recordHistory(root, {
      since: values.since as string | undefined,
      every,
      onProgress: progress,
      onWarning: (m) => io.stderr(`sqlmigrate: ${m}\n`),
    });
    if (progress) io.stderr('\r' + ' '.repeat(40) + '\r');
    const s = result.stats;
    if (values.json) {
      io.stdout(JSON.stringify({ file: path.relative(process.cwd(), result.file) || result.file, stats: s, skipped: result.skipped, points: result.appended }, null, 2) + '\n');
      return 0;
    }
    const rel = path.relative(process.cwd(), result.file) || result.file;
    if (s.candidates === 0) io.stdout('No commits yet: nothing to record.\n');
    else if (result.appended.length === 0 && result.skipped.length === 0) io.stdout(`Up to date: all ${s.candidates} selected commit${s.candidates === 1 ? ' is' : 's are'} already in ${rel}.\n`);
    else {
      const last = result.appended[result.appended.length - 1];
      const left = last ? Object.values(last.totals).reduce((a, b) => a + b, 0) - Object.values(last.kept).reduce((a, b) => a + b, 0) : 0;
      io.stdout(
        `Recorded ${result.appended.length} point${result.appended.length === 1 ? '' : 's'} in ${rel}` +
          ` (${s.commitsScanned} commit${s.commitsScanned === 1 ? '' : 's'} scanned, ${s.alreadyRecorded} already recorded;` +
          ` ${s.blobsAnalysed} file versions analysed, ${s.blobsReused} reused).` +
          (last ? `\nLatest: ${last.commit?.slice(0, 10)} (${last.date.slice(0, 10)}): ${left} finding${left === 1 ? '' : 's'} left to migrate.` : '') +
          (result.skipped.length ? `\n${result.skipped.length} commit${result.skipped.length === 1 ? '' : 's'} skipped (see above).` : '') +
          '\n',
      );
    }
    return 0;
  } catch (e) {
    return commandError(e, io, HISTORY_USAGE);
  }
}

