import type { Config } from './config/schema.js';

/** The configuration the core reads; `currentDirectory` is resolved by the entry. */
export type AppConfig = Config & { currentDirectory: string };
