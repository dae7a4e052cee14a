-- The edge's routing table: one TLS endpoint (host name + port) per instance, the upstream it forwards to and the
-- sources allowed to connect. Written by the provisioning driver, read by every edge process.
-- No foreign key to instances: the edge is data plane and the driver owns the route's life cycle (apply/destroy).
CREATE SEQUENCE edge_route_version_seq;

CREATE TABLE edge_routes (
  instance_id uuid PRIMARY KEY,
  hostname text NOT NULL UNIQUE CHECK (hostname = lower(hostname) AND length(hostname) BETWEEN 1 AND 253),
  listen_port integer NOT NULL UNIQUE CHECK (listen_port BETWEEN 1 AND 65535),
  upstream_host text NOT NULL CHECK (length(upstream_host) BETWEEN 1 AND 255),
  upstream_port integer NOT NULL CHECK (upstream_port BETWEEN 1 AND 65535),
  -- Canonical CIDR strings; an empty array lets nobody in.
  trusted_sources jsonb NOT NULL CHECK (jsonb_typeof(trusted_sources) = 'array'),
  -- Rises on every real change, so an edge (and a test) can tell which state of a route it serves.
  version bigint NOT NULL DEFAULT nextval('edge_route_version_seq'),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Every change wakes the edges (LISTEN edge_routes), whoever makes it, in the transaction that makes it: the
-- notification is delivered on commit, never for a rolled-back change. The payload is the instance id.
CREATE FUNCTION edge_routes_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('edge_routes', COALESCE(NEW.instance_id, OLD.instance_id)::text);
  RETURN NULL;
END
$$;

CREATE TRIGGER edge_routes_notify AFTER INSERT OR UPDATE OR DELETE ON edge_routes
  FOR EACH ROW EXECUTE FUNCTION edge_routes_notify();
