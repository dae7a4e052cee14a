import { z } from 'zod';

export const roleSchema = z.enum(['admin', 'technician', 'manager', 'read-only']);
export type Role = z.infer<typeof roleSchema>;

/**
 * What each role may do (the provider's portal roles): read-only reads; technician changes instances but neither
 * orders nor deletes; manager orders and deletes, otherwise reads; admin does everything.
 */
export type Permission =
  | 'read'
  | 'orders:create'
  | 'instances:change'
  | 'instances:delete'
  | 'instances:reveal-credentials'
  | 'billing-profiles:create'
  | 'tickets:create'
  | 'members:manage'
  | 'audit:read';

const grants: Record<Role, ReadonlySet<Permission>> = {
  admin: new Set<Permission>([
    'read',
    'orders:create',
    'instances:change',
    'instances:delete',
    'instances:reveal-credentials',
    'billing-profiles:create',
    'tickets:create',
    'members:manage',
    'audit:read',
  ]),
  technician: new Set<Permission>([
    'read',
    'instances:change',
    'instances:reveal-credentials',
    'tickets:create',
  ]),
  manager: new Set<Permission>([
    'read',
    'orders:create',
    'instances:delete',
    'billing-profiles:create',
    'tickets:create',
    'audit:read',
  ]),
  'read-only': new Set<Permission>(['read']),
};

export function can(role: Role, permission: Permission): boolean {
  return grants[role].has(permission);
}

/** The signed-in user on whose behalf a request acts. */
export type Principal = {
  userId: string;
  organizationId: string;
  email: string;
  role: Role;
  /** How the request authenticated: cookie-authenticated writes need the CSRF token. */
  via: 'session' | 'token';
};

/** Who acts and from where: passed by every adapter (REST, OSB, workers) into the services. */
export type Actor = {
  principal: Principal | undefined;
  /** A name for actors without a user: "system", "osb:<platform identity>", or an e-mail before sign-in. */
  label?: string;
  requestId: string;
  sourceAddress: string;
};

/** An actor on a route that requires a permission: the principal is known. */
export type SignedInActor = Actor & { principal: Principal };
