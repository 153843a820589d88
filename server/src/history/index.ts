/**
 * The migration's history from git (`.sqlmigrate/history.jsonl`) and the burndown built from
 * it. Reads git objects only; writes only the history file (append-only) and its lock.
 */
export * from './points';
export { parseEvery, recordHistory, sampleCommits, HistoryScanner, type Every, type HistoryOptions, type HistoryResult, type HistoryStats } from './history';
export { GitError, openRepository, type Repository, type CommitInfo } from './git';
export * from './trend';
export * from './load';
export { HISTORY_USAGE, runHistoryCommand } from './cli';
export type { CommandIo } from '../cli/args';
