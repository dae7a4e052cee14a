-- Custom domains (issue 15): at most one per instance, and a host name belongs to one instance of one customer at a
-- time (the unique index decides concurrent claims atomically). The uploaded certificate's private key is sealed
-- (src/platform/secret-box.ts); ACME certificates are stored the same way once obtained.
CREATE TABLE custom_domains (
  instance_id uuid PRIMARY KEY REFERENCES instances(id),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  hostname text NOT NULL CHECK (hostname = lower(hostname) AND length(hostname) <= 253),
  source text NOT NULL CHECK (source IN ('upload', 'acme')),
  status text NOT NULL CHECK (status IN ('pending-dns', 'dns-verified', 'active', 'failed')),
  message text,
  certificate_chain_pem text,
  sealed_private_key text,
  certificate jsonb,
  dns_checked_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX custom_domains_hostname ON custom_domains (hostname);
