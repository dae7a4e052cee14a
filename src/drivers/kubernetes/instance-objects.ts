import { createHmac } from 'node:crypto';
import type {
  KubernetesObject,
  V1Namespace,
  V1NetworkPolicy,
  V1NetworkPolicyPeer,
  V1Secret,
  V1Service,
} from '@kubernetes/client-node';
import { backupObject, CNPG_API_VERSION } from '../../backups/cloudnative-pg.js';
import type { KubernetesRegion } from '../../config/kubernetes-region-schema.js';
import type { DesiredInstance } from '../driver.js';

/**
 * The Kubernetes objects of one instance, as pure functions of the desired instance and the region's settings: what
 * the driver writes with server-side apply (field manager `keyhouse`). Applying the same list twice changes nothing;
 * a changed order changes exactly the fields it is about. The mapping is explained in docs/decisions.md.
 */

export const FIELD_MANAGER = 'keyhouse';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const INSTANCE_ID_LABEL = 'keyhouse.io/instance-id';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
/** A new value on the Keycloak pod template rolls the pod (the restart order); the order id keeps it idempotent. */
export const RESTART_ANNOTATION = 'keyhouse.io/restart';

export const KEYCLOAK_API_VERSIONS = ['k8s.keycloak.org/v2beta1', 'k8s.keycloak.org/v2alpha1'] as const;
export type KeycloakApiVersion = (typeof KEYCLOAK_API_VERSIONS)[number];
/** What the installed Keycloak Operator's CRD serves, read from the API server (see kubernetes-client.ts). */
export type KeycloakApi = {
  /** v2beta1 from Keycloak 26.6 on, else v2alpha1. */
  apiVersion: KeycloakApiVersion;
  /**
   * The CRD has `spec.networkPolicy` (operators from 26.1 on create a NetworkPolicy, open to every source, unless it
   * is disabled). Older CRDs lack the field, and server-side apply refuses fields a schema does not declare.
   */
  hasNetworkPolicy: boolean;
};
export { CNPG_API_VERSION };

/** Object names inside the instance's namespace (the namespace itself is the instance). */
export const names = {
  keycloak: 'keycloak',
  database: 'database',
  /** CloudNativePG's read-write service of the cluster `database`. */
  databaseHost: 'database-rw',
  databaseName: 'keycloak',
  databaseOwner: 'keycloak',
  databaseSecret: 'database-app',
  bootstrapAdminSecret: 'keycloak-bootstrap-admin',
  tlsSecret: 'keycloak-tls',
  publicService: 'keycloak-public',
  keycloakPolicy: 'keycloak-ingress',
  databasePolicy: 'database-ingress',
} as const;

/** The labels the Keycloak Operator puts on the pods of the Keycloak CR `keycloak`. */
export const keycloakPodLabels = {
  app: 'keycloak',
  'app.kubernetes.io/instance': names.keycloak,
  'app.kubernetes.io/managed-by': 'keycloak-operator',
};
/** The label CloudNativePG puts on the pods of the cluster `database`. */
export const databasePodLabels = { 'cnpg.io/cluster': names.database };

const KEYCLOAK_HTTPS_PORT = 8443;
const KEYCLOAK_MANAGEMENT_PORT = 9000;
const POSTGRES_PORT = 5432;
/** CloudNativePG's instance manager: the operator reads each pod's status there. */
const CNPG_STATUS_PORT = 8000;

export type TlsCertificate = { certificatePem: string; privateKeyPem: string };

export type InstanceObjectsInput = {
  instance: DesiredInstance;
  region: KubernetesRegion;
  keycloakApi: KeycloakApi;
  tls: TlsCertificate;
  /**
   * The id of the last restart order, if any, as a pod-template annotation. Every later apply passes it again:
   * dropping it would change the pod template and roll Keycloak once more.
   */
  restartToken: string | null;
};

export const namespaceOf = (region: KubernetesRegion, instanceName: string) =>
  `${region.namespacePrefix}${instanceName}`;

export const publicHostOf = (region: KubernetesRegion, instanceName: string) =>
  `${instanceName}.${region.exposure.domain}`;

/** The temporary admin Keycloak creates on its first start, handed over to the customer's admin and deleted. */
export const BOOTSTRAP_ADMIN_USERNAME = 'keyhouse-bootstrap';
/** Derived from the instance's sealed secrets, so every apply writes the same Secret without keeping more state. */
export function bootstrapAdminPassword(instance: Pick<DesiredInstance, 'secrets'>): string {
  return createHmac('sha256', instance.secrets.adminPassword)
    .update('keycloak-bootstrap-admin')
    .digest('base64url');
}

