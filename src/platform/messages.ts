import type { z } from 'zod';

/**
 * Messages for people, with a code and parameters: the API keeps sending the English text (`message`), and adds
 * `code` and `params` so that the portal can say the same in German (web/src/i18n/de.ts, `messages.<code>`, one
 * entry per code — the compiler checks that none is missing). Templates use i18next's `{{param}}` placeholders.
 * Browser-safe: no imports at run time.
 */
export const MESSAGES = {
  // Any field.
  'value.required': 'required',
  'value.invalid': 'invalid value',
  'value.type': 'expected {{expected}}',
  'value.oneOf': 'one of {{values}}',
  'field.unknown': 'not a field of this request',
  'text.tooShort': 'at least {{min}} characters',
  'text.tooLong': 'at most {{max}} characters',
  'text.controlCharacters': 'no control characters or line breaks',
  'text.controlCharactersMultiline': 'no control characters except line breaks and tabs',
  'number.tooSmall': 'at least {{min}}',
  'number.tooLarge': 'at most {{max}}',
  'number.integer': 'a whole number',
  'list.tooShort': 'at least {{min}} entries',
  'list.tooLong': 'at most {{max}} entries',
  'format.invalid': 'not in the expected format',
  'format.uuid': 'not a valid id',
  'format.email': 'an e-mail address',
  'format.month': 'a month as YYYY-MM, e.g. 2026-03',
  'format.idempotencyKey': '1 to 200 visible ASCII characters, e.g. a UUID',
  'format.auditAction': 'an action such as order.scale or instance.credentials.reveal',
  'list.cursor': 'not a cursor of this list',

  // Accounts.
  'account.email': 'an e-mail address such as anna@example.com',
  'account.invitationToken': 'the token part of an invitation link',
  'account.linkToken': 'the token part of the link from the e-mail',
  'account.totpCode': 'the six digits your authenticator app shows',
  'account.recoveryCode': 'a recovery code such as k7m2q-x9d4w',
  'account.totpCodeWrong': 'This code is wrong or expired; enter the code your app shows now.',
  'account.passwordWrong': 'The password is wrong.',

  // Billing.
  'billing.postalCode': 'a postal code of 2 to 11 letters and digits',
  'billing.country': 'an ISO 3166 country code such as DE',
  'billing.vatIdOfCountry': 'not a VAT id of {{country}} (expected like {{example}})',
  'billing.vatId': 'a VAT id has 4 to 20 letters and digits',
  'billing.profileId': 'the id of one of your billing profiles',
  'billing.profileUnknown': 'No billing profile with this id in your organisation.',
  'billing.oneProfile':
    'choose an existing billing profile (billingProfileId) or enter a new one (billingProfile), not both',

  // Orders.
  'storage.wholeGb': 'a whole number of GB from {{min}} to {{max}}',
  'storage.atLeast': 'at least {{min}} GB',
  'storage.atMost': 'at most {{max}} GB',
  'storage.step': 'storage grows in steps of {{step}} GB',
  'storage.onlyGrows': 'storage can only grow: choose more than the current {{current}} GB',
  'order.termsChanged':
    'The terms changed (current version {{version}}); please review them and accept again.',
  'order.versions': 'available versions: {{versions}}',
  'order.zones': 'zones of {{region}}: {{zones}}',
  'order.sameNodeSize': 'the instance already runs on {{nodeSize}}',
  'order.newerVersion': 'upgrades go to a newer version than {{version}}',
  'order.confirmName': "type the instance's name {{name}} to confirm",

  // Backups, restores, realm export and import (src/backups).
  'backup.retention': 'a whole number of nightly backups from {{min}} to {{max}}',
  'backup.retentionAtLeast': 'at least {{min}} nightly backups',
  'backup.retentionAtMost': 'at most {{max}} nightly backups',
  'backup.timeZone': 'an IANA time zone such as Europe/Berlin',
  'backup.windowGap':
    'the maintenance window (2.5 h) must start at least 2.5 h after the backup window (2 h) ends and end at least ' +
    '2.5 h before it starts',
  'backup.id': "the id of one of the instance's backups",
  'backup.unknown': 'No backup with this id for this instance.',
  'backup.notDone': 'This backup is {{status}}; only finished backups restore.',
  'backup.publicKey': 'an ASCII-armored OpenPGP public key',
  'backup.keyUnreadable': 'not a readable OpenPGP key: {{reason}}',
  'backup.keyPrivate': 'this is a private key; upload only the public key',
  'backup.keyCannotEncrypt': 'the key cannot encrypt (revoked, expired or no encryption subkey): {{reason}}',
  'backup.keyTooLarge': 'the key is larger than {{max}} characters in its standard armor',
  'restore.sourceUnknown': 'No instance with this id in your organisation.',
  'restore.nodeSize': 'a restore needs the same or a larger node size than {{nodeSize}}',
  'restore.storage': 'a restore needs at least the {{storageGb}} GB of the source',
  'restore.version': 'the backup was taken with Keycloak {{version}}; choose that version or a newer one',
  'realm.name': 'letters, digits, dots, dashes and underscores, starting with a letter or digit',
  'realm.exportOrderId': 'the id of a finished realm-export order',
  'realm.exportUnknown': 'No finished realm export with this order id in your organisation.',

  // Trusted sources (src/access/trusted-sources.ts).
  'sources.list': 'a list of IPv4/IPv6 addresses or CIDR ranges',
  'sources.atLeastOne': 'Allow at least one source: until then nobody can reach the instance.',
  'sources.atMost': 'At most {{max}} trusted sources.',
  'sources.slashes': '"{{entry}}" has more than one "/".',
  'sources.notAnAddress': '"{{entry}}" is not an IPv4 or IPv6 address.',
  'sources.ipv4Mapped': '"{{entry}}" is an IPv4-mapped IPv6 address; write it as {{ipv4}}.',
  'sources.prefixNotNumber': '"{{entry}}" has a prefix length that is not a number.',
  'sources.prefixTooLong': '"{{entry}}" has a prefix length above /{{bits}}.',
  'sources.wholeInternet': '"{{entry}}" would allow the whole Internet; name the addresses you trust.',
  'sources.hostBits': '"{{entry}}" has host bits set; the network is {{network}} (or use {{address}} alone).',
  'sources.prefixBounds':
    '"{{entry}}": {{family}} prefixes must be between /{{min}} and /{{max}} in this region.',
  'sources.notGlobalIpv6': '"{{entry}}" is not a global unicast IPv6 range (2000::/3).',
  'sources.rangePublicOnly': '"{{entry}}" is {{range}}; this region accepts only public unicast addresses.',
  'sources.rangeLocal':
    '"{{entry}}" is {{range}}; this region accepts only public unicast, loopback or private addresses.',
  'sources.repeated': '"{{entry}}" repeats entry {{first}}.',
  'sources.adminAtMost': 'At most {{max}} admin sources.',
  'sources.adminOutside':
    'The admin sources {{sources}} would not be within these trusted sources; change the admin sources first.',
  'sources.adminUnchanged': 'the instance already has exactly these admin sources',
  'sources.adminNotTrusted':
    '"{{entry}}" is not within the trusted sources; an admin source must be allowed to connect first.',
  'themes.notOnKubernetes':
    'Login themes are deployed on the hosts of local regions; instances in a Kubernetes region run the ' +
    "operator's Keycloak image, which takes no themes from Keyhouse yet.",
  'domain.notOnKubernetes':
    "Custom domains are served by Keyhouse's edge with their own certificate; instances in a Kubernetes region " +
    "are reached through their load balancer with TLS at Keycloak, which has only the instance's own certificate.",
  'domain.acmeFailed':
    'The certificate could not be obtained from the ACME directory: {{reason}} Keyhouse tries again at {{retryAt}}.',
  'domain.acmeRenewalFailed':
    'The certificate could not be renewed: {{reason}} The current one stays served until {{notAfter}}; Keyhouse ' +
    'tries again at {{retryAt}}.',
  'domain.acmeOrderWaits':
    'The certificate is there; the domain is served once the instance can take the change (another order runs, ' +
    'or it is not running). Keyhouse tries again every minute.',
  'sources.adminNotOnKubernetes':
    'Instances in this region are reached through a TCP load balancer that cannot tell the admin console from ' +
    'logins: every trusted source reaches /admin/. Leave the admin sources unset (null).',

  // Support.
  'ticket.orderUnknown': 'No order with this id in your organisation.',
  'ticket.instanceUnknown': 'No instance with this id in your organisation.',

  // Why an order failed (an order's failureReason, shown to the customer): the reconciler's, the backups' and the
  // drivers'. Like a step's note, a reason may have several parts, joined by "; ".
  'failure.versionCannotRun': 'Keycloak {{version}} cannot run on this host.',
  'failure.versionNotReadyYet': 'Keycloak {{version}} is not ready on this host yet.',
  'failure.temporaryAdminNotCreated': 'The temporary admin could not be created.',
  'failure.edgeNoUrl': 'The edge answered no usable URL.',
  'failure.keycloakNotReadyInTime': 'Keycloak did not become ready in time.',
  'failure.keycloakExitedWhileStarting': 'Keycloak stopped while starting.',
  'failure.instanceNameInvalid': 'The instance name is invalid.',
  'failure.themeVersionGone': 'Version {{version}} of the theme {{theme}} is gone.',
  'failure.themeNotDeployable': 'The theme {{theme}} cannot be deployed.',
  'failure.keycloakCopyFailed': 'Copying Keycloak failed.',
  'failure.noFreePort': 'No free port for Keycloak on this host.',
  'failure.regionUnavailable':
    'This region cannot provision instances at the moment. Our team has been notified.',
  'failure.unreachableAfterStart': 'Your instance started but could not be reached through its address.',
  'failure.provisioningGaveUp': 'Provisioning did not complete after several attempts.',
  'failure.orderGaveUp': 'The {{orderType}} order did not complete after several attempts.',
  'failure.cancelledByProvider': 'The order was cancelled by the provider before it started.',
  'failure.cancelledByPlatform':
    'Cancelled: the platform deprovisioned the instance before its provisioning started.',
  'failure.backupGone': 'The backup {{backup}} is no longer available.',
  'failure.nothingRestored': 'Nothing was restored: the backup of the current state failed.',
  'failure.backupFailed': 'The backup failed.',
  'failure.backupGaveUp': 'The backup could not be taken after several attempts.',
  'failure.backupsUnavailable': 'Backups are not available in this region.',
  'failure.upgradeBackupFailed': 'The backup before the upgrade failed; your instance was not changed.',
  'failure.upgradeRolledBack':
    'Keycloak {{version}} did not become ready; your instance runs Keycloak {{previous}} again, with its data ' +
    'from the backup taken before the upgrade.',
  'failure.upgradeFailed': 'The upgrade failed.',
  'failure.upgradeBesideNotReady':
    'Keycloak {{version}} did not become ready beside the running one; your instance runs Keycloak {{previous}} ' +
    'as before, without interruption.',
  'failure.realmMissing': 'This instance has no realm named "{{realm}}".',
  'failure.realmExportRefused': 'Keycloak refused the export.',
  'failure.realmExists': 'A realm named "{{realm}}" exists on this instance already.',
  'failure.realmImportRefused': 'Keycloak refused the realm.',
  'failure.realmExportGone': 'The realm export is no longer available.',
  'failure.configurationRefused':
    'The platform refused the configuration of your instance. Our team has been notified.',
  'failure.noWarmPool': 'This region keeps no warm pool.',
  'failure.adminCannotLogIn': 'The administrator account cannot log in.',
  'failure.adminNotSetUp': 'The administrator account could not be set up.',
  'failure.warmMemberWithoutAdmin': 'A warm-pool member needs its temporary admin.',
  'failure.noKeycloakHere': 'The instance has no Keycloak here.',
  'failure.upgradeUnfinished': 'Another upgrade of this instance is unfinished; our team has been notified.',
  'failure.restoreUnfinished': 'Another restore of this instance is unfinished; our team has been notified.',
  'failure.backupNotHere': 'The backup is not on this host.',
  'failure.backupIdInvalid': 'Invalid backup id.',
  // A step's transient failure, as its note (the step is retried).
  'failure.kubernetesUnreachable':
    'The Kubernetes cluster of region {{region}} does not answer; Keyhouse tries again.',
  'failure.keycloakReportsErrors': 'Keycloak reports errors; Keyhouse tries again.',
  'failure.adminNotCreated': 'The admin account could not be created.',
  'failure.adminRoleMissing': 'The admin role of the master realm is missing.',

  // Notes of an order's steps, as the status page lists them (src/orders/order-steps.ts): the reconciler's, the
  // backups' and the drivers' (local, shared Keycloak). A note may have several parts, joined by "; ".
  'step.waitingForCapacity':
    'Region {{region}} is full ({{active}} of {{max}} instances); your order waits for capacity.',
  'step.capacityAvailable': 'capacity available',
  'step.failedRetrying': 'Step {{step}} failed; it will be retried.',
  'step.removed': 'removed',
  'step.databaseCreated': '{{database}}: database created',
  'step.databaseExisted': '{{database}}: database existed',
  'step.databaseCreatedFromTemplate': "{{database}}: database created with Keycloak's schema",
  'step.schemaTemplateUnavailable': 'no schema template: Keycloak creates its schema itself (slower)',
  'step.databaseRestored': '{{database}}: database restored from backup {{backup}}',
  'step.databaseDropped': '{{database}} dropped',
  'step.scratchDatabasesDropped': 'dropped with {{databases}}',
  'step.roleCreated': 'role created',
  'step.roleExisted': 'role existed',
  'step.homeUpToDate': 'up to date',
  'step.homeCreated': 'home for Keycloak {{version}} created',
  'step.homeRebuilt': 'home for Keycloak {{version}} made again with the current build options',
  'step.ports': 'ports {{http}}/{{management}}',
  'step.portsMoved': 'ports moved to {{http}}/{{management}} (old ones busy)',
  'step.keycloakNotRunning': 'Keycloak was not running',
  'step.keycloakStopped': 'Keycloak stopped',
  'step.keycloakKilled': 'Keycloak killed (it did not stop in time)',
  'step.keycloakStarted': 'started (process group {{pid}})',
  'step.keycloakRestarted': 'restarted with new settings (process group {{pid}})',
  'step.keycloakRestartedForTheme': 'restarted for the changed theme (process group {{pid}})',
  'step.keycloakAdopted': 'adopted running process {{pids}}',
  'step.keycloakReady': 'ready after {{seconds}} s of apply',
  'step.adminHandedOver': 'already handed over',
  'step.adminCreated': 'admin created',
  'step.adminExisted': 'admin existed',
  'step.temporaryAdminDeleted': 'temporary admin deleted',
  'step.realmAlreadyCreated': 'already created',
  'step.realmCreated': '{{realm}}: realm created',
  'step.realmExisted': '{{realm}}: realm existed',
  'step.loginThroughEdge': 'the admin logged in through the edge',
  'step.loginBehindEdge': 'this host is not a trusted source; login verified on the instance behind the edge',
  'step.upgradePrepared': 'Keycloak {{version}} is ready to install',
  'step.backupFile': 'pg_dump: {{file}} ({{kib}} KiB, sha256 {{sha256}}…)',
  'step.upgradeCleanedUp': 'Keycloak {{version}} home removed; backup kept: {{file}}',
  'step.upgradeRolling':
    'Keycloak allows a rolling update from {{from}} to {{to}}: the new version starts beside the running one',
  'step.upgradeNotRolling': 'no rolling update ({{why}}): Keycloak stops for the upgrade',
  'step.upgradeCheckFailed':
    'the rolling-update check did not answer (exit code {{code}}): Keycloak stops for the upgrade',
  'step.upgradeSwitched': 'Keycloak {{version}} serves; backup kept: {{file}}',
  'step.rolledBack': 'Keycloak {{version}} home and the database restored from {{file}}',
  'step.restoredBeside': 'restored beside the live database from {{backup}}',
  'step.restoredSwapped': 'restored database switched in',
  'step.restoredAlreadySwapped': 'restored database was switched in already',
  'step.backupTaken': '{{backup}}: {{bytes}} bytes',
  'step.realmExported': '{{realm}}: {{bytes}} bytes',
  'step.realmExportedWithUsers': '{{realm}}: {{bytes}} bytes, {{users}} users',
  'step.realmImported': '{{realm}} created',
  'step.realmImportedWithUsers': '{{realm}} created with {{users}} users',
  'step.realmImportedEarlier': '{{realm}} exists (imported by an earlier attempt)',
  'step.keycloakUnreachable': 'Keycloak could not be reached; the step will be retried.',
  // Themes in a Keycloak home (src/drivers/local/instance-themes.ts); parts joined by "; ".
  'step.themeAdded': '{{name}} {{version}} added',
  'step.themeReplaced': '{{name}} {{from}} → {{to}}',
  'step.themeRemoved': '{{name}} removed',
  'step.themesUpToDate': 'up to date',
  'step.themesRestart': 'Keycloak restarts (it caches themes)',
  // Scale, restart and theme or domain changes beside the running Keycloak (src/drivers/local/keycloak-switch.ts).
  'step.roomRegionFull': 'region {{region}} is at {{count}} of {{max}} Keycloaks',
  'step.roomHostMemory':
    'this host has {{available}} MB of free memory; a second Keycloak needs {{needed}} MB',
  'step.roomNotOffered': 'no room was offered for a second Keycloak',
  'step.roomFirstStart': 'the first start is not finished',
  'step.standbyPorts': 'slot {{slot}}, ports {{http}}/{{management}}',
  'step.standbyResumed': 'resumed: slot {{slot}}',
  'step.standbyOtherSettings': 'stopped a new Keycloak with other settings',
  'step.standbyReady': 'ready',
  'step.standbyNoPort': 'No free port for a second Keycloak on this host.',
  'step.standbyExited': 'The new Keycloak stopped while starting; the running one serves on.',
  'step.standbyNotReady': 'The new Keycloak did not become ready in time; the running one serves on.',
  'step.edgeSwitched': 'the edge sends every request to port {{port}}',
  'step.edgeUnobserved':
    'the edge could not be observed ({{why}}); waited {{seconds}} s, its keep-alive timeout',
  'step.edgeStillOld': 'not switched yet after {{seconds}} s ({{why}}); going on',
  'step.slotServes': 'slot {{slot}} serves instead of slot {{old}}',
  'step.drainIdle': 'no connection open to the old Keycloak',
  'step.drainClosed': 'its {{count}} open connections closed within {{seconds}} s',
  'step.drainStillOpen': '{{count}} connections still open after {{seconds}} s',
  // Kubernetes regions (src/drivers/kubernetes).
  'step.kubernetesObjectsApplied': '{{count}} objects applied in {{namespace}}',
  'step.kubernetesCertificateWritten': 'certificate written, renewed after {{renewAfter}}',
  'step.kubernetesDatabaseHealthy': 'CloudNativePG reports the cluster healthy',
  'step.kubernetesKeycloakReady': 'the Keycloak Operator reports Ready',
  'step.kubernetesLoadBalancer': 'load balancer {{address}}, {{url}}',
  'step.kubernetesBackupCompleted': 'Backup {{backup}} completed',
  'step.loginThroughService': "the admin logged in at {{url}} through the instance's Service, over TLS",
  'step.kubernetesNamespaceGone': '{{namespace}} is gone',
  'step.kubernetesKeycloakMissing': 'waiting for the Keycloak resource to be created',
  'step.kubernetesKeycloakErrors': 'the Keycloak Operator reports errors: {{detail}}',
  'step.kubernetesKeycloakNotReconciled': 'waiting for the Keycloak Operator to take up the change',
  'step.kubernetesKeycloakRolling': 'Keycloak is rolling out the change',
  'step.kubernetesKeycloakStarting': 'Keycloak is not ready yet: {{detail}}',
  'step.kubernetesDatabaseMissing': 'waiting for the database cluster to be created',
  'step.kubernetesDatabaseNotReady': 'the database is not ready yet ({{phase}})',
  'step.kubernetesLoadBalancerPending': 'waiting for the load balancer to assign an address',
  'step.kubernetesBackupRunning': 'waiting for the backup {{backup}} ({{phase}})',
  'step.kubernetesNamespaceEmptying': '{{namespace}} is being emptied and removed',
} as const satisfies Record<string, string>;

