import os from 'node:os';
import type { TxClient } from './db/client.js';

export interface AuditInput {
  command: string;
  target?: string | null;
  summary: string;
  /** Structured facts (counts, flags). Never a password, hash or token. */
  details?: Record<string, unknown>;
}

function osUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? process.env.LOGNAME ?? 'unknown';
  }
}

export function auditActor(): { osUser: string; host: string } {
  return { osUser: osUser(), host: os.hostname() };
}

/** Writes one audit row; call it inside the transaction that makes the change. */
export async function writeAudit(tx: TxClient, entry: AuditInput): Promise<void> {
  await tx.auditEntry.create({
    data: {
      at: new Date(),
      ...auditActor(),
      command: entry.command,
      target: entry.target ?? null,
      summary: entry.summary,
      details: entry.details ? JSON.stringify(entry.details) : null,
    },
  });
}
