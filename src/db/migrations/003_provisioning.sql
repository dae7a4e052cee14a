-- What provisioning keeps on an instance: its sealed secrets (admin and database passwords, AES-GCM, see
-- src/platform/secret-box.ts), its public URL and the last observed conditions and usage.
ALTER TABLE instances
  ADD COLUMN secrets text,
  ADD COLUMN url text,
  ADD COLUMN admin_username text NOT NULL DEFAULT 'admin',
  ADD COLUMN conditions jsonb NOT NULL DEFAULT '[]',
  ADD COLUMN usage jsonb;

-- Why an order failed, for the operator (the customer reads orders.failure_reason).
ALTER TABLE orders ADD COLUMN operator_detail text;

-- The reconciler's sweep finds unfinished orders.
CREATE INDEX orders_unfinished ON orders (created_at) WHERE status IN ('new', 'processing');
