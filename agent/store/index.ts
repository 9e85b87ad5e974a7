/** The store's public API: history database, exports, Prometheus metrics (accounting: agent/protocol/accounting.ts). */
export { HistoryReader, HistoryStore, asidePath, type OpenReport, type ReaderOptions, type StoreOptions } from './history';
export { defaultRetention, type DownsampleTier, type RetentionPolicy, type RetentionReport } from './retention';
export { SCHEMA_VERSION, migrations } from './schema';
export { defaultHistoryPath } from './paths';
export * from './types';
export { codeCarbonRow, codeCarbonCsv, exportRunCodeCarbon, exportRunJson, exportRunToFile, writeCodeCarbonFile, writeRunExport, CODECARBON_COLUMNS, type RunExport } from './export';
export { ChaseMetrics, MetricsServer, DEFAULT_METRICS_PORT, type MetricsUpdate, type MetricsServerOptions } from './metrics';
export { sampleRecords, metricsGpus, intensityRecord, forecastRecords, metricsIntensity } from './adapters';
