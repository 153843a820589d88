/**
 * The CI ratchet (`sqlmigrate check`) and SARIF 2.1.0 output for `scan` and `check`.
 */
export * from './check';
export { sarifLog, toSarif, SARIF_SCHEMA_URI, type SarifOptions } from './sarif';
export { CHECK_USAGE, runCheckCommand } from './cli';
