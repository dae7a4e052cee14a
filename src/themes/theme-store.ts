import type { Queryable } from '../db/database.js';
import type { ThemeRef, ThemeVersion } from './theme-schemas.js';

type Row = {
  name: string;
  version: number;
  file_name: string | null;
  types: string[];
  size_bytes: number;
  unpacked_bytes: number;
  file_count: number;
  sha256: string;
  uploaded_at: string;
};

const toVersion = (row: Row): ThemeVersion => ({
  name: row.name,
  version: row.version,
  fileName: row.file_name,
  types: row.types,
  sizeBytes: row.size_bytes,
  unpackedBytes: row.unpacked_bytes,
  fileCount: row.file_count,
  sha256: row.sha256,
  uploadedAt: row.uploaded_at,
});

const COLUMNS = `name, version, file_name, types, octet_length(archive) AS size_bytes, unpacked_bytes, file_count,
  sha256, created_at AS uploaded_at`;

/** Stores the next version of the theme `name` of an instance; the caller holds the instance's row lock. */
export async function insertThemeVersion(
  db: Queryable,
  version: {
    id: string;
    organizationId: string;
    instanceId: string;
    name: string;
    fileName: string | null;
    archive: Buffer;
    sha256: string;
    unpackedBytes: number;
    fileCount: number;
    types: string[];
    uploadedBy: string;
  },
): Promise<ThemeVersion> {
  const { rows } = await db.query<Row>(
    `INSERT INTO theme_versions (id, organization_id, instance_id, name, version, file_name, archive, sha256,
                                 unpacked_bytes, file_count, types, uploaded_by)
     VALUES ($1, $2, $3, $4,
             (SELECT coalesce(max(version), 0) + 1 FROM theme_versions WHERE instance_id = $3 AND name = $4),
             $5, $6, $7, $8, $9, $10, $11)
     RETURNING ${COLUMNS}`,
    [
      version.id,
      version.organizationId,
      version.instanceId,
      version.name,
      version.fileName,
      version.archive,
      version.sha256,
      version.unpackedBytes,
      version.fileCount,
      version.types,
      version.uploadedBy,
    ],
  );
  return toVersion(rows[0]!);
}

/** Every uploaded version of the instance's themes, by name, newest first. */
export async function listThemeVersions(db: Queryable, instanceId: string): Promise<ThemeVersion[]> {
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS} FROM theme_versions WHERE instance_id = $1 ORDER BY name, version DESC`,
    [instanceId],
  );
  return rows.map(toVersion);
}

/** The archive of one version (for the driver that deploys it). */
export async function readThemeArchive(
  db: Queryable,
  instanceId: string,
  theme: ThemeRef,
): Promise<Buffer | undefined> {
  const { rows } = await db.query<{ archive: Buffer }>(
    'SELECT archive FROM theme_versions WHERE instance_id = $1 AND name = $2 AND version = $3',
    [instanceId, theme.name, theme.version],
  );
  return rows[0]?.archive;
}
