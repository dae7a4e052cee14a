-- Backups, restores and maintenance windows (issue 12).

-- New order types: an on-demand backup, a restore in place, a change of the backup policy (retention and windows),
-- a realm's export and a realm's import.
ALTER TABLE orders DROP CONSTRAINT orders_type_check;
ALTER TABLE orders ADD CONSTRAINT orders_type_check CHECK (type IN (
  'create', 'scale', 'storage', 'trusted-sources', 'restart', 'upgrade', 'delete',
  'backup', 'restore', 'backup-policy', 'realm-export', 'realm-import'));
-- What an order asks for beyond the spec: the backup to restore ({ restoreFrom } or { backupId }), the realm to
-- export ({ realm, includeUsers }) or the export to import ({ exportOrderId, realmName }).
ALTER TABLE orders ADD COLUMN details jsonb;

-- One row per backup of an instance database. `location` is the driver's name for it (a dump file of the local
-- driver); size, checksum and duration are filled in when it is done.
CREATE TABLE backups (
  id uuid PRIMARY KEY,
  instance_id uuid NOT NULL REFERENCES instances(id),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  kind text NOT NULL CHECK (kind IN ('nightly', 'on-demand', 'pre-upgrade', 'pre-restore')),
  -- Nightly backups: the local date of the backup window (instance time zone) they belong to.
  night date,
  -- On-demand, pre-upgrade and pre-restore backups: the order that took them.
  order_id uuid REFERENCES orders(id),
  status text NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed', 'expiring')),
  keycloak_version text NOT NULL,
  postgres_major integer,
  location text,
  size_bytes bigint CHECK (size_bytes >= 0),
  sha256 text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  duration_ms integer CHECK (duration_ms >= 0),
  attempts integer NOT NULL DEFAULT 0,
  failure_reason text,
  operator_detail text,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz,
  CHECK ((kind = 'nightly') = (night IS NOT NULL)),
  CHECK ((kind = 'nightly') = (order_id IS NULL)),
  CHECK (status <> 'done' OR (location IS NOT NULL AND size_bytes IS NOT NULL AND sha256 IS NOT NULL))
);
-- Never twice: one nightly backup per instance and night, one backup per order and kind.
CREATE UNIQUE INDEX backups_one_per_night ON backups (instance_id, night) WHERE kind = 'nightly';
CREATE UNIQUE INDEX backups_one_per_order ON backups (order_id, kind) WHERE order_id IS NOT NULL;
CREATE INDEX backups_instance ON backups (instance_id, created_at DESC, id DESC);
CREATE INDEX backups_unfinished ON backups (status) WHERE status IN ('pending', 'running', 'expiring');

-- The OpenPGP public key a customer uploaded for an instance; downloads are encrypted to it.
CREATE TABLE backup_keys (
  instance_id uuid PRIMARY KEY REFERENCES instances(id),
  armored_key text NOT NULL CHECK (length(armored_key) <= 65536),
  fingerprint text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{40,64}$'),
  user_ids text[] NOT NULL,
  uploaded_by uuid REFERENCES users(id),
  uploaded_at timestamptz NOT NULL DEFAULT now()
);

-- Metering: nightly backups kept beyond the included ones are billed like storage, per hour.
ALTER TABLE usage_records ADD COLUMN backup_retention integer NOT NULL DEFAULT 7 CHECK (backup_retention >= 1);

-- A realm exported by a `realm-export` order, as Keycloak's JSON, sealed (it holds the customer's users' data).
CREATE TABLE realm_exports (
  order_id uuid PRIMARY KEY REFERENCES orders(id),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  instance_id uuid NOT NULL REFERENCES instances(id),
  realm text NOT NULL CHECK (length(realm) BETWEEN 1 AND 255),
  users integer NOT NULL CHECK (users >= 0),
  size_bytes integer NOT NULL CHECK (size_bytes >= 0),
  sealed_json text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
