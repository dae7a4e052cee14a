import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubernetesRegion } from '../../config/kubernetes-region-schema.js';
import type { LocalCa } from '../../edge/local-ca.js';
import type { ObservedInstance } from '../../instances/instance-schemas.js';
import { UnprocessableError } from '../../platform/errors.js';
import { message, renderStepMessage, type CodedMessage, type StepMessage } from '../../platform/messages.js';
import type {
  AdminLoginCheck,
  ApplyResult,
  BackupRef,
  BackupResult,
  DesiredInstance,
  DestroyResult,
  Driver,
  InstanceRef,
  StepReporter,
  TakenBackup,
  UpgradeResult,
} from '../driver.js';
import { outcomeOf, StepFailure, StepProgressing, stepper } from '../driver-steps.js';
import type { AdminApi, AdminApiAddress } from '../keycloak/admin-api.js';
import { handOverAdmin } from '../keycloak/admin-handover.js';
import { ensureFirstRealm } from '../keycloak/first-realm.js';
import { verifyAdminLogin } from '../keycloak/login-check.js';
import {
  BOOTSTRAP_ADMIN_USERNAME,
  bootstrapAdminPassword,
  CNPG_API_VERSION,
  instanceBackup,
  instanceObjects,
  names,
  namespaceObject,
  namespaceOf,
  publicHostOf,
  RESTART_ANNOTATION,
  tlsSecret,
  type KeycloakApi,
} from './instance-objects.js';
import {
  backupState,
  databaseReadiness,
  keycloakReadiness,
  loadBalancerAddress,
  observedConditions,
  type ObjectWithStatus,
} from './instance-status.js';
import {
  KubernetesRefusal,
  KubernetesUnreachable,
  type KubernetesClient,
  type ObjectRef,
} from './kubernetes-client.js';

/**
 * The `kubernetes` regions' driver: an order becomes the instance's objects in the region's cluster (server-side
 * applied, instance-objects.ts), and the Keycloak Operator and CloudNativePG do the rest. A pass never waits for an
 * operator: it applies, reads the operators' status (instance-status.ts), and answers `progressing` until the
 * database is healthy, the Keycloak CR is Ready for its current generation and the Service has a load-balancer
 * address. Then the shared Keycloak module hands the admin over and creates the first realm, through the Service
 * (see `adminApiOf`). Everything it knows lives in the cluster, so any worker can take over after a crash: the
 * restart token and an upgrade in progress are on the Keycloak CR, the pre-upgrade backup is named after its order.
 */

export type KubernetesRegionAccess = {
  /** Display name for messages, e.g. DE-NORTH (Hamburg). */
  name: string;
  settings: KubernetesRegion;
  client: KubernetesClient;
};

export type KubernetesDriverOptions = {
  /** By region id: every region with `driver: kubernetes`. */
  regions: Record<string, KubernetesRegionAccess>;
  /** Keyhouse's CA: it issues the instances' certificates, and the control plane trusts it. */
  ca: Pick<LocalCa, 'certificatePem' | 'issueServerCertificate'>;
  logger: Logger;
  now?: () => Date;
  /** How often a progressing order looks again. */
  pollSeconds?: number;
  /** How long an upgraded Keycloak may take to become ready before the old image comes back. */
  upgradeReadyTimeoutMs?: number;
};

/** On the Keycloak CR while an upgrade order runs: which order, and whether it still upgrades or rolls back. */
export const UPGRADE_ANNOTATION = 'keyhouse.io/upgrade';
type UpgradeMark = {
  token: string;
  phase: 'upgrading' | 'rolling-back';
  /** When this phase began (ISO). */
  since: string;
  failure?: { reason: StepMessage; detail: string };
};

/** On the instance's Namespace: when its certificate is due (ISO); the worker may not read the Secret itself. */
export const CERTIFICATE_RENEW_ANNOTATION = 'keyhouse.io/certificate-renew-after';
/** A certificate is replaced 30 days before it expires (Keyhouse's CA issues them for 90 days). */
const CERTIFICATE_RENEW_BEFORE_MS = 30 * 24 * 60 * 60 * 1000;

type Placed = { instance: InstanceRef; region: KubernetesRegionAccess };

