/**
 * The VS Code extension: starts the sqlmigrate language server over IPC and adds what only an
 * editor can show — the status bar item, the "Migration progress" view, Explorer badges, the
 * commands, and the output channel. Analysis and the ledger live in the server; this side only
 * asks for data (`../../server/src/protocol.ts`) and renders it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as vscode from 'vscode';
import { LanguageClient, RevealOutputChannelOn, State, TransportKind, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';
import {
  ClientCommands,
  FileFindingsRequest,
  ProgressChangedNotification,
  ProgressRequest,
  RecordBaselineRequest,
  RescanRequest,
  ServerInfoRequest,
  type InitializationOptions,
  type ProgressResult,
  type RangeJson,
  type RecordBaselineResult,
} from '../../server/src/protocol';
import { BurndownRequest, fetchBurndown, type FetchedBurndown } from './burndownData';
import { BurndownPanel, registerBurndownSerializer, type BurndownDeps } from './burndownPanel';
import { RemainingDecorations } from './decorations';
import { RecordingOutputChannel } from './output';
import { StatusBar } from './status';
import { ProgressTree, type GroupBy } from './tree';

export const VIEW_ID = 'sqlmigrate.progress';
const LANGUAGES = ['typescript', 'typescriptreact', 'javascript', 'javascriptreact', 'python'];

let client: LanguageClient | undefined;

/**
 * Milliseconds since `activate()` was entered: when it returned, when the server process was
 * running (LSP initialised), and when the server first reported a finished workspace scan.
 */
export interface ActivationTimes {
  activateMs?: number;
  serverRunningMs?: number;
  firstReadyMs?: number;
}

export interface SqlmigrateApi {
  client(): LanguageClient | undefined;
  tree: ProgressTree;
  status: StatusBar;
  decorations: RemainingDecorations;
  output: RecordingOutputChannel;
  /** Where the server module was loaded from (the bundle in a packaged extension). */
  serverModule: string;
  /** Where the server persists its per-file scan cache (initializationOptions.cacheDir). */
  cacheDir: string;
  activation: ActivationTimes;
}

/**
 * The server module: the bundle next to this file in the packaged extension (scripts/bundle.mjs
 * writes dist/extension.js and dist/server.js, and the tree-sitter .wasm files beside them), the
 * tsc output when running from a source checkout.
 */
function serverLocation(context: vscode.ExtensionContext): { module: string; env: NodeJS.ProcessEnv } {
  const bundled = path.join(__dirname, 'server.js');
  if (path.basename(__dirname) === 'dist' && fs.existsSync(bundled)) {
    return { module: bundled, env: { ...process.env, SQLMIGRATE_WASM_DIR: __dirname } };
  }
  return { module: context.asAbsolutePath(path.join('out', 'server', 'src', 'server.js')), env: { ...process.env } };
}

