/**
 * The sqlmigrate language server's entry point.
 *
 *   node out/server/src/server.js --stdio       # any LSP editor (or: npm run --silent server -- --stdio)
 *   (the VS Code extension starts it over IPC)
 *
 * The transport is chosen from the command line by vscode-languageserver (--stdio,
 * --node-ipc, --socket=N, --pipe=name). All behaviour lives in ./lsp/host.ts.
 */
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { describeError } from './lsp/guard';
import { SqlmigrateServer } from './lsp/host';

const transports = ['--stdio', '--node-ipc', '--socket', '--pipe', '--clientProcessId'];
if (!process.argv.slice(2).some((a) => transports.some((t) => a.startsWith(t))) && !process.send) {
  process.stderr.write('sqlmigrate language server: pass --stdio (or run it from an editor that uses IPC).\n');
  process.exit(2);
}

const connection = createConnection(ProposedFeatures.all);

// Nothing may take the server down: log and carry on.
process.on('uncaughtException', (e) => connection.console.error(`uncaught: ${describeError(e)}`));
process.on('unhandledRejection', (e) => connection.console.error(`unhandled rejection: ${describeError(e)}`));

// `--cache-dir=PATH` (or initializationOptions.cacheDir, e.g. the extension's storage path):
// where per-file results persist across restarts (see ./cache).
const cacheArg = process.argv.slice(2).find((a) => a.startsWith('--cache-dir='));
new SqlmigrateServer(connection, { cacheDir: cacheArg ? cacheArg.slice('--cache-dir='.length) : undefined }).listen();
