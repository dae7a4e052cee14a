import type { Language } from '../accounts/account-schemas.js';
import type { OrderType } from '../orders/order-schemas.js';
import type { MailData } from './mail-schemas.js';
import { germanStepMessage } from '../platform/de-messages.js';
import type { MessageParams } from '../platform/messages.js';

/** A rendered mail: the same content as plain text and as HTML. */
type RenderedMail = { subject: string; text: string; html: string };

/** Where links in mails point: the portal's public address, and the secret part of a link if the mail has one. */
type RenderContext = { portalUrl: string; secret: string | null };

const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

/** A mail is paragraphs and at most one button-like link; text and HTML come from the same parts. */
type MailParts = {
  subject: string;
  greeting: string;
  paragraphs: string[];
  link?: { label: string; url: string };
};

function toMail(parts: MailParts, language: Language): RenderedMail {
  const signature = language === 'de' ? 'Ihr Keyhouse-Team' : 'Your Keyhouse team';
  const text = [
    parts.greeting,
    '',
    ...parts.paragraphs.flatMap((p) => [p, '']),
    ...(parts.link ? [`${parts.link.label}: ${parts.link.url}`, ''] : []),
    '-- ',
    signature,
  ].join('\n');
  const html = `<!doctype html>
<html lang="${language}"><head><meta charset="utf-8"><title>${escapeHtml(parts.subject)}</title></head>
<body style="font-family: sans-serif; line-height: 1.5; color: #151515">
<p>${escapeHtml(parts.greeting)}</p>
${parts.paragraphs.map((p) => `<p>${escapeHtml(p).replace(/\n/g, '<br>')}</p>`).join('\n')}
${parts.link ? `<p><a href="${escapeHtml(parts.link.url)}" style="background: #0066cc; color: #fff; padding: 8px 16px; text-decoration: none; border-radius: 4px">${escapeHtml(parts.link.label)}</a></p>` : ''}
<p style="color: #6a6e73">${escapeHtml(signature)}</p>
</body></html>
`;
  return { subject: parts.subject, text, html };
}

/** An order type in a German failure reason ("Der Auftrag (Upgrade) …"): its noun, without the article. */
const germanWords = (params: MessageParams): MessageParams =>
  typeof params.orderType === 'string' && params.orderType in germanOrderTypes
    ? { ...params, orderType: germanNoun(germanOrderTypes[params.orderType as OrderType]) }
    : params;

const germanNoun = (withArticle: string) => withArticle.slice(withArticle.indexOf(' ') + 1);

/** German names come with their article, which the sentences need: "der Neustart", "das Upgrade", "die Löschung". */
const germanOrderTypes: Record<OrderType, `${'der' | 'die' | 'das'} ${string}`> = {
  create: 'die Bestellung',
  scale: 'die Größenänderung',
  storage: 'die Speichererweiterung',
  'trusted-sources': 'die Änderung der vertrauenswürdigen Quellen',
  'admin-sources': 'die Änderung der Admin-Quellen',
  restart: 'der Neustart',
  upgrade: 'das Upgrade',
  delete: 'die Löschung',
  backup: 'die Sicherung',
  restore: 'die Wiederherstellung',
  'backup-policy': 'die Änderung der Sicherungseinstellungen',
  'realm-export': 'der Realm-Export',
  'realm-import': 'der Realm-Import',
  'theme-deploy': 'die Bereitstellung des Login-Themes',
  'theme-remove': 'die Entfernung des Login-Themes',
  'custom-domain': 'die Änderung der eigenen Domain',
};

const englishOrderTypes: Record<OrderType, string> = {
  create: 'order',
  scale: 'scale change',
  storage: 'storage change',
  'trusted-sources': 'trusted-source change',
  'admin-sources': 'admin-source change',
  restart: 'restart',
  upgrade: 'upgrade',
  delete: 'deletion',
  backup: 'backup',
  restore: 'restore',
  'backup-policy': 'backup settings change',
  'realm-export': 'realm export',
  'realm-import': 'realm import',
  'theme-deploy': 'login theme deployment',
  'theme-remove': 'login theme removal',
  'custom-domain': 'custom domain change',
};

const capitalised = (text: string) => `${text[0]!.toUpperCase()}${text.slice(1)}`;

const roleNames: Record<Language, Record<string, string>> = {
  de: { admin: 'Administrator', technician: 'Techniker', manager: 'Manager', 'read-only': 'Nur lesen' },
  en: { admin: 'admin', technician: 'technician', manager: 'manager', 'read-only': 'read-only' },
};

