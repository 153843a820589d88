/**
 * `sqlmigrate report [dir] [--format markdown|html] [--output <file>]` for
 * `server/src/cli/main.ts` to dispatch to:
 *
 *   case 'report': return runReportCommand(rest, io);
 *
 * Markdown with `--output docs/migration.md` also writes the chart next to it
 * (`docs/migration.trend.svg`) and links it; to stdout the SVG is inlined. HTML is one
 * self-contained file. Exit codes: 0 written, 2 usage or configuration error.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { commandError, directoryArg, parseCommandArgs, UsageError, type CommandIo } from '../cli/args';
import { buildReport, toReportHtml, toReportMarkdown } from './report';
import { trendSvg } from './svg';

export const REPORT_USAGE = `  report [dir]    The migration report: summary vs baseline and target, trend chart (SVG),
                  per-rule and per-folder tables, what is kept and why, remaining work by complexity
      --format markdown|html         output format (default: markdown)
      --output <file>                write to a file (markdown: the chart goes to <name>.trend.svg beside it)
`;

/** The chart file written next to a Markdown report. */
export function chartPathFor(output: string): string {
  const ext = path.extname(output);
  return `${ext ? output.slice(0, -ext.length) : output}.trend.svg`;
}

export async function runReportCommand(argv: string[], io: CommandIo): Promise<number> {
  try {
    const { values, positionals } = parseCommandArgs(argv, {
      format: { type: 'string', default: 'markdown' },
      output: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help) {
      io.stdout(`Usage: sqlmigrate report [dir] [options]\n${REPORT_USAGE}`);
      return 0;
    }
    const format = values.format === 'md' ? 'markdown' : (values.format as string);
    if (!['markdown', 'html'].includes(format)) throw new UsageError(`--format must be markdown or html, not "${format}"`);
    const root = directoryArg(positionals);
    const model = await buildReport(root);
    for (const w of model.warnings) io.stderr(`sqlmigrate: ${w}\n`);
    const output = values.output as string | undefined;
    if (format === 'html') {
      const html = toReportHtml(model);
      if (output) write(output, html, io);
      else io.stdout(html);
      return 0;
    }
    if (!output) {
      io.stdout(toReportMarkdown(model));
      return 0;
    }
    const chart = chartPathFor(output);
    write(chart, trendSvg(model.burndown), io);
    write(output, toReportMarkdown(model, { chartHref: path.basename(chart) }), io);
    return 0;
  } catch (e) {
    return commandError(e, io, REPORT_USAGE);
  }
}

function write(file: string, text: string, io: CommandIo): void {
  try {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(file, text);
  } catch (e) {
    throw new UsageError(`cannot write ${file}: ${(e as Error).message}`);
  }
  if (io.stderrIsTTY) io.stderr(`wrote ${file}\n`);
}