export type MessageCode = keyof typeof MESSAGES;
export type MessageParams = Record<string, string | number>;
export type CodedMessage = { code: MessageCode; params: MessageParams };

/** A note of an order's step: plain English (a URL, an error's own words), or coded parts joined by "; ". */
export type StepMessage = string | CodedMessage | CodedMessage[];

/** A coded message, e.g. `message('step.keycloakReady', { seconds: 48 })`. */
export const message = (code: MessageCode, params: MessageParams = {}): CodedMessage => ({ code, params });

/** The English text of a step's note. */
export function renderStepMessage(note: StepMessage): string {
  if (typeof note === 'string') return note;
  return (Array.isArray(note) ? note : [note])
    .map((part) => renderMessage(part.code, part.params))
    .join('; ');
}

/** The coded parts of a note (each translated on its own, joined by "; "); null for plain English words. */
export function messageParts(note: StepMessage): CodedMessage[] | null {
  if (typeof note === 'string') return null;
  return Array.isArray(note) ? note : [note];
}

/** The English text of a message. */
export function renderMessage(code: MessageCode, params: MessageParams = {}): string {
  return MESSAGES[code].replace(/\{\{(\w+)\}\}/g, (_, name: string) => String(params[name] ?? `{{${name}}}`));
}

/** Where a coded message travels on a zod issue (`params` is zod's own field for custom issue data). */
type IssueParams = { messageCode: MessageCode; messageParams: MessageParams };

