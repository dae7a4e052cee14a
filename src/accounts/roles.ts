import { z } from 'zod';

export const roleSchema = z.enum(['admin', 'technician', 'manager', 'read-only']);
export type Role = z.infer<typeof roleSchema>;

/**
 * The provider's operators stand outside every customer organisation: `operator` reads everything and acts on
 * orders and tickets; `operator-read-only` reads.
 */
export const operatorRoleSchema = z.enum(['operator', 'operator-read-only']);
export type OperatorRole = z.infer<typeof operatorRoleSchema>;

/** The role a user account has: a customer role, or an operator role. */
export const accountRoleSchema = z.enum([...roleSchema.options, ...operatorRoleSchema.options]);
export type AccountRole = z.infer<typeof accountRoleSchema>;

export const isOperatorRole = (role: AccountRole): role is OperatorRole =>
  (operatorRoleSchema.options as readonly string[]).includes(role);

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

/** Operators hold no customer permission: they act through the operator routes only. */
export function can(role: AccountRole, permission: Permission): boolean {
  return !isOperatorRole(role) && grants[role].has(permission);
}

export type OperatorPermission = 'ops:read' | 'ops:act';

export function operatorCan(role: OperatorRole, permission: OperatorPermission): boolean {
  return permission === 'ops:read' || role === 'operator';
}

/** The signed-in user on whose behalf a request acts. */
export type Principal = {
  userId: string;
  organizationId: string;
  email: string;
  role: Role;
  /** How the request authenticated: cookie-authenticated writes need the CSRF token. */
  via: 'session' | 'token';
  /**
   * The organisation requires a second factor and this user has none yet: only setting one up (and signing out) is
   * allowed.
   */
  mustEnrolTwoFactor?: boolean;
};

/** A signed-in provider operator: no organisation; sees every organisation through the operator routes. */
export type OperatorPrincipal = {
  userId: string;
  email: string;
  role: OperatorRole;
  via: 'session';
};

/** Who acts and from where: passed by every adapter (REST, OSB, workers) into the services. */
export type Actor = {
  principal: Principal | undefined;
  /** A provider operator acting (on the operator routes); audited as `operator:<e-mail>`. */
  operator?: OperatorPrincipal;
  /** A name for actors without a user: "system", "osb:<platform identity>", or an e-mail before sign-in. */
  label?: string;
  requestId: string;
  sourceAddress: string;
  /** The client's User-Agent, kept on a session it starts so the user can recognise it. */
  userAgent?: string;
};

/** An actor on a route that requires a permission: the principal is known. */
export type SignedInActor = Actor & { principal: Principal };