function parts(data: MailData, language: Language, context: RenderContext): MailParts {
  const de = language === 'de';
  const greeting = de ? 'Guten Tag,' : 'Hello,';
  const url = (path: string) => new URL(path, context.portalUrl).toString();
  switch (data.kind) {
    case 'order-finished': {
      const what = englishOrderTypes[data.orderType];
      const germanWhat = germanOrderTypes[data.orderType];
      const noun = germanNoun(germanWhat);
      const link = { label: de ? 'Auftrag ansehen' : 'View the order', url: url(`/orders/${data.orderId}`) };
      if (data.status === 'done') {
        const created = data.orderType === 'create';
        return {
          subject: de
            ? `${created ? 'Ihre Instanz' : `${noun} für`} ${data.instanceName} ist fertig`
            : `${created ? 'Your instance' : `The ${what} of`} ${data.instanceName} is done`,
          greeting,
          paragraphs: [
            de
              ? created
                ? `Ihre Keycloak-Instanz ${data.instanceName} ist bereitgestellt (Status DONE). Die Zugangsdaten finden Sie im Portal unter „Zugangsdaten anzeigen“.`
                : `${capitalised(germanWhat)} für Ihre Instanz ${data.instanceName} ist abgeschlossen (Status DONE).`
              : created
                ? `Your Keycloak instance ${data.instanceName} is provisioned (status DONE). Its credentials are in the portal under "Show credentials".`
                : `The ${what} of your instance ${data.instanceName} is complete (status DONE).`,
          ],
          link,
        };
      }
      return {
        subject: de
          ? `${noun} für ${data.instanceName} fehlgeschlagen`
          : `The ${what} of ${data.instanceName} failed`,
        greeting,
        paragraphs: [
          de
            ? `Leider ist ${germanWhat} für Ihre Instanz ${data.instanceName} fehlgeschlagen.`
            : `Unfortunately the ${what} of your instance ${data.instanceName} failed.`,
          ...(data.failureReason
            ? [
                de
                  ? `Grund: ${germanStepMessage(data.failureReason, data.failureReasonParts, germanWords)}`
                  : `Reason: ${data.failureReason}`,
              ]
            : []),
          de
            ? 'Bitte eröffnen Sie ein Ticket, damit wir Ihnen schnellstmöglich helfen können.'
            : 'Please open a ticket so that we can help you as fast as possible.',
        ],
        link,
      };
    }
    case 'ticket-reply': {
      const toOperator = data.from === 'customer';
      return {
        subject: de
          ? `Neue Antwort zu Ticket #${data.number}: ${data.subject}`
          : `New reply on ticket #${data.number}: ${data.subject}`,
        greeting,
        paragraphs: [
          toOperator
            ? de
              ? `Der Kunde hat auf Ticket #${data.number} geantwortet:`
              : `The customer replied on ticket #${data.number}:`
            : de
              ? `Unser Support hat auf Ihr Ticket #${data.number} geantwortet:`
              : `Our support team replied on your ticket #${data.number}:`,
          data.excerpt,
        ],
        link: {
          label: de ? 'Unterhaltung öffnen' : 'Open the conversation',
          url: url(toOperator ? `/ops/tickets/${data.ticketId}` : `/tickets/${data.ticketId}`),
        },
      };
    }
    case 'invitation':
      return {
        subject: de
          ? `Einladung zu ${data.organizationName} bei Keyhouse`
          : `Invitation to ${data.organizationName} on Keyhouse`,
        greeting,
        paragraphs: [
          de
            ? `${data.invitedBy} lädt Sie in die Organisation ${data.organizationName} ein (Rolle: ${roleNames.de[data.role] ?? data.role}).`
            : `${data.invitedBy} invites you to the organisation ${data.organizationName} (role: ${roleNames.en[data.role] ?? data.role}).`,
          de
            ? 'Die Einladung gilt 7 Tage. Wählen Sie über den Link ein Passwort.'
            : 'The invitation is valid for 7 days. Choose a password through the link.',
        ],
        link: {
          label: de ? 'Einladung annehmen' : 'Accept the invitation',
          url: url(`/invitations/${context.secret ?? ''}`),
        },
      };
    case 'password-reset':
      return {
        subject: de ? 'Passwort zurücksetzen' : 'Reset your password',
        greeting,
        paragraphs: [
          de
            ? `Jemand (hoffentlich Sie) möchte das Passwort Ihres Keyhouse-Kontos zurücksetzen. Der Link gilt ${data.validMinutes} Minuten und nur einmal.`
            : `Someone (hopefully you) asked to reset the password of your Keyhouse account. The link is valid for ${data.validMinutes} minutes, once.`,
          de
            ? 'Wenn Sie das nicht waren, ignorieren Sie diese E-Mail; Ihr Passwort bleibt unverändert.'
            : 'If this was not you, ignore this e-mail; your password stays as it is.',
        ],
        // In the fragment: browsers never send it to the server, so the token stays out of every request log.
        link: {
          label: de ? 'Neues Passwort wählen' : 'Choose a new password',
          url: url(`/reset-password#token=${context.secret ?? ''}`),
        },
      };
    default:
      return data satisfies never;
  }
}

export function renderMail(data: MailData, language: Language, context: RenderContext): RenderedMail {
  return toMail(parts(data, language, context), language);
}
