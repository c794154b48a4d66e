import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * The backup file: JSON lines. A header, one line per store entry (key and the stored bytes in
 * base64, i.e. still barrier-encrypted), and a trailer with the entry count and a SHA-256 over
 * every entry line, so a truncated or edited file is refused before anything is restored.
 */
export const BACKUP_FORMAT = 'keyward-backup';
export const BACKUP_VERSION = 1;

export interface BackupHeader {
  readonly format: typeof BACKUP_FORMAT;
  readonly version: number;
  readonly created: string;
  readonly source: string;
}

export class BackupFormatError extends Error {
  constructor(file: string, problem: string) {
    super(`${file} is not a usable Keyward backup: ${problem}`);
    this.name = 'BackupFormatError';
  }
}

/** Builds the lines of a backup as entries arrive; call end() for the trailer. */
export class BackupWriter {
  private readonly digest = createHash('sha256');
  private count = 0;

  header(source: string, now: Date): string {
    const h: BackupHeader = { format: BACKUP_FORMAT, version: BACKUP_VERSION, created: now.toISOString(), source };
    return `${JSON.stringify(h)}\n`;
  }

  entry(key: string, value: Uint8Array): string {
    const line = JSON.stringify({ k: key, v: Buffer.from(value).toString('base64') });
    this.digest.update(line).update('\n');
    this.count++;
    return `${line}\n`;
  }

  end(): string {
    return `${JSON.stringify({ end: true, entries: this.count, sha256: this.digest.digest('hex') })}\n`;
  }
}

/** Reads and verifies a whole backup file; the entries are returned only if the trailer checks out. */
export async function readBackupFile(file: string): Promise<{ header: BackupHeader; entries: Array<{ key: string; value: Buffer }> }> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  const checksum = createHash('sha256');
  const entries: Array<{ key: string; value: Buffer }> = [];
  let header: BackupHeader | undefined;
  let trailer: { entries: number; sha256: string } | undefined;
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (trailer !== undefined) throw new BackupFormatError(file, `data after the end marker on line ${n}`);
      const parsed = parseLine(file, line, n);
      if (header === undefined) {
        if (parsed.format !== BACKUP_FORMAT) throw new BackupFormatError(file, 'the first line is not a Keyward backup header');
        if (parsed.version !== BACKUP_VERSION) throw new BackupFormatError(file, `backup format version ${String(parsed.version)} is not supported (this Keyward reads ${BACKUP_VERSION})`);
        header = parsed as unknown as BackupHeader;
      } else if (parsed.end === true) {
        trailer = { entries: Number(parsed.entries), sha256: String(parsed.sha256) };
      } else {
        if (typeof parsed.k !== 'string' || typeof parsed.v !== 'string') throw new BackupFormatError(file, `line ${n} is not an entry`);
        checksum.update(line).update('\n');
        entries.push({ key: parsed.k, value: Buffer.from(parsed.v, 'base64') });
      }
    }
  } catch (e) {
    if (e instanceof BackupFormatError) throw e;
    throw new BackupFormatError(file, (e as Error).message);
  }
  if (header === undefined) throw new BackupFormatError(file, 'the file is empty');
  if (trailer === undefined) throw new BackupFormatError(file, 'the end marker is missing (truncated file?)');
  if (trailer.entries !== entries.length || trailer.sha256 !== checksum.digest('hex')) {
    throw new BackupFormatError(file, 'the entries do not match the checksum in the end marker (edited or damaged file)');
  }
  return { header, entries };
}

function parseLine(file: string, line: string, n: number): Record<string, unknown> {
  try {
    const v = JSON.parse(line) as unknown;
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw new BackupFormatError(file, `line ${n} is not valid JSON`);
  }
}
