-- An order's failure reason in the reader's language: failure_reason keeps the English text, failure_reason_parts
-- the coded parts it was rendered from (src/platform/messages.ts: [{ code, params }], joined by "; "), as an order
-- step's messageParts. NULL for a reason in plain words (typed by an operator, or a failure from before this).
ALTER TABLE orders
  ADD COLUMN failure_reason_parts jsonb CHECK (jsonb_typeof(failure_reason_parts) = 'array');
ALTER TABLE order_attempts
  ADD COLUMN failure_reason_parts jsonb CHECK (jsonb_typeof(failure_reason_parts) = 'array');