export function instanceLabels(instance: Pick<DesiredInstance, 'instanceId'>): Record<string, string> {
  return { [MANAGED_BY_LABEL]: 'keyhouse', [INSTANCE_ID_LABEL]: instance.instanceId };
}

/** Where an object goes: the instance's namespace (its name and id are enough). */
type Placement = { instance: Pick<DesiredInstance, 'instanceId' | 'name'>; region: KubernetesRegion };

function metadata(input: Placement, name: string, annotations?: Record<string, string>) {
  return {
    name,
    namespace: namespaceOf(input.region, input.instance.name),
    labels: instanceLabels(input.instance),
    ...(annotations && Object.keys(annotations).length ? { annotations } : {}),
  };
}

function zoneValue(input: InstanceObjectsInput): string {
  const value = input.region.zones[input.instance.zone];
  // The configuration check guarantees a value for every zone of the region; an order names one of them.
  if (!value) throw new Error(`region has no node label for zone "${input.instance.zone}"`);
  return value;
}

function keycloakImage(input: InstanceObjectsInput): string {
  const image = input.region.keycloakImages[input.instance.version];
  if (!image) throw new Error(`region has no image for Keycloak ${input.instance.version}`);
  return image;
}

export function namespaceObject(input: Placement): V1Namespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: namespaceOf(input.region, input.instance.name),
      labels: instanceLabels(input.instance),
    },
  };
}

export function secretObjects(input: InstanceObjectsInput): V1Secret[] {
  const { instance } = input;
  return [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: metadata(input, names.databaseSecret),
      type: 'kubernetes.io/basic-auth',
      stringData: { username: names.databaseOwner, password: instance.secrets.databasePassword },
    },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: metadata(input, names.bootstrapAdminSecret),
      type: 'kubernetes.io/basic-auth',
      stringData: { username: BOOTSTRAP_ADMIN_USERNAME, password: bootstrapAdminPassword(instance) },
    },
    tlsSecret(input, input.tls),
  ];
}

/** The instance certificate from Keyhouse's CA, as the Keycloak CR's `http.tlsSecret`. */
export function tlsSecret(input: Placement, tls: TlsCertificate): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: metadata(input, names.tlsSecret),
    type: 'kubernetes.io/tls',
    stringData: { 'tls.crt': tls.certificatePem, 'tls.key': tls.privateKeyPem },
  };
}

/** CloudNativePG `Cluster`: one instance in the order's zone, its volume the ordered storage. */
export function databaseCluster(input: InstanceObjectsInput): KubernetesObject & { spec: object } {
  const { instance, region } = input;
  const backup = region.backup;
  return {
    apiVersion: CNPG_API_VERSION,
    kind: 'Cluster',
    metadata: metadata(input, names.database),
    spec: {
      instances: 1,
      imageName: region.postgresImage,
      inheritedMetadata: { labels: instanceLabels(instance) },
      storage: { size: `${instance.storageGb}Gi`, storageClass: region.storageClass },
      // The database is a small part of the node: Keycloak's own load dominates. Fixed, not billed separately.
      resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '1Gi' } },
      affinity: { nodeSelector: { [ZONE_LABEL]: zoneValue(input) } },
      bootstrap: {
        initdb: {
          database: names.databaseName,
          owner: names.databaseOwner,
          secret: { name: names.databaseSecret },
        },
      },
      ...(backup.method === 'volumeSnapshot'
        ? { backup: { volumeSnapshot: { className: backup.snapshotClass } } }
        : { plugins: [{ name: backup.plugin, isWALArchiver: true, parameters: backup.parameters }] }),
    },
  };
}

/** The Keycloak CR: one instance with the node size's resources, on the CNPG database, TLS at the pod. */
export function keycloakObject(input: InstanceObjectsInput): KubernetesObject & { spec: object } {
  const { instance, region } = input;
  const secretKey = (name: string, key: string) => ({ name, key });
  return {
    apiVersion: input.keycloakApi.apiVersion,
    kind: 'Keycloak',
    metadata: metadata(input, names.keycloak),
    spec: {
      instances: 1,
      image: keycloakImage(input),
      db: {
        vendor: 'postgres',
        host: names.databaseHost,
        port: POSTGRES_PORT,
        database: names.databaseName,
        usernameSecret: secretKey(names.databaseSecret, 'username'),
        passwordSecret: secretKey(names.databaseSecret, 'password'),
      },
      http: { tlsSecret: names.tlsSecret },
      hostname: { hostname: `https://${publicHostOf(region, instance.name)}` },
      bootstrapAdmin: { user: { secret: names.bootstrapAdminSecret } },
      resources: {
        requests: { cpu: String(instance.nodeSize.vcpu), memory: `${instance.nodeSize.memoryGb}Gi` },
        limits: { memory: `${instance.nodeSize.memoryGb}Gi` },
      },
      scheduling: {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: ZONE_LABEL, operator: 'In', values: [zoneValue(input)] }] },
              ],
            },
          },
        },
      },
      // Exposure and its policies are Keyhouse's own objects (the LoadBalancer Service and NetworkPolicies below):
      // the operator's Ingress and NetworkPolicy stay off so that nothing else admits traffic.
      ingress: { enabled: false },
      ...(input.keycloakApi.hasNetworkPolicy ? { networkPolicy: { enabled: false } } : {}),
      ...(input.restartToken
        ? {
            unsupported: {
              podTemplate: { metadata: { annotations: { [RESTART_ANNOTATION]: input.restartToken } } },
            },
          }
        : {}),
    },
  };
}

