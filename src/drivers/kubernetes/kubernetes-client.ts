import {
  ApiException,
  ApiextensionsV1Api,
  createConfiguration,
  KubeConfig,
  KubernetesObjectApi,
  Log,
  PatchStrategy,
  ServerConfiguration,
  type KubernetesObject,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { PassThrough } from 'node:stream';
import type { KubernetesRegion } from '../../config/kubernetes-region-schema.js';
import { FIELD_MANAGER, KEYCLOAK_API_VERSIONS, type KeycloakApi } from './instance-objects.js';

/**
 * The driver's narrow view of a cluster: server-side apply, read, delete, and which Keycloak API the server serves.
 * Every call has a deadline, so an unreachable cluster is an answer (`KubernetesUnreachable`) and not a hang.
 */
export type KubernetesClient = {
  /** Server-side apply as field manager `keyhouse`; fields another manager took are taken back (force). */
  apply<T extends KubernetesObject>(object: T): Promise<T>;
  /** The object as the API server has it, or null. */
  read<T extends KubernetesObject>(ref: ObjectRef): Promise<T | null>;
  /** Asks for deletion; `absent` when the API server no longer has it (deletion may take longer: read again). */
  delete(ref: ObjectRef): Promise<'deleting' | 'absent'>;
  /** What the installed Keycloak Operator's CRD serves (v2beta1 where served, else v2alpha1); null without it. */
  keycloakApi(): Promise<KeycloakApi | null>;
  /**
   * A container's log (the pods/log subresource, which the API server fetches from the pod's kubelet), chunk by
   * chunk as it arrives: from `sinceTime` on, or (`follow`) what is written from now on until `signal` aborts. Null
   * when the pod does not exist or has no log yet (not scheduled to a node).
   */
  podLog(
    container: ContainerRef,
    options: { sinceTime?: Date; follow?: boolean; signal?: AbortSignal },
  ): Promise<AsyncIterable<string> | null>;
};

export type ContainerRef = { namespace: string; pod: string; container: string };

export type ObjectRef = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };

/** The API server refused an object (validation, CEL rule, immutable field, admission, RBAC): retrying will not help. */
export class KubernetesRefusal extends Error {
  constructor(
    readonly status: number,
    /** The API server's reason, e.g. Invalid, Forbidden, Conflict. */
    readonly reason: string,
    message: string,
    /** Each refused field with the API server's words, e.g. `spec: Invalid value: … BackupSpec is immutable once set`. */
    readonly causes: string[],
  ) {
    super(message);
    this.name = 'KubernetesRefusal';
  }
}

/** No answer in time, a refused connection, or a server error: worth trying again later. */
export class KubernetesUnreachable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KubernetesUnreachable';
  }
}

const KEYCLOAK_CRD = 'keycloaks.k8s.keycloak.org';

type Status = {
  kind?: string;
  reason?: string;
  message?: string;
  details?: { causes?: { field?: string; message?: string }[] };
};

function describe(ref: ObjectRef): string {
  const where = ref.metadata.namespace ? `${ref.metadata.namespace}/` : '';
  return `${ref.kind} ${where}${ref.metadata.name}`;
}

