/**
 * The "sqlmigrate" output channel, remembering its last lines so that tests (and a future
 * "copy diagnostics" command) can read what the client and the server logged: VS Code's
 * OutputChannel has no way to read back. Everything is forwarded to the real channel.
 */
import * as vscode from 'vscode';

export class RecordingOutputChannel implements vscode.OutputChannel {
  private readonly inner: vscode.OutputChannel;
  private readonly lines: string[] = [];
  private partial = '';

  constructor(
    readonly name: string,
    private readonly keep = 2000,
  ) {
    this.inner = vscode.window.createOutputChannel(name);
  }

  /** The last lines written (at most `keep`). */
  recent(): string[] {
    return this.partial ? [...this.lines, this.partial] : [...this.lines];
  }

  append(value: string): void {
    this.record(value);
    this.inner.append(value);
  }

  appendLine(value: string): void {
    this.record(`${value}\n`);
    this.inner.appendLine(value);
  }

  replace(value: string): void {
    this.lines.length = 0;
    this.partial = '';
    this.record(value);
    this.inner.replace(value);
  }

  clear(): void {
    this.lines.length = 0;
    this.partial = '';
    this.inner.clear();
  }

  show(preserveFocus?: boolean): void;
  show(column?: vscode.ViewColumn, preserveFocus?: boolean): void;
  show(a?: boolean | vscode.ViewColumn, b?: boolean): void {
    if (typeof a === 'boolean' || a === undefined) this.inner.show(a);
    else this.inner.show(a, b);
  }

  hide(): void {
    this.inner.hide();
  }

  dispose(): void {
    this.inner.dispose();
  }

  private record(text: string): void {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    this.lines.push(...parts);
    if (this.lines.length > this.keep) this.lines.splice(0, this.lines.length - this.keep);
  }
}
