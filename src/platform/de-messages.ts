import type { MessageCode, MessageParams } from './messages.js';

/**
 * Die Meldungen der API und der gemeinsamen Schemas auf Deutsch, je Code (src/platform/messages.ts). Der Typ
 * verlangt zu jedem Code einen Text; ein Test prüft, dass die Platzhalter dieselben sind wie im Englischen. Das
 * Portal zeigt sie (web/src/i18n), die E-Mails des Servers ebenso (src/mail).
 */
export const deMessages = {
  'value.required': 'Pflichtfeld',
  'value.invalid': 'ungültiger Wert',
  'value.type': 'erwartet: {{expected}}',
  'value.oneOf': 'einer der Werte {{values}}',
  'field.unknown': 'kein Feld dieser Anfrage',
  'text.tooShort': 'mindestens {{min}} Zeichen',
  'text.tooLong': 'höchstens {{max}} Zeichen',
  'text.controlCharacters': 'keine Steuerzeichen und Zeilenumbrüche',
  'text.controlCharactersMultiline': 'keine Steuerzeichen außer Zeilenumbrüchen und Tabulatoren',
  'number.tooSmall': 'mindestens {{min}}',
  'number.tooLarge': 'höchstens {{max}}',
  'number.integer': 'eine ganze Zahl',
  'list.tooShort': 'mindestens {{min}} Einträge',
  'list.tooLong': 'höchstens {{max}} Einträge',
  'format.invalid': 'nicht im erwarteten Format',
  'format.uuid': 'keine gültige ID',
  'format.email': 'eine E-Mail-Adresse',
  'format.month': 'ein Monat als JJJJ-MM, z. B. 2026-03',
  'format.idempotencyKey': '1 bis 200 sichtbare ASCII-Zeichen, z. B. eine UUID',
  'format.auditAction': 'eine Aktion wie order.scale oder instance.credentials.reveal',
  'list.cursor': 'kein Cursor dieser Liste',

  'account.email': 'eine E-Mail-Adresse wie anna@example.com',
  'account.invitationToken': 'der Schlüssel aus einem Einladungslink',
  'account.linkToken': 'der Schlüssel aus dem Link der E-Mail',
  'account.totpCode': 'die sechs Ziffern, die Ihre Authenticator-App zeigt',
  'account.recoveryCode': 'ein Wiederherstellungscode wie k7m2q-x9d4w',
  'account.totpCodeWrong':
    'Dieser Code ist falsch oder abgelaufen; geben Sie den Code ein, den Ihre App jetzt zeigt.',
  'account.passwordWrong': 'Das Passwort ist falsch.',

  'billing.postalCode': 'eine Postleitzahl aus 2 bis 11 Buchstaben und Ziffern',
  'billing.country': 'ein Ländercode nach ISO 3166 wie DE',
  'billing.vatIdOfCountry': 'keine USt-IdNr. aus {{country}} (erwartet wie {{example}})',
  'billing.vatId': 'eine USt-IdNr. hat 4 bis 20 Buchstaben und Ziffern',
  'billing.profileId': 'die ID eines Ihrer Abrechnungsprofile',
  'billing.profileUnknown': 'In Ihrer Organisation gibt es kein Abrechnungsprofil mit dieser ID.',
  'billing.oneProfile':
    'Wählen Sie ein vorhandenes Abrechnungsprofil (billingProfileId) oder geben Sie ein neues ein (billingProfile), nicht beides.',

  'storage.wholeGb': 'eine ganze Zahl an GB von {{min}} bis {{max}}',
  'storage.atLeast': 'mindestens {{min}} GB',
  'storage.atMost': 'höchstens {{max}} GB',
  'storage.step': 'Speicher wächst in Schritten von {{step}} GB',
  'storage.onlyGrows': 'Speicher kann nur wachsen: wählen Sie mehr als die aktuellen {{current}} GB',
  'order.termsChanged':
    'Die Bedingungen haben sich geändert (aktuelle Fassung {{version}}); bitte lesen und akzeptieren Sie sie erneut.',
  'order.versions': 'verfügbare Versionen: {{versions}}',
  'order.zones': 'Zonen von {{region}}: {{zones}}',
  'order.sameNodeSize': 'die Instanz läuft bereits auf {{nodeSize}}',
  'order.newerVersion': 'ein Upgrade geht auf eine neuere Version als {{version}}',
  'order.confirmName': 'geben Sie zur Bestätigung den Namen der Instanz {{name}} ein',

  'backup.retention': 'eine ganze Zahl nächtlicher Sicherungen von {{min}} bis {{max}}',
  'backup.retentionAtLeast': 'mindestens {{min}} nächtliche Sicherungen',
  'backup.retentionAtMost': 'höchstens {{max}} nächtliche Sicherungen',
  'backup.timeZone': 'eine IANA-Zeitzone wie Europe/Berlin',
  'backup.windowGap':
    'das Wartungsfenster (2,5 h) muss mindestens 2,5 h nach dem Ende des Sicherungsfensters (2 h) beginnen und ' +
    'mindestens 2,5 h vor dessen Beginn enden',
  'backup.id': 'die ID einer Sicherung dieser Instanz',
  'backup.unknown': 'Diese Instanz hat keine Sicherung mit dieser ID.',
  'backup.notDone':
    'Diese Sicherung ist im Zustand {{status}}; nur abgeschlossene Sicherungen lassen sich wiederherstellen.',
  'backup.publicKey': 'ein öffentlicher OpenPGP-Schlüssel im ASCII-Format',
  'backup.keyUnreadable': 'kein lesbarer OpenPGP-Schlüssel: {{reason}}',
  'backup.keyPrivate': 'das ist ein privater Schlüssel; laden Sie nur den öffentlichen hoch',
  'backup.keyCannotEncrypt':
    'mit dem Schlüssel lässt sich nicht verschlüsseln (widerrufen, abgelaufen oder ohne Verschlüsselungs-Unterschlüssel): {{reason}}',
  'backup.keyTooLarge': 'der Schlüssel hat im Standard-ASCII-Format mehr als {{max}} Zeichen',
  'restore.sourceUnknown': 'In Ihrer Organisation gibt es keine Instanz mit dieser ID.',
  'restore.nodeSize':
    'eine Wiederherstellung braucht dieselbe oder eine größere Knotengröße als {{nodeSize}}',
  'restore.storage': 'eine Wiederherstellung braucht mindestens die {{storageGb}} GB der Quelle',
  'restore.version':
    'die Sicherung stammt von Keycloak {{version}}; wählen Sie diese oder eine neuere Version',
  'realm.name':
    'Buchstaben, Ziffern, Punkte, Binde- und Unterstriche, beginnend mit einem Buchstaben oder einer Ziffer',
  'realm.exportOrderId': 'die ID eines abgeschlossenen Realm-Export-Auftrags',
  'realm.exportUnknown':
    'In Ihrer Organisation gibt es keinen abgeschlossenen Realm-Export mit dieser Auftrags-ID.',

  'sources.list': 'eine Liste von IPv4-/IPv6-Adressen oder CIDR-Bereichen',
  'sources.atLeastOne': 'Erlauben Sie mindestens eine Quelle: bis dahin erreicht niemand die Instanz.',
  'sources.atMost': 'Höchstens {{max}} vertrauenswürdige Quellen.',
  'sources.slashes': '„{{entry}}“ enthält mehr als ein „/“.',
  'sources.notAnAddress': '„{{entry}}“ ist keine IPv4- oder IPv6-Adresse.',
  'sources.ipv4Mapped': '„{{entry}}“ ist eine IPv4-gemappte IPv6-Adresse; schreiben Sie {{ipv4}}.',
  'sources.prefixNotNumber': '„{{entry}}“ hat eine Präfixlänge, die keine Zahl ist.',
  'sources.prefixTooLong': '„{{entry}}“ hat eine Präfixlänge über /{{bits}}.',
  'sources.wholeInternet':
    '„{{entry}}“ würde das ganze Internet zulassen; nennen Sie die Adressen, denen Sie vertrauen.',
  'sources.hostBits':
    '„{{entry}}“ hat gesetzte Host-Bits; das Netz ist {{network}} (oder verwenden Sie {{address}} allein).',
  'sources.prefixBounds':
    '„{{entry}}“: {{family}}-Präfixe müssen in dieser Region zwischen /{{min}} und /{{max}} liegen.',
  'sources.notGlobalIpv6': '„{{entry}}“ ist kein globaler Unicast-IPv6-Bereich (2000::/3).',
  'sources.rangePublicOnly':
    '„{{entry}}“ ist {{range}}; diese Region akzeptiert nur öffentliche Unicast-Adressen.',
  'sources.rangeLocal':
    '„{{entry}}“ ist {{range}}; diese Region akzeptiert nur öffentliche Unicast-, Loopback- oder private Adressen.',
  'sources.repeated': '„{{entry}}“ wiederholt Eintrag {{first}}.',
  'sources.adminAtMost': 'Höchstens {{max}} Admin-Quellen.',
  'sources.adminOutside':
    'Die Admin-Quellen {{sources}} lägen nicht mehr in diesen vertrauenswürdigen Quellen; ändern Sie zuerst die Admin-Quellen.',
  'sources.adminUnchanged': 'die Instanz hat bereits genau diese Admin-Quellen',
  'sources.adminNotTrusted':
    '„{{entry}}“ liegt nicht in den vertrauenswürdigen Quellen; eine Admin-Quelle muss sich zuerst verbinden dürfen.',
  'themes.notOnKubernetes':
    'Login-Themes werden auf den eigenen Hosts der Instanzen eingespielt; Instanzen einer Kubernetes-Region laufen ' +
    'mit dem Keycloak-Image des Operators, das noch keine Themes von Keyhouse übernimmt.',
  'domain.notOnKubernetes':
    'Eigene Domains stellt der Edge von Keyhouse mit ihrem eigenen Zertifikat bereit; Instanzen einer ' +
    'Kubernetes-Region erreicht man über ihren Load-Balancer mit TLS bei Keycloak, das nur das Zertifikat der ' +
    'Instanz selbst hat.',
  'domain.acmeFailed':
    'Das Zertifikat konnte nicht vom ACME-Verzeichnis bezogen werden: {{reason}} Keyhouse versucht es um {{retryAt}} erneut.',
  'domain.acmeRenewalFailed':
    'Das Zertifikat konnte nicht erneuert werden: {{reason}} Das bisherige wird bis {{notAfter}} weiter ausgeliefert; ' +
    'Keyhouse versucht es um {{retryAt}} erneut.',
  'domain.acmeOrderWaits':
    'Das Zertifikat liegt vor; die Domain wird ausgeliefert, sobald die Instanz die Änderung annehmen kann (ein ' +
    'anderer Auftrag läuft, oder sie läuft nicht). Keyhouse versucht es jede Minute erneut.',
  'sources.adminNotOnKubernetes':
    'Instanzen dieser Region sind über einen TCP-Load-Balancer erreichbar, der die Admin-Konsole nicht von ' +
    'Anmeldungen unterscheiden kann: Jede vertrauenswürdige Quelle erreicht /admin/. Lassen Sie die Admin-Quellen ' +
    'leer (null).',

  'ticket.orderUnknown': 'In Ihrer Organisation gibt es keinen Auftrag mit dieser ID.',
  'ticket.instanceUnknown': 'In Ihrer Organisation gibt es keine Instanz mit dieser ID.',

  'failure.versionCannotRun': 'Keycloak {{version}} kann auf diesem Host nicht laufen.',
  'failure.versionNotReadyYet': 'Keycloak {{version}} ist auf diesem Host noch nicht bereit.',
  'failure.temporaryAdminNotCreated': 'Der vorläufige Administrator konnte nicht angelegt werden.',
  'failure.edgeNoUrl': 'Der Edge hat keine verwendbare URL geliefert.',
  'failure.keycloakNotReadyInTime': 'Keycloak ist nicht rechtzeitig bereit geworden.',
  'failure.keycloakExitedWhileStarting': 'Keycloak hat sich beim Starten beendet.',
  'failure.instanceNameInvalid': 'Der Name der Instanz ist ungültig.',
  'failure.themeVersionGone': 'Version {{version}} des Themes {{theme}} gibt es nicht mehr.',
  'failure.themeNotDeployable': 'Das Theme {{theme}} kann nicht bereitgestellt werden.',
  'failure.keycloakCopyFailed': 'Keycloak konnte nicht kopiert werden.',
  'failure.noFreePort': 'Auf diesem Host ist kein Port für Keycloak frei.',
  'failure.regionUnavailable':
    'Diese Region kann im Moment keine Instanzen bereitstellen. Unser Team ist benachrichtigt.',
  'failure.unreachableAfterStart':
    'Ihre Instanz ist gestartet, war unter ihrer Adresse aber nicht erreichbar.',
  'failure.provisioningGaveUp': 'Die Bereitstellung ist auch nach mehreren Versuchen nicht abgeschlossen.',
  'failure.orderGaveUp': 'Der Auftrag ({{orderType}}) ist auch nach mehreren Versuchen nicht abgeschlossen.',
  'failure.cancelledByProvider': 'Der Anbieter hat den Auftrag storniert, bevor er begonnen hat.',
  'failure.cancelledByPlatform':
    'Storniert: Die Plattform hat die Instanz entfernt, bevor ihre Bereitstellung begonnen hat.',
  'failure.backupGone': 'Die Sicherung {{backup}} ist nicht mehr verfügbar.',
  'failure.nothingRestored':
    'Es wurde nichts wiederhergestellt: Die Sicherung des aktuellen Stands ist fehlgeschlagen.',
  'failure.backupFailed': 'Die Sicherung ist fehlgeschlagen.',
  'failure.backupGaveUp': 'Die Sicherung konnte auch nach mehreren Versuchen nicht erstellt werden.',
  'failure.backupsUnavailable': 'In dieser Region sind keine Sicherungen verfügbar.',
  'failure.upgradeBackupFailed':
    'Die Sicherung vor dem Upgrade ist fehlgeschlagen; Ihre Instanz wurde nicht verändert.',
  'failure.upgradeRolledBack':
    'Keycloak {{version}} wurde nicht bereit; Ihre Instanz läuft wieder mit Keycloak {{previous}} und den ' +
    'Daten aus der Sicherung vor dem Upgrade.',
  'failure.upgradeFailed': 'Das Upgrade ist fehlgeschlagen.',
  'failure.upgradeBesideNotReady':
    'Keycloak {{version}} wurde neben der laufenden Version nicht bereit; Ihre Instanz läuft ohne Unterbrechung ' +
    'weiter mit Keycloak {{previous}}.',
  'failure.realmMissing': 'Diese Instanz hat keinen Realm namens „{{realm}}“.',
  'failure.realmExportRefused': 'Keycloak hat den Export abgelehnt.',
  'failure.realmExists': 'Auf dieser Instanz gibt es bereits einen Realm namens „{{realm}}“.',
  'failure.realmImportRefused': 'Keycloak hat den Realm abgelehnt.',
  'failure.realmExportGone': 'Der Realm-Export ist nicht mehr verfügbar.',
  'failure.configurationRefused':
    'Die Plattform hat die Konfiguration Ihrer Instanz abgelehnt. Unser Team ist benachrichtigt.',
  'failure.noWarmPool': 'Diese Region hält keine vorbereiteten Instanzen vor.',
  'failure.adminCannotLogIn': 'Das Administratorkonto kann sich nicht anmelden.',
  'failure.adminNotSetUp': 'Das Administratorkonto konnte nicht eingerichtet werden.',
  'failure.warmMemberWithoutAdmin': 'Eine vorbereitete Instanz braucht ihren vorläufigen Administrator.',
  'failure.noKeycloakHere': 'Für diese Instanz läuft hier kein Keycloak.',
  'failure.upgradeUnfinished':
    'Ein anderes Upgrade dieser Instanz ist nicht abgeschlossen; unser Team ist benachrichtigt.',
  'failure.restoreUnfinished':
    'Eine andere Wiederherstellung dieser Instanz ist nicht abgeschlossen; unser Team ist benachrichtigt.',
  'failure.backupNotHere': 'Die Sicherung liegt nicht auf diesem Host.',
  'failure.backupIdInvalid': 'Ungültige Sicherungs-ID.',
  'failure.kubernetesUnreachable':
    'Der Kubernetes-Cluster der Region {{region}} antwortet nicht; Keyhouse versucht es erneut.',
  'failure.keycloakReportsErrors': 'Keycloak meldet Fehler; Keyhouse versucht es erneut.',
  'failure.adminNotCreated': 'Das Administratorkonto konnte nicht angelegt werden.',
  'failure.adminRoleMissing': 'Die Admin-Rolle des Master-Realms fehlt.',

  'step.waitingForCapacity':
    'Region {{region}} ist voll ({{active}} von {{max}} Instanzen); Ihr Auftrag wartet auf freie Kapazität.',
  'step.capacityAvailable': 'Kapazität frei',
  'step.failedRetrying': 'Schritt {{step}} ist fehlgeschlagen; er wird wiederholt.',
  'step.removed': 'entfernt',
  'step.databaseCreated': '{{database}}: Datenbank angelegt',
  'step.databaseExisted': '{{database}}: Datenbank vorhanden',
  'step.databaseCreatedFromTemplate': '{{database}}: Datenbank mit dem Schema von Keycloak angelegt',
  'step.schemaTemplateUnavailable': 'keine Schema-Vorlage: Keycloak legt sein Schema selbst an (langsamer)',
  'step.databaseRestored': '{{database}}: Datenbank aus Sicherung {{backup}} wiederhergestellt',
  'step.databaseDropped': '{{database}} gelöscht',
  'step.scratchDatabasesDropped': 'mit {{databases}} gelöscht',
  'step.roleCreated': 'Rolle angelegt',
  'step.roleExisted': 'Rolle vorhanden',
  'step.homeUpToDate': 'aktuell',
  'step.homeCreated': 'Verzeichnis für Keycloak {{version}} angelegt',
  'step.homeRebuilt': 'Verzeichnis für Keycloak {{version}} mit den aktuellen Build-Optionen neu angelegt',
  'step.ports': 'Ports {{http}}/{{management}}',
  'step.portsMoved': 'Ports auf {{http}}/{{management}} verlegt (die alten waren belegt)',
  'step.keycloakNotRunning': 'Keycloak lief nicht',
  'step.keycloakStopped': 'Keycloak gestoppt',
  'step.keycloakKilled': 'Keycloak beendet (es hielt nicht rechtzeitig an)',
  'step.keycloakStarted': 'gestartet (Prozessgruppe {{pid}})',
  'step.keycloakRestarted': 'mit neuen Einstellungen neu gestartet (Prozessgruppe {{pid}})',
  'step.keycloakRestartedForTheme': 'für das geänderte Theme neu gestartet (Prozessgruppe {{pid}})',
  'step.keycloakAdopted': 'laufenden Prozess {{pids}} übernommen',
  'step.keycloakReady': 'bereit nach {{seconds}} s',
  'step.adminHandedOver': 'bereits übergeben',
  'step.adminCreated': 'Administrator angelegt',
  'step.adminExisted': 'Administrator vorhanden',
  'step.temporaryAdminDeleted': 'vorläufiger Administrator gelöscht',
  'step.realmAlreadyCreated': 'bereits angelegt',
  'step.realmCreated': '{{realm}}: Realm angelegt',
  'step.realmExisted': '{{realm}}: Realm vorhanden',
  'step.loginThroughEdge': 'der Administrator hat sich über den Edge angemeldet',
  'step.loginBehindEdge':
    'dieser Host ist keine vertrauenswürdige Quelle; Anmeldung direkt an der Instanz hinter dem Edge geprüft',
  'step.upgradePrepared': 'Keycloak {{version}} ist bereit zur Installation',
  'step.backupFile': 'pg_dump: {{file}} ({{kib}} KiB, SHA-256 {{sha256}}…)',
  'step.upgradeCleanedUp': 'Verzeichnis von Keycloak {{version}} entfernt; Sicherung behalten: {{file}}',
  'step.upgradeRolling':
    'Keycloak erlaubt ein Rolling Update von {{from}} auf {{to}}: die neue Version startet neben der laufenden',
  'step.upgradeNotRolling': 'kein Rolling Update ({{why}}): Keycloak hält für das Upgrade an',
  'step.upgradeCheckFailed':
    'die Prüfung auf ein Rolling Update antwortete nicht (Exit-Code {{code}}): Keycloak hält für das Upgrade an',
  'step.upgradeSwitched': 'Keycloak {{version}} bedient; Sicherung behalten: {{file}}',
  'step.rolledBack': 'Verzeichnis von Keycloak {{version}} und die Datenbank aus {{file}} wiederhergestellt',
  'step.restoredBeside': 'neben der laufenden Datenbank aus {{backup}} wiederhergestellt',
  'step.restoredSwapped': 'wiederhergestellte Datenbank eingesetzt',
  'step.restoredAlreadySwapped': 'wiederhergestellte Datenbank war bereits eingesetzt',
  'step.backupTaken': '{{backup}}: {{bytes}} Bytes',
  'step.realmExported': '{{realm}}: {{bytes}} Bytes',
  'step.realmExportedWithUsers': '{{realm}}: {{bytes}} Bytes, {{users}} Benutzer',
  'step.realmImported': '{{realm}} angelegt',
  'step.realmImportedWithUsers': '{{realm}} mit {{users}} Benutzern angelegt',
  'step.realmImportedEarlier': '{{realm}} vorhanden (von einem früheren Versuch importiert)',
  'step.keycloakUnreachable': 'Keycloak war nicht erreichbar; der Schritt wird wiederholt.',
  'step.themeAdded': '{{name}} {{version}} hinzugefügt',
  'step.themeReplaced': '{{name}} {{from}} → {{to}}',
  'step.themeRemoved': '{{name}} entfernt',
  'step.themesUpToDate': 'aktuell',
  'step.themesRestart': 'Keycloak startet neu (es speichert Themes zwischen)',
  'step.roomRegionFull': 'Region {{region}} hat {{count}} von {{max}} Keycloaks',
  'step.roomHostMemory':
    'dieser Host hat {{available}} MB freien Speicher; ein zweites Keycloak braucht {{needed}} MB',
  'step.roomNotOffered': 'kein Platz für ein zweites Keycloak angeboten',
  'step.roomFirstStart': 'der erste Start ist nicht abgeschlossen',
  'step.standbyPorts': 'Slot {{slot}}, Ports {{http}}/{{management}}',
  'step.standbyResumed': 'fortgesetzt: Slot {{slot}}',
  'step.standbyOtherSettings': 'ein neues Keycloak mit anderen Einstellungen gestoppt',
  'step.standbyReady': 'bereit',
  'step.standbyNoPort': 'Kein freier Port für ein zweites Keycloak auf diesem Host.',
  'step.standbyExited': 'Das neue Keycloak hat sich beim Start beendet; das laufende bedient weiter.',
  'step.standbyNotReady': 'Das neue Keycloak wurde nicht rechtzeitig bereit; das laufende bedient weiter.',
  'step.edgeSwitched': 'der Edge schickt jede Anfrage an Port {{port}}',
  'step.edgeUnobserved':
    'der Edge war nicht zu beobachten ({{why}}); {{seconds}} s gewartet, seine Keep-alive-Zeit',
  'step.edgeStillOld': 'nach {{seconds}} s noch nicht umgestellt ({{why}}); es geht weiter',
  'step.slotServes': 'Slot {{slot}} bedient statt Slot {{old}}',
  'step.drainIdle': 'keine Verbindung zum alten Keycloak offen',
  'step.drainClosed': 'seine {{count}} offenen Verbindungen in {{seconds}} s geschlossen',
  'step.drainStillOpen': 'nach {{seconds}} s noch {{count}} Verbindungen offen',
  'step.kubernetesObjectsApplied': '{{count}} Objekte in {{namespace}} angewendet',
  'step.kubernetesCertificateWritten': 'Zertifikat geschrieben, erneuert nach dem {{renewAfter}}',
  'step.kubernetesDatabaseHealthy': 'CloudNativePG meldet den Cluster als gesund',
  'step.kubernetesKeycloakReady': 'der Keycloak Operator meldet Ready',
  'step.kubernetesLoadBalancer': 'Load-Balancer {{address}}, {{url}}',
  'step.kubernetesBackupCompleted': 'Sicherung {{backup}} abgeschlossen',
  'step.loginThroughService':
    'der Administrator hat sich unter {{url}} über den Service der Instanz per TLS angemeldet',
  'step.kubernetesNamespaceGone': '{{namespace}} ist entfernt',
  'step.kubernetesKeycloakMissing': 'Warten, bis die Keycloak-Ressource angelegt ist',
  'step.kubernetesKeycloakErrors': 'Der Keycloak Operator meldet Fehler: {{detail}}',
  'step.kubernetesKeycloakNotReconciled': 'Warten, bis der Keycloak Operator die Änderung übernimmt',
  'step.kubernetesKeycloakRolling': 'Keycloak rollt die Änderung aus',
  'step.kubernetesKeycloakStarting': 'Keycloak ist noch nicht bereit: {{detail}}',
  'step.kubernetesDatabaseMissing': 'Warten, bis der Datenbank-Cluster angelegt ist',
  'step.kubernetesDatabaseNotReady': 'Die Datenbank ist noch nicht bereit ({{phase}})',
  'step.kubernetesLoadBalancerPending': 'Warten, bis der Load Balancer eine Adresse vergibt',
  'step.kubernetesBackupRunning': 'Warten auf das Backup {{backup}} ({{phase}})',
  'step.kubernetesNamespaceEmptying': '{{namespace}} wird geleert und entfernt',
} satisfies Record<MessageCode, string>;

/**
 * A step's note or a failure reason in German, for what the server writes itself (e-mails): its coded parts each in
 * German, joined by "; " as the English is; the English as sent when it has no parts or a code this catalogue does
 * not know. `words` replaces parameters whose value is itself a word to translate (e.g. an order type).
 */
export function germanStepMessage(
  english: string,
  parts: { code: string; params: MessageParams }[] | null | undefined,
  words: (params: MessageParams) => MessageParams = (params) => params,
): string {
  if (!parts?.length || !parts.every((part) => part.code in deMessages)) return english;
  return parts
    .map(({ code, params }) => {
      const filled = words(params);
      return deMessages[code as MessageCode].replace(/\{\{(\w+)\}\}/g, (_, name: string) =>
        String(filled[name] ?? `{{${name}}}`),
      );
    })
    .join('; ');
}
