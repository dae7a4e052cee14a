-- ACME certificates for custom domains (issue 15).
-- The account key per ACME directory, created once and sealed (src/platform/secret-box.ts); the primary key makes
-- two workers that create one at the same time keep the first.
CREATE TABLE acme_accounts (
  directory_url text PRIMARY KEY CHECK (length(directory_url) <= 2048),
  sealed_account_key text NOT NULL,
  -- The account's URL at the directory (its "kid"), once registered: later orders skip registration.
  account_url text CHECK (length(account_url) <= 2048),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- HTTP-01 challenges in flight: the edge answers http://<hostname>/.well-known/acme-challenge/<token> with the key
-- authorization from its own map file, filled from this table (a change wakes the edges like a changed route).
CREATE TABLE acme_challenges (
  instance_id uuid NOT NULL REFERENCES custom_domains(instance_id) ON DELETE CASCADE,
  hostname text NOT NULL CHECK (hostname = lower(hostname) AND length(hostname) <= 253),
  token text NOT NULL CHECK (token ~ '^[A-Za-z0-9_-]+$' AND length(token) <= 256),
  key_authorization text NOT NULL
    CHECK (key_authorization ~ '^[A-Za-z0-9_.-]+$' AND length(key_authorization) <= 512),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (hostname, token)
);
CREATE TRIGGER acme_challenges_notify_edge AFTER INSERT OR UPDATE OR DELETE ON acme_challenges
  FOR EACH ROW EXECUTE FUNCTION edge_routes_notify();

-- Issuing and renewing: attempts so far (back-off), and when the next may start. A running attempt sets it to the
-- end of its lease, so a second worker finds nothing to claim, and a crashed one is retried once the lease is over.
-- The message's code and parameters let the portal say it in German (src/platform/messages.ts).
ALTER TABLE custom_domains
  ADD COLUMN acme_attempts integer NOT NULL DEFAULT 0,
  ADD COLUMN acme_next_attempt_at timestamptz,
  ADD COLUMN message_code text CHECK (length(message_code) <= 100),
  ADD COLUMN message_params jsonb;