export async function activate(context: vscode.ExtensionContext): Promise<SqlmigrateApi> {
  const t0 = performance.now();
  const since = () => Math.round(performance.now() - t0);
  const activation: ActivationTimes = {};
  const output = new RecordingOutputChannel('sqlmigrate');
  const status = new StatusBar();
  const decorations = new RemainingDecorations();
  context.subscriptions.push(output, status, decorations, vscode.window.registerFileDecorationProvider(decorations));

  const tree = new ProgressTree({
    progress: async () => (client?.state === State.Running ? client.sendRequest(ProgressRequest.type, {}) : undefined),
    fileFindings: async (uri) => (client?.state === State.Running ? client.sendRequest(FileFindingsRequest.type, { uri }) : []),
  });
  const view = vscode.window.createTreeView(VIEW_ID, { treeDataProvider: tree, showCollapseAll: true });
  context.subscriptions.push(view);

  let refreshTimer: NodeJS.Timeout | undefined;
  let refreshing: Promise<void> = Promise.resolve();
  const refresh = (): Promise<void> => {
    refreshing = refreshing.then(async () => {
      try {
        await tree.refresh();
        decorations.update(tree.data);
        view.message = tree.data?.folders.find((f) => f.baselineError)?.baselineError ?? undefined;
      } catch (e) {
        output.appendLine(`[client] refreshing the progress view failed: ${(e as Error)?.stack ?? e}`);
      }
    });
    return refreshing;
  };
  const refreshSoon = () => {
    if (refreshTimer) clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => void refresh(), 300);
  };

  const { module: serverModule, env: serverEnv } = serverLocation(context);
  const serverOptions: ServerOptions = {
    run: { module: serverModule, transport: TransportKind.ipc, options: { env: serverEnv } },
    debug: { module: serverModule, transport: TransportKind.ipc, options: { env: serverEnv, execArgv: ['--nolazy', '--inspect=6019'] } },
  };
  const watchers = [
    vscode.workspace.createFileSystemWatcher('**/*.{ts,tsx,mts,cts,js,jsx,mjs,cjs,py}'),
    vscode.workspace.createFileSystemWatcher('**/.sqlmigrate.json'),
    vscode.workspace.createFileSystemWatcher('**/.sqlmigrate/baseline.json'),
  ];
  context.subscriptions.push(...watchers);
  // Where the server keeps its per-file scan cache across restarts: this workspace's storage
  // (the global storage when no folder is open). VS Code does not create the folder itself.
  const cacheDir = (context.storageUri ?? context.globalStorageUri).fsPath;
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
  } catch (e) {
    output.appendLine(`[client] cannot create the scan cache folder ${cacheDir}: ${(e as Error).message}`);
  }
  // A function: evaluated at every (re)start, so a restart after trust is granted says so.
  // `trusted: false` (Restricted Mode) turns off what writes files or runs git (see README).
  const initializationOptions = (): InitializationOptions & { trusted: boolean; cacheDir: string } => ({
    clientCommands: [ClientCommands.showInProgress, ClientCommands.selectKeepReason],
    trusted: vscode.workspace.isTrusted,
    cacheDir,
  });
  const clientOptions: LanguageClientOptions = {
    documentSelector: LANGUAGES.flatMap((language) => [{ scheme: 'file', language }, { scheme: 'untitled', language }]),
    synchronize: { fileEvents: watchers },
    outputChannel: output,
    revealOutputChannelOn: RevealOutputChannelOn.Never,
    initializationOptions,
  };
  client = new LanguageClient('sqlmigrate', 'sqlmigrate', serverOptions, clientOptions);
  const c = client;
  /** Whether to ask the server for the burndown (false once it said it does not know the request). */
  let serverBurndown = true;
  c.onNotification(ProgressChangedNotification.type, (p) => {
    if (p.state === 'ready' && activation.firstReadyMs === undefined) {
      activation.firstReadyMs = since();
      output.appendLine(`[client] workspace scanned: first progress ${activation.firstReadyMs} ms after activation`);
    }
    status.update(p);
    refreshSoon();
    // The server's burndown ends with the work tree as it is now: follow it.
    if (p.state === 'ready' && serverBurndown) BurndownPanel.refreshOpen(1000);
  });
  context.subscriptions.push(
    c.onDidChangeState((e) => {
      output.appendLine(`[client] server state: ${State[e.oldState]} → ${State[e.newState]}`);
      if (e.newState === State.Starting) status.setPhase('starting');
      else if (e.newState === State.Running) {
        activation.serverRunningMs ??= since();
        status.setPhase('running');
        refreshSoon();
      } else status.setPhase('failed');
    }),
  );

  const withClient = async <T>(fn: (c: LanguageClient) => Promise<T>): Promise<T | undefined> => {
    if (c.state !== State.Running) {
      void vscode.window.showWarningMessage('sqlmigrate: the language server is not running.', 'Show Output').then((a) => a && output.show());
      return undefined;
    }
    return fn(c);
  };

  const recordBaseline = async (options?: { force?: boolean; folderUri?: string }): Promise<RecordBaselineResult | undefined> => {
    if (!vscode.workspace.isTrusted) {
      // Hidden from the menus in Restricted Mode; this covers a call from elsewhere.
      void vscode.window.showWarningMessage('sqlmigrate: recording a baseline writes .sqlmigrate/baseline.json and runs git; it is off in Restricted Mode. Trust the workspace to record one.');
      return undefined;
    }
    let folderUri = options?.folderUri;
    const folders = vscode.workspace.workspaceFolders ?? [];
    if (!folderUri && folders.length > 1) {
      const pick = await vscode.window.showWorkspaceFolderPick({ placeHolder: 'Record the baseline of which folder?' });
      if (!pick) return undefined;
      folderUri = pick.uri.toString();
    }
    return withClient(async (cl) => {
      let r = await cl.sendRequest(RecordBaselineRequest.type, { folderUri, force: options?.force });
      if (!r.ok && (r.reason === 'exists' || r.reason === 'corrupt') && !options?.force) {
        const choice = await vscode.window.showWarningMessage(`${r.message}`, { modal: true }, 'Replace the baseline');
        if (choice !== 'Replace the baseline') return r;
        r = await cl.sendRequest(RecordBaselineRequest.type, { folderUri, force: true });
      }
      if (r.ok) {
        void vscode.window.showInformationMessage(`sqlmigrate: baseline recorded — ${r.baseline.remaining} statements to migrate, ${r.baseline.kept} kept on purpose. Commit .sqlmigrate/baseline.json.`);
      } else {
        void vscode.window.showErrorMessage(`sqlmigrate: ${r.message}`);
      }
      await refresh();
      return r;
    });
  };

  const keepOnPurpose = async (uri: string, range: RangeJson) => {
    const target = vscode.Uri.parse(uri);
    const r = new vscode.Range(range.start.line, range.start.character, range.end.line, range.end.character);
    await vscode.window.showTextDocument(target, { selection: r });
    const actions = (await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', target, r, vscode.CodeActionKind.QuickFix.value, 10)) ?? [];
    const keep = actions.find((a) => a.title.startsWith('Keep this statement on purpose'));
    if (!keep?.edit) {
      void vscode.window.showInformationMessage('sqlmigrate: this statement cannot be kept from here (already kept, or the file changed).');
      return false;
    }
    const ok = await vscode.workspace.applyEdit(keep.edit);
    if (ok && keep.command) await vscode.commands.executeCommand(keep.command.command, ...(keep.command.arguments ?? []));
    return ok;
  };

  const setGroup = (g: GroupBy) => {
    tree.setGroupBy(g);
    void vscode.commands.executeCommand('setContext', 'sqlmigrate.groupBy', g);
  };
  const setRemainingOnly = (v: boolean) => {
    tree.setRemainingOnly(v);
    void vscode.commands.executeCommand('setContext', 'sqlmigrate.remainingOnly', v);
  };
  void vscode.commands.executeCommand('setContext', 'sqlmigrate.groupBy', 'folder');
  void vscode.commands.executeCommand('setContext', 'sqlmigrate.remainingOnly', false);
  void vscode.commands.executeCommand('setContext', 'sqlmigrate.languages', LANGUAGES);

  const findingArgs = (a: unknown, b?: unknown): { uri: string; range: RangeJson } | undefined => {
    // From the tree's context menu: the node; from elsewhere: (uri, range).
    if (a && typeof a === 'object' && (a as { type?: string }).type === 'finding') {
      const n = a as { uri: string; finding: { range: RangeJson } };
      return { uri: n.uri, range: n.finding.range };
    }
    if (typeof a === 'string' && b) return { uri: a, range: b as RangeJson };
    return undefined;
  };

  // The burndown's data: from the server (`sqlmigrate/burndown`) while it is running and handles
  // the request, else read by the client (./burndownData.ts). A server that answers "method not
  // found" is not asked again until it restarts (`serverBurndown`, declared above).
  const burndownDeps: BurndownDeps = {
    extensionPath: context.extensionPath,
    log: (line) => output.appendLine(line),
    fetch: async (folder): Promise<FetchedBurndown> => {
      const ask = serverBurndown && c.state === State.Running ? (p: { folderUri: string }) => c.sendRequest(BurndownRequest.type, p) : undefined;
      try {
        const r = await fetchBurndown(folder.uri.fsPath, folder.uri.toString(), ask);
        if (ask && r.source === 'client') serverBurndown = false;
        return r;
      } catch (e) {
        output.appendLine(`[burndown] the server could not build the burndown (${(e as Error)?.message ?? e}); reading it in the client`);
        return fetchBurndown(folder.uri.fsPath, folder.uri.toString());
      }
    },
  };
  context.subscriptions.push(
    registerBurndownSerializer(burndownDeps),
    { dispose: () => BurndownPanel.disposeOpen() },
    c.onDidChangeState((e) => {
      if (e.newState === State.Running) {
        serverBurndown = true;
        BurndownPanel.refreshOpen();
      }
    }),
  );
  const showBurndown = async (folderArg?: unknown) => {
    const folders = vscode.workspace.workspaceFolders ?? [];
    const wanted = typeof folderArg === 'string' ? folderArg : folderArg instanceof vscode.Uri ? folderArg.toString() : undefined;
    let folder = wanted ? folders.find((f) => f.uri.toString() === wanted) : undefined;
    if (!folder && folders.length === 1) folder = folders[0];
    if (!folder && folders.length > 1) folder = await vscode.window.showWorkspaceFolderPick({ placeHolder: 'Show the migration burndown of which folder?' });
    if (!folder) {
      if (!folders.length) void vscode.window.showInformationMessage('sqlmigrate: open a folder to see its migration burndown.');
      return undefined;
    }
    await BurndownPanel.show(burndownDeps, folder);
    return BurndownPanel.snapshot();
  };
  // Restricted Mode → trusted: start again so the server turns on what it left off.
  context.subscriptions.push(
    vscode.workspace.onDidGrantWorkspaceTrust(async () => {
      output.appendLine('[client] the workspace is trusted now: restarting the language server');
      status.setPhase('starting');
      await c.restart().catch((e: unknown) => output.appendLine(`[client] restart after trust failed: ${(e as Error)?.stack ?? e}`));
    }),
  );

  const reg = (id: string, fn: (...args: any[]) => unknown) => context.subscriptions.push(vscode.commands.registerCommand(id, fn));
  reg('sqlmigrate.openProgress', () => vscode.commands.executeCommand(`${VIEW_ID}.focus`));
  reg('sqlmigrate.showBurndown', (folderArg?: unknown) => showBurndown(folderArg));
  // For tests and automation (hidden from the palette): what the burndown panel shows.
  reg('sqlmigrate.burndownSnapshot', async (options?: { waitForRenderMs?: number }) => {
    if (options?.waitForRenderMs) await BurndownPanel.nextRender(options.waitForRenderMs);
    return BurndownPanel.snapshot();
  });
  reg('sqlmigrate.refresh', () => refresh());
  reg('sqlmigrate.rescan', () => withClient(async (cl) => {
    await cl.sendRequest(RescanRequest.type);
    await refresh();
  }));
  reg('sqlmigrate.recordBaseline', (options?: { force?: boolean; folderUri?: string }) => recordBaseline(options && typeof options === 'object' && !('type' in options) ? options : undefined));
  reg('sqlmigrate.groupByFolder', () => setGroup('folder'));
  reg('sqlmigrate.groupByRule', () => setGroup('rule'));
  reg('sqlmigrate.groupByStatus', () => setGroup('status'));
  reg('sqlmigrate.showRemainingOnly', () => setRemainingOnly(true));
  reg('sqlmigrate.showAll', () => setRemainingOnly(false));
  reg('sqlmigrate.showOutput', () => output.show());
  reg('sqlmigrate.restartServer', async () => {
    status.setPhase('starting');
    await c.restart();
  });
  reg('sqlmigrate.openFinding', async (uri: string, range: RangeJson) => {
    const r = new vscode.Range(range.start.line, range.start.character, range.end.line, range.end.character);
    const editor = await vscode.window.showTextDocument(vscode.Uri.parse(uri), { selection: r, preserveFocus: false });
    editor.revealRange(r, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  });
  reg('sqlmigrate.keepOnPurpose', async (a: unknown, b?: unknown) => {
    const args = findingArgs(a, b);
    if (args) return keepOnPurpose(args.uri, args.range);
    return undefined;
  });
  reg('sqlmigrate.showQuickFixes', async (a: unknown, b?: unknown) => {
    const args = findingArgs(a, b);
    if (!args) return;
    const r = new vscode.Range(args.range.start.line, args.range.start.character, args.range.end.line, args.range.end.character);
    await vscode.window.showTextDocument(vscode.Uri.parse(args.uri), { selection: new vscode.Selection(r.start, r.start) });
    await vscode.commands.executeCommand('editor.action.quickFix');
  });
  reg(ClientCommands.showInProgress, async (uri?: string, range?: RangeJson) => {
    await vscode.commands.executeCommand(`${VIEW_ID}.focus`);
    const target = uri ?? vscode.window.activeTextEditor?.document.uri.toString();
    if (!target) return;
    if (!tree.data) await refresh();
    const node = await tree.find(target, range);
    if (node) await view.reveal(node, { select: true, focus: true, expand: true });
    else void vscode.window.showInformationMessage('sqlmigrate: this file has no findings in the migration progress.');
  });
  reg(ClientCommands.selectKeepReason, async (uri: string, line: number, start: number, end: number) => {
    const editor = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === vscode.Uri.parse(uri).toString()) ?? (await vscode.window.showTextDocument(vscode.Uri.parse(uri)));
    editor.selection = new vscode.Selection(line, start, line, end);
    editor.revealRange(editor.selection);
  });
  // For tests and automation (hidden from the palette): what the tree and the status bar show.
  reg('sqlmigrate.treeSnapshot', async () => {
    await refresh();
    return { data: tree.data, items: await tree.snapshot() };
  });
  reg('sqlmigrate.statusText', () => status.text);
  reg('sqlmigrate.serverInfo', () => (c.state === State.Running ? c.sendRequest(ServerInfoRequest.type) : undefined));

  // Activation does not wait for the server: it starts (and scans the workspace) in its own
  // process while the editor carries on; commands check that it is running.
  status.setPhase('starting');
  output.appendLine(`[client] starting the language server ${serverModule}`);
  void c.start().then(
    () => {
      output.appendLine(`[client] language server running ${activation.serverRunningMs ?? since()} ms after activation`);
      void refresh();
    },
    (e: unknown) => {
      status.setPhase('failed');
      output.appendLine(`[client] the language server failed to start: ${(e as Error)?.stack ?? e}`);
      void vscode.window.showErrorMessage('sqlmigrate: the language server failed to start.', 'Open Output').then((a) => a && output.show());
    },
  );

  activation.activateMs = since();
  return { client: () => client, tree, status, decorations, output, serverModule, cacheDir, activation };
}

export async function deactivate(): Promise<void> {
  if (client) await client.stop().catch(() => undefined);
  client = undefined;
}

export type { ProgressResult };
