-- Open Service Broker API (issue 6).

-- A platform's organisation (context.organization_guid) is a Keyhouse organisation of its own, created on the first
-- provision request that names it, with a billing profile copied from the configuration and a service user the
-- broker acts as. The service user cannot sign in: its password was random and is known to nobody.
CREATE TABLE osb_organizations (
  platform_organization_id text PRIMARY KEY CHECK (length(platform_organization_id) BETWEEN 1 AND 200),
  platform text NOT NULL,
  organization_id uuid NOT NULL UNIQUE REFERENCES organizations(id),
  service_user_id uuid NOT NULL REFERENCES users(id),
  billing_profile_id uuid NOT NULL REFERENCES billing_profiles(id),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Service instances under the platform's ids, each one Keyhouse instance.
CREATE TABLE osb_service_instances (
  id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 200),
  instance_id uuid NOT NULL UNIQUE REFERENCES instances(id),
  organization_id uuid NOT NULL REFERENCES organizations(id),
  -- The provision request's attributes (plan, organisation, space, parameters): the same id with others is a 409.
  request_hash text NOT NULL,
  parameters jsonb NOT NULL DEFAULT '{}',
  -- The order behind the operation the platform polls last: create, a change, or delete.
  last_order_id uuid NOT NULL REFERENCES orders(id),
  -- Deprovisioning accepted while the create order ran: the broker places the delete order once it has ended.
  deprovision_requested_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Bindings: one confidential OIDC client (client credentials) in the instance's first realm each.
CREATE TABLE osb_service_bindings (
  id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 200),
  service_instance_id text NOT NULL REFERENCES osb_service_instances(id),
  client_id text NOT NULL,
  -- The client secret, sealed with the secret box like the instance secrets.
  sealed_secret text NOT NULL,
  request_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX osb_service_bindings_instance ON osb_service_bindings (service_instance_id);