/**
 * The error parameter of a zod check, e.g. `.min(3, coded('text.tooShort', { min: 3 }))`: the issue gets the
 * English text as its message and the code with its parameters in `params`, which fieldErrorsOf passes on.
 */
export function coded(code: MessageCode, params: MessageParams = {}) {
  return {
    // Called by zod with the issue before it is finalised; what is set on it here stays on it.
    error: (issue: object) => {
      Object.assign(issue, { params: { messageCode: code, messageParams: params } satisfies IssueParams });
      return renderMessage(code, params);
    },
  };
}

/** A custom issue for `ctx.addIssue` in a transform or superRefine. */
export function codedIssue(code: MessageCode, params: MessageParams = {}, path?: PropertyKey[]) {
  return {
    code: 'custom' as const,
    message: renderMessage(code, params),
    params: { messageCode: code, messageParams: params } satisfies IssueParams,
    ...(path ? { path } : {}),
  };
}

/** The code and parameters of an issue: its own when coded, otherwise derived from what zod says. */
export function messageOfIssue(issue: z.core.$ZodIssue): CodedMessage {
  const own = (issue as { params?: Partial<IssueParams> }).params;
  if (own?.messageCode && own.messageCode in MESSAGES) {
    return { code: own.messageCode, params: own.messageParams ?? {} };
  }
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined
        ? { code: 'value.required', params: {} }
        : { code: 'value.type', params: { expected: issue.expected } };
    case 'invalid_value':
      return { code: 'value.oneOf', params: { values: issue.values.map(String).join(', ') } };
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      const bound = Number(small ? issue.minimum : issue.maximum);
      if (issue.origin === 'string') {
        return small && bound === 1
          ? { code: 'value.required', params: {} }
          : {
              code: small ? 'text.tooShort' : 'text.tooLong',
              params: small ? { min: bound } : { max: bound },
            };
      }
      if (issue.origin === 'array' || issue.origin === 'set') {
        return {
          code: small ? 'list.tooShort' : 'list.tooLong',
          params: small ? { min: bound } : { max: bound },
        };
      }
      return {
        code: small ? 'number.tooSmall' : 'number.tooLarge',
        params: small ? { min: bound } : { max: bound },
      };
    }
    case 'invalid_format':
      return issue.format === 'uuid'
        ? { code: 'format.uuid', params: {} }
        : issue.format === 'email'
          ? { code: 'format.email', params: {} }
          : { code: 'format.invalid', params: {} };
    case 'not_multiple_of':
      return { code: 'number.integer', params: {} };
    case 'unrecognized_keys':
      return { code: 'field.unknown', params: {} };
    default:
      return { code: 'value.invalid', params: {} };
  }
}
