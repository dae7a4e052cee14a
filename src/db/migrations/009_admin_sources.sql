-- Admin sources: the sources that may use /admin/ and the admin REST API through the edge (keycloak#12394), a subset
-- of the trusted sources. On the instance's spec (and the orders' specs) `adminSources` is null for "every trusted
-- source", the default and what every existing instance keeps; the edge route holds the effective list.
UPDATE instances SET spec = spec || '{"adminSources": null}'::jsonb WHERE NOT spec ? 'adminSources';
UPDATE orders SET spec = spec || '{"adminSources": null}'::jsonb WHERE NOT spec ? 'adminSources';
UPDATE orders SET previous_spec = previous_spec || '{"adminSources": null}'::jsonb
  WHERE previous_spec IS NOT NULL AND NOT previous_spec ? 'adminSources';

-- Every order type of 008 and the new one.
ALTER TABLE orders DROP CONSTRAINT orders_type_check;
ALTER TABLE orders ADD CONSTRAINT orders_type_check CHECK (type IN (
  'create', 'scale', 'storage', 'trusted-sources', 'admin-sources', 'restart', 'upgrade', 'delete',
  'backup', 'restore', 'backup-policy', 'realm-export', 'realm-import'));

ALTER TABLE edge_routes ADD COLUMN admin_sources jsonb CHECK (jsonb_typeof(admin_sources) = 'array');
UPDATE edge_routes SET admin_sources = trusted_sources;
ALTER TABLE edge_routes ALTER COLUMN admin_sources SET NOT NULL;