/** Maps the client's failures to the two the driver acts on; a 404 is handled by the callers that expect it. */
function classify(error: unknown, ref: ObjectRef, server: string, timeoutMs: number): Error {
  if (error instanceof ApiException) {
    const code = (error as ApiException<unknown>).code;
    const body = parseStatus((error as ApiException<unknown>).body);
    // Server-side apply answers 500 for a field the schema does not declare: a refusal, not an outage.
    const undeclaredField = code === 500 && /failed to create typed patch object/.test(body.message ?? '');
    if ((code >= 500 || code === 429) && !undeclaredField)
      return new KubernetesUnreachable(`${describe(ref)}: ${code} ${body.message ?? 'from the API server'}`);
    const causes = (body.details?.causes ?? []).map((cause) =>
      [cause.field, cause.message].filter(Boolean).join(': '),
    );
    return new KubernetesRefusal(
      code,
      body.reason ?? String(code),
      `${describe(ref)} refused: ${body.message ?? `HTTP ${code}`}`,
      causes,
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  const timedOut = error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
  return new KubernetesUnreachable(
    `${describe(ref)}: no answer from ${server}: ${timedOut ? `nothing within ${timeoutMs} ms` : message}`,
  );
}

function parseStatus(body: unknown): Status {
  if (typeof body === 'string') {
    try {
      return JSON.parse(body) as Status;
    } catch (error) {
      // Not a Status document (e.g. a proxy's HTML page): its text is the message.
      return { message: `${body.slice(0, 300)} (${(error as Error).name})` };
    }
  }
  return (body ?? {}) as Status;
}

const isNotFound = (error: unknown) => error instanceof ApiException && error.code === 404;

export function loadKubeConfig(cluster: KubernetesRegion['cluster']): KubeConfig {
  const config = new KubeConfig();
  if ('inCluster' in cluster) config.loadFromCluster();
  else {
    config.loadFromFile(cluster.kubeconfig);
    if (cluster.context) config.setCurrentContext(cluster.context);
  }
  return config;
}

export function createKubernetesClient(
  kubeConfig: KubeConfig,
  options: { requestTimeoutMs?: number } = {},
): KubernetesClient {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const timeoutMs = options.requestTimeoutMs ?? 15_000;
  const configuration = createConfiguration({
    baseServer: new ServerConfiguration(cluster.server, {}),
    authMethods: { default: kubeConfig },
    promiseMiddleware: [
      {
        pre: async (context) => {
          context.setSignal(AbortSignal.timeout(timeoutMs));
          return context;
        },
        post: async (response) => response,
      },
    ],
  });
  const objects = new KubernetesObjectApi(configuration);
  const extensions = new ApiextensionsV1Api(configuration);

  return {
    async apply(object) {
      try {
        return await objects.patch(
          object,
          undefined,
          undefined,
          FIELD_MANAGER,
          true,
          PatchStrategy.ServerSideApply,
        );
      } catch (error) {
        throw classify(error, object as ObjectRef, cluster.server, timeoutMs);
      }
    },
    async read<T extends KubernetesObject>(ref: ObjectRef) {
      try {
        return (await objects.read<T>(ref as T & ObjectRef)) as T;
      } catch (error) {
        if (isNotFound(error)) return null;
        throw classify(error, ref, cluster.server, timeoutMs);
      }
    },
    async delete(ref) {
      try {
        await objects.delete(ref);
        return 'deleting';
      } catch (error) {
        if (isNotFound(error)) return 'absent';
        throw classify(error, ref, cluster.server, timeoutMs);
      }
    },
    async podLog(container, options) {
      const ref = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `${container.pod}/log`, namespace: container.namespace },
      };
      const sink = new PassThrough({ encoding: 'utf8' });
      let request: AbortController;
      try {
        // The client's Log API (the only one that streams); it takes no deadline, so a read gets one here.
        request = await new Log(kubeConfig).log(
          container.namespace,
          container.pod,
          container.container,
          sink,
          {
            follow: options.follow ?? false,
            ...(options.follow ? { tailLines: 0 } : {}),
            ...(options.sinceTime ? { sinceTime: options.sinceTime.toISOString() } : {}),
          },
        );
      } catch (error) {
        // 204: the pod has no node yet, so no log (the client's Log API takes every answer but 200 for a failure).
        if (isNotFound(error) || (error instanceof ApiException && error.code === 204)) return null;
        throw classify(error, ref, cluster.server, timeoutMs);
      }
      const stop = () => {
        request.abort();
        sink.end();
      };
      const deadline = options.follow ? undefined : setTimeout(stop, timeoutMs);
      options.signal?.addEventListener('abort', stop, { once: true });
      return (async function* () {
        try {
          for await (const chunk of sink) yield chunk as string;
        } finally {
          clearTimeout(deadline);
          options.signal?.removeEventListener('abort', stop);
          request.abort();
        }
      })();
    },
    async keycloakApi() {
      const ref = {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: KEYCLOAK_CRD },
      };
      let crd: V1CustomResourceDefinition;
      try {
        crd = await extensions.readCustomResourceDefinition({ name: KEYCLOAK_CRD });
      } catch (error) {
        if (isNotFound(error)) return null;
        throw classify(error, ref, cluster.server, timeoutMs);
      }
      for (const apiVersion of KEYCLOAK_API_VERSIONS) {
        const version = crd.spec.versions.find(
          (v) => `${crd.spec.group}/${v.name}` === apiVersion && v.served,
        );
        if (!version) continue;
        const specFields = version.schema?.openAPIV3Schema?.properties?.spec?.properties ?? {};
        return { apiVersion, hasNetworkPolicy: 'networkPolicy' in specFields };
      }
      return null;
    },
  };
}
