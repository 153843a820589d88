/**
 * The migration ledger: the committed baseline (`.sqlmigrate/baseline.json`), progress against
 * it and the config target, per-file status, and the `baseline` / `progress` CLI commands.
 * Unlike the engine, this module writes files (the baseline only, atomically).
 */
export * from './baseline';
export * from './progress';
export { LEDGER_USAGE, ledgerFiles, runBaselineCommand, runProgressCommand, type LedgerIo } from './cli';
