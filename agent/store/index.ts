/** The store's public API: the history database and run exports (accounting: agent/protocol/accounting.ts; Prometheus metrics: agent/server/metrics.ts). */
export { HistoryReader, HistoryStore, asidePath, type OpenReport, type ReaderOptions, type StoreOptions } from './history';
export { defaultRetention, type DownsampleTier, type RetentionPolicy, type RetentionReport } from './retention';
export { SCHEMA_VERSION, migrations } from './schema';
export { defaultHistoryPath } from './paths';
export * from './types';
export { codeCarbonRow, codeCarbonCsv, exportRunCodeCarbon, exportRunJson, exportRunToFile, writeCodeCarbonFile, writeRunExport, CODECARBON_COLUMNS, type RunExport } from './export';
