// Kept apart from preferences.ts, which loads the database layer: help
// text lists these keys without loading it.

export type PrefKind = 'string' | 'bool' | 'int' | 'float';

/** The keys the app knows, with the Python type it stores through str(). */
export const KNOWN_PREFERENCES: Record<string, PrefKind> = {
  theme: 'string',
  language: 'string',
  default_model: 'string',
  default_temperature: 'float',
  default_max_tokens: 'int',
  enable_streaming: 'bool',
  show_metrics: 'bool',
  auto_save_conversations: 'bool',
  default_file_processing: 'string',
  max_file_size_mb: 'int',
  enable_web_search: 'bool',
  default_search_engine: 'string',
};
