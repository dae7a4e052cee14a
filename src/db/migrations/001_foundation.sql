-- Accounts: organisations, their users, sessions, API tokens, invitations, login throttling.
CREATE SEQUENCE customer_number_seq START 500001;

CREATE TABLE organizations (
  id uuid PRIMARY KEY,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
  customer_number text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations(id),
  email text NOT NULL CHECK (email = lower(email)),
  password_hash text NOT NULL,
  role text NOT NULL CHECK (role IN ('admin', 'technician', 'manager', 'read-only')),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email ON users (email);
CREATE INDEX users_organization ON users (organization_id);

CREATE TABLE sessions (
  token_hash text PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf_token_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 80),
  token_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE invitations (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations(id),
  email text NOT NULL CHECK (email = lower(email)),
  role text NOT NULL CHECK (role IN ('admin', 'technician', 'manager', 'read-only')),
  token_hash text NOT NULL UNIQUE,
  invited_by uuid NOT NULL REFERENCES users(id),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  accepted_at timestamptz
);
CREATE INDEX invitations_organization ON invitations (organization_id);

-- Failed logins per key ("account:<email>" or "address:<ip>") in a sliding window.
CREATE TABLE login_failures (
  key text PRIMARY KEY,
  window_started_at timestamptz NOT NULL,
  failures integer NOT NULL
);

-- Billing.
CREATE TABLE billing_profiles (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations(id),
  company text NOT NULL,
  street text NOT NULL,
  postal_code text NOT NULL,
  city text NOT NULL,
  country text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
  vat_id text,
  invoice_email text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX billing_profiles_organization ON billing_profiles (organization_id, created_at, id);

-- Instances and the orders that create and change them.
CREATE TABLE instances (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations(id),
  name text NOT NULL,
  status text NOT NULL CHECK (status IN ('provisioning', 'running', 'failed', 'deleting', 'deleted')),
  -- The desired spec: what the last accepted order asked for.
  spec jsonb NOT NULL,
  billing_profile_id uuid NOT NULL REFERENCES billing_profiles(id),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX instances_name ON instances (name);
CREATE INDEX instances_organization ON instances (organization_id, created_at, id);

CREATE TABLE orders (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations(id),
  instance_id uuid NOT NULL REFERENCES instances(id),
  type text NOT NULL CHECK (type IN ('create', 'scale', 'storage', 'trusted-sources', 'restart', 'upgrade', 'delete')),
  status text NOT NULL CHECK (status IN ('new', 'processing', 'done', 'failed')),
  spec jsonb NOT NULL,
  price jsonb NOT NULL,
  price_delta jsonb,
  steps jsonb NOT NULL DEFAULT '[]',
  failure_reason text,
  billing_profile_id uuid NOT NULL REFERENCES billing_profiles(id),
  terms_version text,
  terms_accepted_at timestamptz,
  terms_source_address text,
  actor_user_id uuid REFERENCES users(id),
  idempotency_key text,
  request_hash text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX orders_idempotency ON orders (organization_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX orders_organization ON orders (organization_id, created_at, id);
CREATE INDEX orders_instance ON orders (instance_id, created_at);

-- Support.
CREATE SEQUENCE ticket_number_seq START 100001;
CREATE TABLE tickets (
  id uuid PRIMARY KEY,
  organization_id uuid NOT NULL REFERENCES organizations(id),
  number bigint NOT NULL UNIQUE DEFAULT nextval('ticket_number_seq'),
  subject text NOT NULL,
  message text NOT NULL,
  order_id uuid REFERENCES orders(id),
  instance_id uuid REFERENCES instances(id),
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
  created_by uuid NOT NULL REFERENCES users(id),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tickets_organization ON tickets (organization_id, created_at, id);

-- Audit: who did what, when, from where. Never secrets.
CREATE TABLE audit_events (
  id bigserial PRIMARY KEY,
  organization_id uuid REFERENCES organizations(id),
  actor_user_id uuid REFERENCES users(id),
  actor text NOT NULL,
  action text NOT NULL,
  target_type text,
  target_id text,
  outcome text NOT NULL CHECK (outcome IN ('success', 'failure')),
  source_address text,
  request_id text,
  details jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_organization ON audit_events (organization_id, created_at DESC);
