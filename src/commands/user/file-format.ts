import { usageError } from '../../core/errors/errors.js';
import type { ImportFormat } from '../../core/users/import-rows.js';

const FORMATS: readonly ImportFormat[] = ['csv', 'json', 'ndjson'];

/** The file format from --format, else from the file's extension, else `fallback` (or a usage error when there is none). */
export function fileFormat(flag: unknown, file: string | undefined, fallback: ImportFormat | null): ImportFormat {
  if (flag !== undefined) {
    if (!FORMATS.includes(flag as ImportFormat)) throw usageError(`--format must be csv, json or ndjson, not "${String(flag)}".`);
    return flag as ImportFormat;
  }
  const lower = (file ?? '').toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.ndjson') || lower.endsWith('.jsonl')) return 'ndjson';
  if (lower.endsWith('.json')) return 'json';
  if (fallback) return fallback;
  throw usageError(`Cannot tell the format of ${file} from its name.`, 'Add --format csv, json or ndjson.');
}
