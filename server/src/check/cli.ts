/**
 * `sqlmigrate check [dir] [--baseline <file>] [--max-increase <n>] [--format text|json|sarif] [--output <file>]`
 * for `server/src/cli/main.ts` to dispatch to:
 *
 *   case 'check': return runCheckCommand(rest, io);
 *
 * Exit codes: 0 passed, 1 the count rose above the baseline (+ max increase), 2 usage or
 * configuration error or no usable baseline. With `--format sarif|json` and no `--output`, stdout
 * holds only that document and the human message goes to stderr.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { commandError, directoryArg, parseCommandArgs, UsageError, type CommandIo } from '../cli/args';
import { checkJson, CheckSetupError, formatCheck, runCheck } from './check';
import { toSarif } from './sarif';

export const CHECK_USAGE = `  check [dir]     Fail (exit 1) when more statements are left than at the baseline: the CI ratchet
      --baseline <file>              the baseline to compare with (default: dir/.sqlmigrate/baseline.json)
      --max-increase <n>             tolerate up to n more statements, in total and per rule (default: 0)
      --format text|json|sarif       output format (default: text); sarif marks what was added as errors
      --output <file>                write the json or sarif document to a file (the message stays on stdout)
`;

export async function runCheckCommand(argv: string[], io: CommandIo): Promise<number> {
  try {
    const { values, positionals } = parseCommandArgs(argv, {
      baseline: { type: 'string' },
      'max-increase': { type: 'string', default: '0' },
      format: { type: 'string', default: 'text' },
      output: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      io.stdout(`Usage: sqlmigrate check [dir] [options]\n${CHECK_USAGE}`);
      return 0;
    }
    const format = values.format as string;
    if (!['text', 'json', 'sarif'].includes(format)) throw new UsageError(`--format must be text, json or sarif, not "${format}"`);
    const maxText = values['max-increase'] as string;
    if (!/^\d+$/.test(maxText)) throw new UsageError(`--max-increase must be a whole number ≥ 0, not "${maxText}"`);
    const root = directoryArg(positionals);
    const baselineFile = values.baseline ? path.resolve(values.baseline as string) : undefined;
    const result = await runCheck(root, { baselineFile, maxIncrease: Number(maxText) });
    const message = formatCheck(result);
    if (format === 'text') {
      io.stdout(message);
    } else {
      const doc = format === 'json'
        ? checkJson(result)
        : toSarif(result.report, { added: new Set(result.added.flatMap((a) => a.findings)), failure: result.ok ? undefined : message.split('\n')[0] });
      if (values.output) {
        fs.writeFileSync(values.output as string, doc);
        io.stdout(message);
      } else {
        io.stdout(doc);
        io.stderr(message);
      }
    }
    return result.ok ? 0 : 1;
  } catch (e) {
    if (e instanceof CheckSetupError) {
      io.stderr(`sqlmigrate: ${e.message}\n`);
      return 2;
    }
    return commandError(e, io, CHECK_USAGE);
  }
}