/** The PostgreSQL major of an operand image such as ghcr.io/cloudnative-pg/postgresql:17.6 (0 when untagged). */
function postgresMajorOf(image: string): number {
  const tag = /:(\d+)[^/:@]*(@|$)/.exec(image);
  return tag ? Number(tag[1]) : 0;
}

/** The driver, and for its backend the certificate renewal that runs apart from orders. */
export type KubernetesDriver = Driver & {
  /** Writes the instance's certificate when it has none or it is due; answers what it did, or null. */
  ensureCertificate(instance: InstanceRef): Promise<CodedMessage | null>;
};

const ref = (apiVersion: string, kind: string, name: string, namespace?: string): ObjectRef => ({
  apiVersion,
  kind,
  metadata: namespace ? { name, namespace } : { name },
});

export function createKubernetesDriver(options: KubernetesDriverOptions): KubernetesDriver {
  const logger = options.logger.child({ component: 'kubernetes-driver' });
  const now = options.now ?? (() => new Date());
  const pollSeconds = options.pollSeconds ?? 5;
  const upgradeReadyTimeoutMs = options.upgradeReadyTimeoutMs ?? 15 * 60_000;
  /** Per region: what the installed Keycloak Operator serves (asked once, then kept). */
  const keycloakApis = new Map<string, KeycloakApi>();

  function regionOf(instance: Pick<InstanceRef, 'region'>): KubernetesRegionAccess {
    const region = options.regions[instance.region];
    if (!region)
      throw new StepFailure(
        'permanent',
        message('failure.regionUnavailable'),
        `region "${instance.region}" has no Kubernetes settings in this worker`,
      );
    return region;
  }

  /** A call to the region's API server, its failures as step failures the order can show. */
  async function call<T>(region: KubernetesRegionAccess, work: (client: KubernetesClient) => Promise<T>) {
    try {
      return await work(region.client);
    } catch (error) {
      if (error instanceof KubernetesUnreachable)
        throw new StepFailure(
          'transient',
          message('failure.kubernetesUnreachable', { region: region.name }),
          error.message,
        );
      if (error instanceof KubernetesRefusal)
        throw new StepFailure(
          'permanent',
          message('failure.configurationRefused'),
          [error.message, ...error.causes].join('\n'),
        );
      throw error;
    }
  }

  const namespace = ({ instance, region }: Placed) => namespaceOf(region.settings, instance.name);
  const keycloakRef = (placed: Placed, api: KeycloakApi['apiVersion']) =>
    ref(api, 'Keycloak', names.keycloak, namespace(placed));
  const clusterRef = (placed: Placed) => ref(CNPG_API_VERSION, 'Cluster', names.database, namespace(placed));
  const serviceRef = (placed: Placed) => ref('v1', 'Service', names.publicService, namespace(placed));
  const namespaceRef = (placed: Placed) => ref('v1', 'Namespace', namespace(placed));
  const publicUrl = ({ instance, region }: Placed) =>
    `https://${publicHostOf(region.settings, instance.name)}`;

  async function keycloakApiOf(region: KubernetesRegionAccess, regionId: string): Promise<KeycloakApi> {
    const known = keycloakApis.get(regionId);
    if (known) return known;
    const api = await call(region, (client) => client.keycloakApi());
    if (!api)
      throw new StepFailure(
        'permanent',
        message('failure.regionUnavailable'),
        `the cluster of region ${regionId} serves no Keycloak CRD (keycloaks.k8s.keycloak.org v2beta1 or v2alpha1): install the Keycloak Operator`,
      );
    keycloakApis.set(regionId, api);
    return api;
  }

  async function readKeycloak(placed: Placed): Promise<ObjectWithStatus | null> {
    const api = await keycloakApiOf(placed.region, placed.instance.region);
    return call(placed.region, (client) =>
      client.read<ObjectWithStatus>(keycloakRef(placed, api.apiVersion)),
    );
  }

  function upgradeMarkOf(keycloak: ObjectWithStatus | null): UpgradeMark | null {
    const text = keycloak?.metadata?.annotations?.[UPGRADE_ANNOTATION];
    return text ? (JSON.parse(text) as UpgradeMark) : null;
  }

  function restartTokenOf(keycloak: ObjectWithStatus | null): string | null {
    const unsupported = keycloak?.spec?.unsupported as
      { podTemplate?: { metadata?: { annotations?: Record<string, string> } } } | undefined;
    return unsupported?.podTemplate?.metadata?.annotations?.[RESTART_ANNOTATION] ?? null;
  }

  /**
   * Server-side applies every object of the instance. The restart token and an upgrade mark of the live Keycloak
   * CR are carried over unless given: dropping the token would roll the pod again.
   */
  async function applyObjects(
    instance: DesiredInstance,
    step: ReturnType<typeof stepper>,
    given: { restartToken?: string; upgrade?: UpgradeMark | null } = {},
  ): Promise<void> {
    const region = regionOf(instance);
    const placed = { instance, region };
    await step('kubernetes-objects', async () => {
      refuseWhatThisRegionCannotDo(instance);
      const keycloakApi = await keycloakApiOf(region, instance.region);
      const live = await readKeycloak(placed);
      const restartToken = given.restartToken ?? restartTokenOf(live);
      const upgrade = given.upgrade === undefined ? upgradeMarkOf(live) : given.upgrade;
      const renewAfter = await certificateRenewAfter(placed);
      const objects = instanceObjects({
        instance,
        region: region.settings,
        keycloakApi,
        tls: await certificateOf(placed),
        restartToken,
      });
      for (const object of objects) {
        // The certificate has its own schedule (ensureCertificate below).
        if (object.kind === 'Secret' && object.metadata?.name === names.tlsSecret) continue;
        await call(region, (client) =>
          client.apply(
            object.kind === 'Keycloak' && upgrade
              ? annotated(object, UPGRADE_ANNOTATION, JSON.stringify(upgrade))
              : object.kind === 'Namespace' && renewAfter
                ? annotated(object, CERTIFICATE_RENEW_ANNOTATION, renewAfter)
                : object,
          ),
        );
      }
      const certificate = await ensureCertificate(instance);
      const applied = message('step.kubernetesObjectsApplied', {
        count: objects.length,
        namespace: namespace(placed),
      });
      return { value: null, note: certificate ? [applied, certificate] : applied };
    });
  }

  /**
   * What a Kubernetes region does not offer, refused by the order schemas (coded field errors) and the config
   * schema (warm pools): this is the last line, so that a spec that got here anyway (a region whose driver changed)
   * fails its order instead of being half served. Admin sources: the load balancer is TCP and Keycloak terminates
   * TLS, nothing can keep /admin/ from a trusted source. Themes: the operator's image takes none from Keyhouse.
   * Custom domains: their certificate lives at Keyhouse's edge, which this region's traffic does not pass.
   */
  function refuseWhatThisRegionCannotDo(instance: DesiredInstance) {
    const admins = new Set(instance.adminSources);
    if (!instance.trustedSources.every((source) => admins.has(source)))
      throw new StepFailure(
        'permanent',
        message('sources.adminNotOnKubernetes'),
        `admin sources ${instance.adminSources.join(', ') || '(none)'} are narrower than the trusted sources; the LoadBalancer Service cannot restrict paths`,
      );
    if (instance.themes.length > 0)
      throw new StepFailure(
        'permanent',
        message('themes.notOnKubernetes'),
        `themes ${instance.themes.map((t) => `${t.name} v${t.version}`).join(', ')} in the spec of a Kubernetes instance`,
      );
    if (instance.customHostname)
      throw new StepFailure(
        'permanent',
        message('domain.notOnKubernetes'),
        `custom host name ${instance.customHostname} in the spec of a Kubernetes instance`,
      );
    if (instance.warm)
      throw new StepFailure(
        'permanent',
        message('failure.noWarmPool'),
        'a warm-pool member for a Kubernetes region (the config schema refuses warmPool there)',
      );
  }

  const annotated = (object: KubernetesObject, key: string, value: string): KubernetesObject => ({
    ...object,
    metadata: { ...object.metadata, annotations: { ...object.metadata?.annotations, [key]: value } },
  });

  /** The instance's certificate from Keyhouse's CA (cached per host name, renewed by the CA when due). */
  async function certificateOf({ instance, region }: Placed) {
    const issued = await options.ca.issueServerCertificate(publicHostOf(region.settings, instance.name));
    return { certificatePem: issued.certPem, privateKeyPem: issued.keyPem, notAfter: issued.notAfter };
  }

  /** When the instance's certificate is to be replaced, from its Namespace (the worker cannot read Secrets). */
  async function certificateRenewAfter(placed: Placed): Promise<string | null> {
    const found = await call(placed.region, (client) => client.read<KubernetesObject>(namespaceRef(placed)));
    return found?.metadata?.annotations?.[CERTIFICATE_RENEW_ANNOTATION] ?? null;
  }

  /**
   * Writes the TLS Secret when the instance has none yet or its certificate is due (30 days before it expires),
   * then records the next date on the Namespace. Between those dates nothing is written: a certificate issued on
   * every pass would change the Secret each time. A crash between the two writes issues once more, harmlessly.
   * Keycloak reloads a renewed certificate by itself (`https-certificates-reload-period`).
   */
  async function ensureCertificate(instance: InstanceRef): Promise<CodedMessage | null> {
    const region = regionOf(instance);
    const placed = { instance, region };
    const renewAfter = await certificateRenewAfter(placed);
    if (renewAfter && now().getTime() < Date.parse(renewAfter)) return null;
    const tls = await certificateOf(placed);
    const input = { instance, region: region.settings };
    await call(region, (client) => client.apply(tlsSecret(input, tls)));
    const next = new Date(tls.notAfter.getTime() - CERTIFICATE_RENEW_BEFORE_MS).toISOString();
    await call(region, (client) =>
      client.apply(annotated(namespaceObject(input), CERTIFICATE_RENEW_ANNOTATION, next)),
    );
    return message('step.kubernetesCertificateWritten', { renewAfter: next.slice(0, 10) });
  }

  /** The instance's Service: its cluster address (the control plane's way in) and its load-balancer address. */
  async function serviceAddresses(placed: Placed) {
    const service = await call(placed.region, (client) =>
      client.read<ObjectWithStatus & { spec?: { clusterIP?: string } }>(serviceRef(placed)),
    );
    const clusterIp = service?.spec?.clusterIP;
    return {
      clusterIp: clusterIp && clusterIp !== 'None' ? clusterIp : null,
      loadBalancer: loadBalancerAddress(service),
    };
  }

  /**
   * The control plane reaches the admin API through the instance's Service, at its cluster address, over TLS with
   * the instance's certificate (checked against the public host name and Keyhouse's CA). The load balancer admits
   * only the customer's sources; the NetworkPolicy admits Keyhouse's namespace.
   */
  const adminApiOf = (placed: Placed, clusterIp: string): AdminApi => ({
    url: publicUrl(placed),
    connectTo: clusterIp,
    ca: options.ca.certificatePem,
  });

  /** Waits (by answering progressing) for the database, Keycloak and the load balancer; then the admin's setup. */
  async function convergeKeycloak(
    instance: DesiredInstance,
    step: ReturnType<typeof stepper>,
  ): Promise<{ outcome: 'ready'; url: string }> {
    const region = regionOf(instance);
    const placed = { instance, region };
    await step('database', async () => {
      const readiness = databaseReadiness(
        await call(region, (client) => client.read<ObjectWithStatus>(clusterRef(placed))),
      );
      if (!readiness.ready) throw new StepProgressing(readiness.message, pollSeconds);
      return { value: null, note: message('step.kubernetesDatabaseHealthy') };
    });
    await step('keycloak-ready', async () => {
      const readiness = keycloakReadiness(await readKeycloak(placed));
      if (!readiness.ready && readiness.failed)
        throw new StepFailure(
          'transient',
          message('failure.keycloakReportsErrors'),
          renderStepMessage(readiness.message),
        );
      if (!readiness.ready) throw new StepProgressing(readiness.message, pollSeconds);
      return { value: null, note: message('step.kubernetesKeycloakReady') };
    });
    const clusterIp = await step('exposure', async () => {
      const addresses = await serviceAddresses(placed);
      if (!addresses.loadBalancer || !addresses.clusterIp)
        throw new StepProgressing(message('step.kubernetesLoadBalancerPending'), pollSeconds);
      return {
        value: addresses.clusterIp,
        note: message('step.kubernetesLoadBalancer', {
          address: addresses.loadBalancer,
          url: publicUrl(placed),
        }),
      };
    });
    const api = adminApiOf(placed, clusterIp);
    const customerAdmin = { username: instance.adminUsername, password: instance.secrets.adminPassword };
    await step('admin-account', async () => ({
      value: null,
      note: await handOverAdmin({
        api,
        temporaryAdmin: { username: BOOTSTRAP_ADMIN_USERNAME, password: bootstrapAdminPassword(instance) },
        customerAdmin,
        diagnostics: `the Keycloak pod's log in namespace ${namespace(placed)}`,
      }),
    }));
    await step('first-realm', async () => ({
      value: null,
      note: await ensureFirstRealm({ api, customerAdmin, realm: instance.customerNumber }),
    }));
    return { outcome: 'ready', url: publicUrl(placed) };
  }

  const stepsOf = (instance: InstanceRef, report: StepReporter) =>
    stepper(logger.child({ instance: instance.name, region: instance.region }), report);

  async function apply(instance: DesiredInstance, report: StepReporter): Promise<ApplyResult> {
    if (instance.restoreFrom) return restoreUnavailable('Creating an instance from a backup');
    return outcomeOf(async () => {
      const step = stepsOf(instance, report);
      await applyObjects(instance, step);
      return convergeKeycloak(instance, step);
    });
  }

  /** A new restart token on the pod template rolls the pod once; the same token again changes nothing. */
  async function restart(
    instance: DesiredInstance,
    report: StepReporter,
    token: string,
  ): Promise<ApplyResult> {
    return outcomeOf(async () => {
      const step = stepsOf(instance, report);
      await applyObjects(instance, step, { restartToken: token });
      return convergeKeycloak(instance, step);
    });
  }

  /**
   * Applies the CloudNativePG `Backup` named after Keyhouse's backup id and reads how far the operator is: progressing
   * while it runs. CNPG reports neither a size nor a checksum of what it stored (a volume snapshot, or a base backup
   * in the object store of a plugin): the size is 0, and `sha256` fingerprints the Backup object (its uid and CNPG's
   * own backup id), so a record always names the one object it was taken as.
   */
  async function takeBackup(placed: Placed, backupId: string): Promise<TakenBackup> {
    const object = instanceBackup({ instance: placed.instance, region: placed.region.settings }, backupId);
    const stored = (await call(placed.region, (client) => client.apply(object))) as ObjectWithStatus;
    const location = `${namespace(placed)}/${object.metadata!.name!}`;
    const state = backupState(stored);
    if (state.state === 'failed')
      throw new StepFailure(
        'permanent',
        message('failure.backupFailed'),
        `Backup ${location}: ${state.message}`,
      );
    if (state.state === 'running')
      throw new StepProgressing(
        message('step.kubernetesBackupRunning', { backup: location, phase: state.message }),
        pollSeconds,
      );
    const status = (stored.status ?? {}) as { startedAt?: string; stoppedAt?: string; backupId?: string };
    const started = Date.parse(status.startedAt ?? '');
    const stopped = Date.parse(status.stoppedAt ?? '');
    return {
      location,
      sizeBytes: 0,
      sha256: createHash('sha256')
        .update(`${stored.metadata?.uid ?? ''}/${status.backupId ?? ''}`)
        .digest('hex'),
      durationMs: Number.isFinite(started) && Number.isFinite(stopped) ? Math.max(0, stopped - started) : 0,
      postgresMajor: postgresMajorOf(placed.region.settings.postgresImage),
    };
  }

  async function backup(instance: InstanceRef, backupId: string): Promise<BackupResult> {
    return outcomeOf(async () => ({
      outcome: 'done' as const,
      ...(await takeBackup({ instance, region: regionOf(instance) }, backupId)),
    }));
  }

  /** Retention: the Backup object goes (what CNPG does with the snapshot or the object store's copy is its own). */
  async function removeBackup(instance: InstanceRef, location: string): Promise<void> {
    const placed = { instance, region: regionOf(instance) };
    const [backupNamespace, name] = location.split('/');
    if (backupNamespace !== namespace(placed) || !name)
      throw new Error(`backup location ${location} is not in the namespace of ${instance.name}`);
    await call(placed.region, (client) =>
      client.delete(ref(CNPG_API_VERSION, 'Backup', name, backupNamespace)),
    );
  }

  /**
   * An upgrade's backup first (a CNPG Backup named after the pre-upgrade backup's id); then the new image. When
   * Keycloak reports errors or is not ready within the deadline, the old image comes back (the mark on the Keycloak
   * CR says so to every later pass), and the order ends rolled back. The backup is kept either way.
   */
  async function upgrade(
    from: DesiredInstance,
    to: DesiredInstance,
    backupId: string,
    report: StepReporter,
  ): Promise<UpgradeResult> {
    return outcomeOf(async (): Promise<UpgradeResult> => {
      const region = regionOf(to);
      const placed = { instance: to, region };
      const step = stepsOf(to, report);
      const backup = await step('backup', async () => {
        try {
          const taken = await takeBackup(placed, backupId);
          return {
            value: taken,
            note: message('step.kubernetesBackupCompleted', { backup: taken.location }),
          };
        } catch (error) {
          if (error instanceof StepFailure && error.kind === 'permanent')
            throw new StepFailure('permanent', message('failure.upgradeBackupFailed'), error.detail);
          throw error;
        }
      });

      let mark = upgradeMarkOf(await readKeycloak(placed));
      if (mark?.token !== backupId)
        mark = { token: backupId, phase: 'upgrading', since: now().toISOString() };
      if (mark.phase === 'upgrading') {
        await applyObjects(to, step, { upgrade: mark });
        const readiness = keycloakReadiness(await readKeycloak(placed));
        const overdue = now().getTime() - Date.parse(mark.since) > upgradeReadyTimeoutMs;
        if (readiness.ready) {
          const ready = await convergeKeycloak(to, step);
          // Done: later applies carry no mark.
          await applyObjects(to, step, { upgrade: null });
          return { outcome: 'ready', url: ready.url, backup };
        }
        if (!readiness.failed && !overdue) throw new StepProgressing(readiness.message, pollSeconds);
        mark = {
          token: backupId,
          phase: 'rolling-back',
          since: now().toISOString(),
          failure: {
            reason: message('failure.upgradeRolledBack', { version: to.version, previous: from.version }),
            detail: readiness.failed
              ? renderStepMessage(readiness.message)
              : `not ready within ${Math.round(upgradeReadyTimeoutMs / 1000)} s: ${renderStepMessage(readiness.message)}`,
          },
        };
        logger.warn({ instance: to.name, detail: mark.failure!.detail }, 'upgrade failed; rolling back');
      }
      const rollbackStep = stepsOf(from, (name, state, message) =>
        report(`rollback-${name}`, state, message),
      );
      await applyObjects(from, rollbackStep, { upgrade: mark });
      const ready = await convergeKeycloak(from, rollbackStep);
      await applyObjects(from, rollbackStep, { upgrade: null });
      const failure = mark.failure ?? { reason: message('failure.upgradeFailed'), detail: '' };
      return { outcome: 'rolled-back', url: ready.url, backup, ...failure };
    });
  }

  /**
   * Restoring a backup in place, or a new instance from one, would be a fresh CNPG cluster bootstrapped with
   * `recovery` from the object store (recoveryBootstrap in src/backups/cloudnative-pg.ts) that replaces the old one
   * once ready. Not wired yet: it needs the per-instance object-store layout of a plugin region, which the test
   * cluster cannot exercise (no operator, no object store). Until then the order fails with this reason, unchanged.
   */
  const restoreUnavailable = (what: string): ApplyResult => ({
    outcome: 'permanent-error',
    reason: `${what} is not available in Kubernetes regions yet; your instance was not changed.`,
    detail: `Kubernetes driver: ${what.toLowerCase()} (CNPG recovery bootstrap) is not implemented`,
  });

  async function restore(_instance: DesiredInstance, _from: BackupRef, _report: StepReporter) {
    return restoreUnavailable('Restoring a backup');
  }

  /** CNPG keeps the backups in the cluster's storage or object store: there are no bytes Keyhouse could stream. */
  async function readBackup(instance: InstanceRef, location: string): Promise<Readable> {
    throw new UnprocessableError(
      `The backup ${location} of ${instance.name} is kept by CloudNativePG in the region's storage; Kubernetes regions do not offer backup downloads.`,
    );
  }

  async function verify(instance: DesiredInstance, url: string): Promise<AdminLoginCheck> {
    const placed = { instance, region: regionOf(instance) };
    const { clusterIp } = await serviceAddresses(placed);
    if (!clusterIp) return { ok: false, message: 'The instance has no Service address yet.' };
    const check = await verifyAdminLogin({
      url,
      connectTo: clusterIp,
      ca: options.ca.certificatePem,
      username: instance.adminUsername,
      password: instance.secrets.adminPassword,
    });
    return check.ok ? { ok: true, note: message('step.loginThroughService', { url }) } : check;
  }

  async function locateAdminApi(instance: InstanceRef): Promise<AdminApiAddress | null> {
    const placed = { instance, region: regionOf(instance) };
    const { clusterIp } = await serviceAddresses(placed);
    if (!clusterIp) return null;
    const { url, connectTo } = adminApiOf(placed, clusterIp);
    return { url, connectTo };
  }

  /** The namespace goes, with everything in it; DONE only once the API server no longer has it. */
  async function destroy(instance: InstanceRef, report: StepReporter): Promise<DestroyResult> {
    const placed = { instance, region: regionOf(instance) };
    const result = await outcomeOf(async () => {
      await stepsOf(instance, report)('namespace', async () => {
        const answer = await call(placed.region, (client) => client.delete(namespaceRef(placed)));
        if (answer === 'deleting')
          throw new StepProgressing(
            message('step.kubernetesNamespaceEmptying', { namespace: namespace(placed) }),
            pollSeconds,
          );
        return {
          value: null,
          note: message('step.kubernetesNamespaceGone', { namespace: namespace(placed) }),
        };
      });
      return { outcome: 'done' as const };
    });
    if (result.outcome === 'done' || result.outcome === 'progressing') return result;
    throw new Error(
      result.outcome === 'permanent-error'
        ? `${renderStepMessage(result.reason)} ${result.detail}`
        : result.message,
    );
  }

  async function observe(
    instance: Pick<DesiredInstance, 'instanceId' | 'name' | 'storageGb' | 'region'>,
  ): Promise<ObservedInstance> {
    const at = now().toISOString();
    const region = options.regions[instance.region];
    if (!region)
      return {
        exists: false,
        ready: false,
        url: null,
        conditions: [
          {
            type: 'Ready',
            status: 'Unknown',
            reason: 'NoRegionSettings',
            message: `This worker has no settings for region ${instance.region}.`,
            lastTransitionTime: at,
          },
        ],
        usage: null,
      };
    const placed = { instance, region };
    try {
      const keycloak = await readKeycloak(placed);
      const cluster = await call(region, (client) => client.read<ObjectWithStatus>(clusterRef(placed)));
      const { loadBalancer } = await serviceAddresses(placed);
      const ready = keycloakReadiness(keycloak).ready && databaseReadiness(cluster).ready;
      return {
        exists: keycloak !== null || cluster !== null,
        ready,
        url: loadBalancer ? publicUrl(placed) : null,
        conditions: observedConditions(keycloak, cluster, at),
        usage: null,
      };
    } catch (error) {
      const message = error instanceof StepFailure ? `${error.reason} (${error.detail})` : String(error);
      return {
        exists: true,
        ready: false,
        url: null,
        conditions: [
          { type: 'Ready', status: 'Unknown', reason: 'ClusterUnreachable', message, lastTransitionTime: at },
        ],
        usage: null,
      };
    }
  }

  /**
   * The pod log of the instance's Keycloak (the operator's StatefulSet pod `keycloak-0`, container `keycloak`).
   * Logs are read by the API role for customers, so failures are the customer's answers, not step failures.
   */
  return {
    apply,
    restart,
    upgrade,
    verifyAdminLogin: verify,
    locateAdminApi,
    backup,
    restore,
    removeBackup,
    readBackup,
    destroy,
    observe,
    ensureCertificate: (instance) =>
      ensureCertificate(instance).catch((error: unknown) => {
        throw error instanceof StepFailure ? new Error(`${error.reason} ${error.detail}`) : error;
      }),
  };
}
