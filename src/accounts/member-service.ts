import { recordAudit } from '../audit/audit-store.js';
import type { Database } from '../db/database.js';
import { ConflictError, ForbiddenError, NotFoundError } from '../platform/errors.js';
import type { MemberPatch, Organization, User } from './account-schemas.js';
import * as store from './account-store.js';
import type { SignedInActor } from './roles.js';

/**
 * Admins manage the members of their organisation: change a role, remove a member (also themselves: leaving), and
 * require two-factor sign-in. An organisation always keeps one admin: the members are locked while a change that
 * could take the last one away is checked, so two concurrent demotions cannot both pass.
 */
export function createMemberService({ db, now }: { db: Database; now: () => Date }) {
  const lastAdminError = () =>
    new ConflictError('This is the last admin of the organisation; make another member admin first.', {
      reason: 'last-admin',
    });

  /**
   * The acting admin, checked again under the members' lock: the route checked the role when the request came in,
   * but another admin may have demoted or removed this one while it waited for the lock.
   */
  function stillAdmin(actor: SignedInActor, members: { id: string; role: string }[]) {
    if (members.find((m) => m.id === actor.principal.userId)?.role !== 'admin') {
      throw new ForbiddenError('You are no longer an admin of this organisation.');
    }
  }

  return {
    changeRole(actor: SignedInActor, userId: string, patch: MemberPatch): Promise<User> {
      const organizationId = actor.principal.organizationId;
      return db.transaction(async (tx) => {
        const members = await store.lockMembers(tx, organizationId);
        stillAdmin(actor, members);
        const member = members.find((m) => m.id === userId);
        if (!member) throw new NotFoundError('Member');
        const admins = members.filter((m) => m.role === 'admin');
        if (member.role === 'admin' && patch.role !== 'admin' && admins.length === 1) throw lastAdminError();
        await store.updateMemberRole(tx, userId, patch.role);
        await recordAudit(tx, actor, {
          action: 'member.role',
          targetType: 'user',
          targetId: userId,
          details: { email: member.email, from: member.role, to: patch.role },
        });
        const { organizationId: _org, ...user } = member;
        return { ...user, role: patch.role };
      });
    },

    /** Removal signs the member out everywhere and revokes their API tokens; orders and audit keep their name. */
    remove(actor: SignedInActor, userId: string): Promise<void> {
      const organizationId = actor.principal.organizationId;
      return db.transaction(async (tx) => {
        const members = await store.lockMembers(tx, organizationId);
        // Leaving needs no admin; removing somebody else does.
        if (userId !== actor.principal.userId) stillAdmin(actor, members);
        const member = members.find((m) => m.id === userId);
        if (!member) throw new NotFoundError('Member');
        if (member.role === 'admin' && members.filter((m) => m.role === 'admin').length === 1)
          throw lastAdminError();
        await store.removeMember(tx, userId, now());
        await recordAudit(tx, actor, {
          action: userId === actor.principal.userId ? 'member.leave' : 'member.remove',
          targetType: 'user',
          targetId: userId,
          details: { email: member.email, role: member.role },
        });
      });
    },

    /** On: every member without a second factor can do nothing but set one up, from their next request on. */
    setRequireTwoFactor(actor: SignedInActor, required: boolean): Promise<Organization> {
      return db.transaction(async (tx) => {
        const organization = await store.setRequireTwoFactor(tx, actor.principal.organizationId, required);
        if (!organization) throw new NotFoundError('Organisation');
        await recordAudit(tx, actor, {
          action: 'organization.require-two-factor',
          targetType: 'organization',
          targetId: organization.id,
          details: { required },
        });
        return organization;
      });
    },
  };
}
export type MemberService = ReturnType<typeof createMemberService>;