/**
 * The instance's public address: the cloud's load balancer admits only the trusted sources
 * (`loadBalancerSourceRanges`); `externalTrafficPolicy: Local` keeps the client's address, so the NetworkPolicy
 * below sees it too.
 */
export function publicService(input: InstanceObjectsInput): V1Service {
  const { instance, region } = input;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(input, names.publicService, {
      ...region.exposure.serviceAnnotations,
      'external-dns.alpha.kubernetes.io/hostname': publicHostOf(region, instance.name),
    }),
    spec: {
      type: region.exposure.type,
      selector: keycloakPodLabels,
      ports: [{ name: 'https', port: 443, targetPort: KEYCLOAK_HTTPS_PORT, protocol: 'TCP' }],
      loadBalancerSourceRanges: instance.trustedSources,
      externalTrafficPolicy: 'Local',
    },
  };
}

/**
 * Keycloak's pods admit HTTPS from the trusted sources and HTTPS + management from Keyhouse's namespace (hand-over,
 * verification); the database's pods admit PostgreSQL from Keycloak and the CNPG operator. Pods selected by a
 * policy refuse everything else.
 */
export function networkPolicies(input: InstanceObjectsInput): V1NetworkPolicy[] {
  const { region, instance } = input;
  const namespace = (name: string): V1NetworkPolicyPeer => ({
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': name } },
  });
  const tcp = (...ports: number[]) => ports.map((port) => ({ protocol: 'TCP', port }));
  return [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: metadata(input, names.keycloakPolicy),
      spec: {
        podSelector: { matchLabels: keycloakPodLabels },
        policyTypes: ['Ingress'],
        ingress: [
          {
            _from: instance.trustedSources.map((cidr) => ({ ipBlock: { cidr } })),
            ports: tcp(KEYCLOAK_HTTPS_PORT),
          },
          {
            _from: [namespace(region.keyhouseNamespace)],
            ports: tcp(KEYCLOAK_HTTPS_PORT, KEYCLOAK_MANAGEMENT_PORT),
          },
        ],
      },
    },
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: metadata(input, names.databasePolicy),
      spec: {
        podSelector: { matchLabels: databasePodLabels },
        policyTypes: ['Ingress'],
        ingress: [
          {
            _from: [
              { podSelector: { matchLabels: keycloakPodLabels } },
              { podSelector: { matchLabels: databasePodLabels } },
            ],
            ports: tcp(POSTGRES_PORT),
          },
          { _from: [namespace(region.cnpgNamespace)], ports: tcp(CNPG_STATUS_PORT, POSTGRES_PORT) },
        ],
      },
    },
  ];
}

/** Every object of the instance, in the order they are applied (namespace first, what others refer to before them). */
export function instanceObjects(input: InstanceObjectsInput): KubernetesObject[] {
  return [
    namespaceObject(input),
    ...secretObjects(input),
    databaseCluster(input),
    keycloakObject(input),
    publicService(input),
    ...networkPolicies(input),
  ];
}

/**
 * A Keyhouse backup (nightly, on-demand, before an upgrade) as a CloudNativePG `Backup` of the instance's cluster,
 * named after the backup's id (src/backups/cloudnative-pg.ts). Its spec is immutable (a CEL rule of the CRD), and
 * a retried order or job names the same id, so it finds its own backup instead of taking a second one.
 */
export function instanceBackup(input: Placement, backupId: string): KubernetesObject & { spec: object } {
  return backupObject(
    {
      namespace: namespaceOf(input.region, input.instance.name),
      cluster: names.database,
      labels: instanceLabels(input.instance),
    },
    backupId,
    input.region.backup,
  );
}
