// The TUI model: state, reducer, ingestion of records, selectors.
export * from './state.js';
export * from './reducer.js';
export * from './ingest.js';
export * from './selectors.js';
