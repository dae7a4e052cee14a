-- Custom domains at the edge (issue 15): the host name the driver asks the edge to serve beside the instance's own
-- (set by a custom-domain order), and the certificate it serves for it, read from custom_domains by that name. A
-- replaced certificate wakes the edges like a changed route.
ALTER TABLE edge_routes ADD COLUMN custom_hostname text
  CHECK (custom_hostname = lower(custom_hostname) AND length(custom_hostname) <= 253);
CREATE UNIQUE INDEX edge_routes_custom_hostname ON edge_routes (custom_hostname);

CREATE TRIGGER custom_domains_notify_edge AFTER INSERT OR UPDATE OR DELETE ON custom_domains
  FOR EACH ROW EXECUTE FUNCTION edge_routes_notify();
