-- Day-2 orders (issue 5).

-- The spec an instance had when a change order was placed: a failed upgrade returns the instance to it, and the
-- order page can show "from → to".
ALTER TABLE orders ADD COLUMN previous_spec jsonb;

-- Metering: one row per period in which an instance ran with one node size and one storage size. Written by the
-- orders themselves, in the transaction that makes a change effective (create opens a record; scale and storage
-- close the current one and open the next; delete closes it). At most one open record per instance.
CREATE TABLE usage_records (
  id bigserial PRIMARY KEY,
  instance_id uuid NOT NULL REFERENCES instances(id),
  -- Copied from the instance when the record opens: history keeps the profile it was billed to.
  billing_profile_id uuid NOT NULL REFERENCES billing_profiles(id),
  node_size text NOT NULL,
  storage_gb integer NOT NULL CHECK (storage_gb > 0),
  -- The order that opened the record.
  order_id uuid NOT NULL REFERENCES orders(id),
  started_at timestamptz NOT NULL,
  ended_at timestamptz,
  CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE UNIQUE INDEX usage_records_one_open ON usage_records (instance_id) WHERE ended_at IS NULL;
CREATE INDEX usage_records_profile ON usage_records (billing_profile_id, started_at);

-- Instances that were running before metering existed start their record when their create order was done.
INSERT INTO usage_records (instance_id, billing_profile_id, node_size, storage_gb, order_id, started_at)
SELECT i.id, i.billing_profile_id, i.spec->>'nodeSize', (i.spec->>'storageGb')::int, o.id, o.updated_at
  FROM instances i
  JOIN orders o ON o.instance_id = i.id AND o.type = 'create' AND o.status = 'done'
 WHERE i.status = 'running';

-- The audit list pages newest first within an organisation, optionally by action.
CREATE INDEX audit_events_organization_action ON audit_events (organization_id, action, created_at DESC);
