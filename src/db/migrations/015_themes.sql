-- Login themes (issue 15). Every uploaded version is kept whole, as checked before it was stored
-- (src/themes/theme-archive.ts); the instance's spec names the versions it runs ("themes": [{ name, version }]), and
-- the orders theme-deploy and theme-remove change that list.
CREATE TABLE theme_versions (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations(id),
  instance_id uuid NOT NULL REFERENCES instances(id),
  name text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
  version integer NOT NULL CHECK (version >= 1),
  file_name text CHECK (length(file_name) <= 255),
  archive bytea NOT NULL CHECK (octet_length(archive) <= 5242880),
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  unpacked_bytes integer NOT NULL,
  file_count integer NOT NULL,
  types text[] NOT NULL,
  uploaded_by uuid REFERENCES users(id),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (instance_id, name, version)
);

UPDATE instances SET spec = spec || '{"themes": []}'::jsonb WHERE NOT spec ? 'themes';
UPDATE orders SET spec = spec || '{"themes": []}'::jsonb WHERE NOT spec ? 'themes';
UPDATE orders SET previous_spec = previous_spec || '{"themes": []}'::jsonb
  WHERE previous_spec IS NOT NULL AND NOT previous_spec ? 'themes';

-- Every order type of every branch of this time (admin sources, backups, realms), so that the order in which the
-- branches' migrations run loses none.
ALTER TABLE orders DROP CONSTRAINT orders_type_check;
ALTER TABLE orders ADD CONSTRAINT orders_type_check CHECK (type IN (
  'create', 'scale', 'storage', 'trusted-sources', 'admin-sources', 'restart', 'upgrade', 'delete',
  'backup', 'restore', 'backup-policy', 'realm-export', 'realm-import',
  'theme-deploy', 'theme-remove', 'custom-domain'));
