-- The warm pool (issue 13): Keycloak instances provisioned ahead of time, per region and (version, node size), that
-- a matching create order claims instead of provisioning cold. A member has its final id (the instance's id after
-- the claim), name (host name, database, directory) and sealed secrets from the start; it belongs to no organisation,
-- is not billed, and its edge route lets nobody in until the claiming order's trusted sources replace the empty list.
CREATE TABLE warm_pool_members (
  -- Becomes the instance's id when an order claims it (edge route and Keycloak's files are keyed by id and name).
  id uuid PRIMARY KEY,
  name text NOT NULL UNIQUE CHECK (name ~ '^kc-[0-9a-f]{8}$'),
  region text NOT NULL CHECK (length(region) BETWEEN 1 AND 63),
  zone text NOT NULL CHECK (length(zone) BETWEEN 1 AND 63),
  version text NOT NULL CHECK (length(version) BETWEEN 1 AND 20),
  node_size text NOT NULL CHECK (length(node_size) BETWEEN 1 AND 63),
  -- provisioning: being built by the refiller (a crash leaves it here, and the next round resumes it);
  -- ready: Keycloak runs with its temporary admin, claimable; retiring: being removed (no longer configured, or
  -- failed); claimed: an order's instance now (the row stays as the record of the claim).
  state text NOT NULL CHECK (state IN ('provisioning', 'ready', 'retiring', 'claimed')),
  -- The instance secrets (database password, the customer's future admin password), sealed with the secret box.
  secrets text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  last_error text CHECK (length(last_error) <= 4000),
  -- Set in the transaction that places the claiming order, by the one UPDATE that claims (before the order's row
  -- is written, hence deferred to the commit): claimed and claimed_by_order go together.
  claimed_by_order uuid UNIQUE REFERENCES orders(id) DEFERRABLE INITIALLY DEFERRED,
  created_at timestamptz NOT NULL DEFAULT now(),
  ready_at timestamptz,
  claimed_at timestamptz,
  CHECK ((state = 'claimed') = (claimed_by_order IS NOT NULL))
);
CREATE INDEX warm_pool_members_match ON warm_pool_members (region, version, node_size, zone, ready_at)
  WHERE state = 'ready';

-- Hits (an order claimed a member) and misses (a create order of a configured pool found none ready), per pool.
CREATE TABLE warm_pool_claims (
  region text NOT NULL,
  version text NOT NULL,
  node_size text NOT NULL,
  hits bigint NOT NULL DEFAULT 0,
  misses bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (region, version, node_size)
);
