-- Deletion protection: on by default; a delete order is refused while it is on.
ALTER TABLE instances ADD COLUMN deletion_protection boolean NOT NULL DEFAULT true;
