-- Admin sources per route: the sources that may use /admin/ and the admin REST API (a subset of the trusted
-- sources; by default all of them). Existing routes keep what they had: every trusted source is an admin source.
ALTER TABLE edge_routes ADD COLUMN admin_sources jsonb CHECK (jsonb_typeof(admin_sources) = 'array');
UPDATE edge_routes SET admin_sources = trusted_sources;
ALTER TABLE edge_routes ALTER COLUMN admin_sources SET NOT NULL;
