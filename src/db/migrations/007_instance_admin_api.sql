-- Where the control plane reaches an instance's admin API (issue 9): recorded by the worker from the region's
-- driver when an order is DONE, read by the service broker for its OIDC clients. Backend-neutral: a local instance
-- is its Keycloak on loopback, a Kubernetes one its Service. Shape: instance-schemas.ts adminApiAddressSchema.
ALTER TABLE instances ADD COLUMN admin_api jsonb CHECK (admin_api IS NULL OR jsonb_typeof(admin_api) = 'object');

-- Local instances provisioned before: their upstream at the edge is that address.
UPDATE instances i
   SET admin_api = jsonb_build_object(
         'url',
         'http://' || CASE WHEN r.upstream_host LIKE '%:%' THEN '[' || r.upstream_host || ']' ELSE r.upstream_host END
           || ':' || r.upstream_port)
  FROM edge_routes r
 WHERE r.instance_id = i.id AND i.status <> 'deleted';
