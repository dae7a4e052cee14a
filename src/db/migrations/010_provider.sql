-- The provider's side (issue 14): operators, order retries, ticket conversations, e-mail outbox, account security.

-- Operators are users outside every customer organisation: no organisation, an operator role. The pairing is a
-- CHECK, so a customer can never hold an operator role nor an operator an organisation.
ALTER TABLE users ALTER COLUMN organization_id DROP NOT NULL;
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (
  (organization_id IS NOT NULL AND role IN ('admin', 'technician', 'manager', 'read-only'))
  OR (organization_id IS NULL AND role IN ('operator', 'operator-read-only')));
-- The language of e-mails to this user (the portal's language when they signed up or last switched).
ALTER TABLE users ADD COLUMN language text NOT NULL DEFAULT 'en' CHECK (language IN ('de', 'en'));
-- A removed member keeps their row (orders, tickets and audit events name them) but can no longer sign in, and their
-- address may join again.
ALTER TABLE users ADD COLUMN removed_at timestamptz;
DROP INDEX users_email;
CREATE UNIQUE INDEX users_email ON users (email) WHERE removed_at IS NULL;
-- TOTP second factor: the secret sealed with the secret box; enabled once a first code was confirmed.
ALTER TABLE users
  ADD COLUMN totp_secret text,
  ADD COLUMN totp_enabled_at timestamptz,
  -- The time step of the last accepted code: a code is accepted once.
  ADD COLUMN totp_last_step bigint;

CREATE TABLE recovery_codes (
  id bigserial PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  code_hash text NOT NULL,
  used_at timestamptz
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

-- Organisations whose admins require a second factor of every member.
ALTER TABLE organizations ADD COLUMN require_two_factor boolean NOT NULL DEFAULT false;

-- Sessions get an id to list and revoke them by, and what the user recognises them by.
ALTER TABLE sessions
  ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid(),
  ADD COLUMN user_agent text CHECK (length(user_agent) <= 300),
  ADD COLUMN source_address text,
  ADD COLUMN last_seen_at timestamptz;
CREATE UNIQUE INDEX sessions_id ON sessions (id);

-- Password resets: single use, short-lived, only the hash of the token is kept.
CREATE TABLE password_resets (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  token_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX password_resets_user ON password_resets (user_id);

-- Invitations remember the language their e-mail goes out in.
ALTER TABLE invitations ADD COLUMN language text NOT NULL DEFAULT 'en' CHECK (language IN ('de', 'en'));

-- Order retries: an operator sends a failed order round its life cycle again (failed → new). The attempt number
-- rises; what the earlier attempts did stays in order_attempts, so the status page can say "attempt 2".
ALTER TABLE orders ADD COLUMN attempt integer NOT NULL DEFAULT 1 CHECK (attempt >= 1);
CREATE TABLE order_attempts (
  order_id uuid NOT NULL REFERENCES orders(id),
  attempt integer NOT NULL,
  steps jsonb NOT NULL,
  failure_reason text,
  operator_detail text,
  finished_at timestamptz NOT NULL,
  retried_by uuid REFERENCES users(id),
  PRIMARY KEY (order_id, attempt)
);
CREATE INDEX orders_status_updated ON orders (status, updated_at);

-- Ticket conversations: replies of the customer and of the provider's operators, status open → waiting → closed
-- (waiting: the provider answered and waits for the customer).
ALTER TABLE tickets DROP CONSTRAINT tickets_status_check;
ALTER TABLE tickets ADD CONSTRAINT tickets_status_check CHECK (status IN ('open', 'waiting', 'closed'));
ALTER TABLE tickets ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
CREATE TABLE ticket_replies (
  id uuid PRIMARY KEY,
  ticket_id uuid NOT NULL REFERENCES tickets(id),
  author_user_id uuid NOT NULL REFERENCES users(id),
  -- 'customer' or 'operator': who the reply speaks for.
  author_kind text NOT NULL CHECK (author_kind IN ('customer', 'operator')),
  message text NOT NULL CHECK (length(message) BETWEEN 1 AND 10000),
  created_at timestamptz NOT NULL,
  -- The order of the conversation, also for replies within the same clock tick.
  position bigint GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX ticket_replies_ticket ON ticket_replies (ticket_id, position);
CREATE INDEX tickets_status ON tickets (status, created_at);

-- The e-mail outbox. A mail is queued in the transaction that makes it necessary and sent by a durable job.
-- state: pending → sending → sent; a job that dies between handing a mail to the SMTP server and recording it
-- leaves it `sending`: such a mail is never sent again automatically (it may have arrived), but marked `unconfirmed`
-- for an operator to check by its Message-ID. Template data is not secret; a secret part (a reset link) is sealed and
-- wiped once the mail is sent.
CREATE TABLE mail_outbox (
  id uuid PRIMARY KEY,
  kind text NOT NULL,
  recipient text NOT NULL CHECK (length(recipient) BETWEEN 3 AND 254),
  language text NOT NULL CHECK (language IN ('de', 'en')),
  data jsonb NOT NULL,
  sealed_secret text,
  -- At most one mail per event (e.g. order 5, attempt 2, done): a duplicate is dropped on insert.
  dedupe_key text NOT NULL UNIQUE,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'sent', 'unconfirmed')),
  message_id text,
  attempts integer NOT NULL DEFAULT 0,
  last_error text,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  sending_since timestamptz,
  smtp_response text,
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at) WHERE state = 'pending';
