/** The store's public API: history database, accounting, exports, Prometheus metrics. */
export { HistoryReader, HistoryStore, asidePath, type OpenReport, type ReaderOptions, type StoreOptions } from './history';
export { defaultRetention, type DownsampleTier, type RetentionPolicy, type RetentionReport } from './retention';
export { SCHEMA_VERSION, migrations } from './schema';
export { defaultHistoryPath } from './paths';
export * from './types';
export * from './accounting';
export { codeCarbonRow, codeCarbonCsv, exportRunCodeCarbon, exportRunJson, exportRunToFile, writeCodeCarbonFile, writeRunExport, CODECARBON_COLUMNS, type RunExport } from './export';
export { ChaseMetrics, MetricsServer, DEFAULT_METRICS_PORT, type MetricsUpdate, type MetricsServerOptions } from './metrics';
export { sampleRecords, metricsGpus, intensityRecord, forecastRecords, metricsIntensity } from './adapters';
