import { z } from 'zod';
import { idSchema, keycloakVersionSchema } from '../catalog/catalog-schemas.js';

/**
 * How a region with `driver: kubernetes` reaches its cluster and what it writes there. Operator-only: none of it is
 * shown to customers. Keyed by region id under `kubernetes:` in the configuration file.
 */

/** A DNS-1123 label value or a label value as Kubernetes accepts it (63 characters at most). */
const labelValueSchema = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/, 'a Kubernetes label value');

/** An image reference such as quay.io/keycloak/keycloak:26.5.6 or one pinned by digest. */
const imageSchema = z
  .string()
  .min(3)
  .max(500)
  .regex(/^[a-z0-9][a-z0-9._\-/:@]*$/, 'an image reference such as quay.io/keycloak/keycloak:26.5.6');

const dnsNameSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(
    /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/,
    'a DNS name such as de-north.keycloak.example',
  );

const namespaceNameSchema = idSchema;

/** Where the cluster is: a kubeconfig file (optionally one context of it), or the pod's own service account. */
const clusterAccessSchema = z.union([
  z.strictObject({
    kubeconfig: z.string().min(1).max(4096),
    /** Unset: the kubeconfig's current context. */
    context: z.string().min(1).max(253).nullable().default(null),
  }),
  z.strictObject({ inCluster: z.literal(true) }),
]);

export const kubernetesRegionSchema = z.strictObject({
  cluster: clusterAccessSchema,
  /** Each instance gets the namespace `<prefix><instance name>`, e.g. kh-kc-1a2b3c4d. */
  namespacePrefix: z
    .string()
    .min(1)
    .max(20)
    .regex(/^[a-z][a-z0-9-]*$/, 'lower-case letters, digits and dashes, starting with a letter')
    .default('kh-'),
  /** Keyhouse's own namespace: its pods may reach every instance (verification, admin hand-over). */
  keyhouseNamespace: namespaceNameSchema.default('keyhouse'),
  /** The CloudNativePG operator's namespace: it talks to the database pods (status on port 8000, then 5432). */
  cnpgNamespace: namespaceNameSchema.default('cnpg-system'),
  /** The storage class of the databases' volumes; it must allow volume expansion (storage orders grow it). */
  storageClass: z.string().min(1).max(253),
  /** Catalog zone id → value of the nodes' `topology.kubernetes.io/zone` label. */
  zones: z.record(idSchema, labelValueSchema),
  /** Catalog version → Keycloak image (built with the `kc.sh build` options Keyhouse needs: postgres, health). */
  keycloakImages: z.record(keycloakVersionSchema, imageSchema),
  /** The PostgreSQL operand image of CloudNativePG, e.g. ghcr.io/cloudnative-pg/postgresql:17.6. */
  postgresImage: imageSchema,
  exposure: z.strictObject({
    type: z.literal('LoadBalancer').default('LoadBalancer'),
    /** Instances are reached at https://<instance name>.<domain>; DNS is the provider's (e.g. ExternalDNS). */
    domain: dnsNameSchema,
    /** Added to each instance's LoadBalancer Service, e.g. for the cloud's load balancer or ExternalDNS. */
    serviceAnnotations: z.record(z.string().min(1).max(253), z.string().max(1000)).default({}),
  }),
  /** How the on-demand backup before an upgrade is taken (CloudNativePG `Backup.spec.method`). */
  backup: z.discriminatedUnion('method', [
    z.strictObject({
      method: z.literal('volumeSnapshot'),
      /** The VolumeSnapshotClass of the storage class's CSI driver. */
      snapshotClass: z.string().min(1).max(253),
    }),
    z.strictObject({
      method: z.literal('plugin'),
      /** A CNPG-I backup plugin such as barman-cloud.cloudnative-pg.io, installed by the provider. */
      plugin: z.string().min(1).max(253),
      /** Handed to the plugin as the Cluster's plugin parameters, e.g. { barmanObjectName: nightly-store }. */
      parameters: z.record(z.string().min(1).max(253), z.string().max(1000)).default({}),
    }),
  ]),
});

export type KubernetesRegion = z.infer<typeof kubernetesRegionSchema>;
