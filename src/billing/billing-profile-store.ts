import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/database.js';
import { toPage, type Page, type PageQuery } from '../platform/pagination.js';
import type { BillingProfile, BillingProfileInput } from './billing-profile-schemas.js';

type Row = {
  id: string;
  company: string;
  street: string;
  postal_code: string;
  city: string;
  country: string;
  vat_id: string | null;
  invoice_email: string;
  created_at: string;
};

const toProfile = (row: Row): BillingProfile => ({
  id: row.id,
  company: row.company,
  street: row.street,
  postalCode: row.postal_code,
  city: row.city,
  country: row.country,
  vatId: row.vat_id,
  invoiceEmail: row.invoice_email,
  createdAt: row.created_at,
});

export async function insertBillingProfile(
  db: Queryable,
  organizationId: string,
  input: BillingProfileInput,
): Promise<BillingProfile> {
  const { rows } = await db.query<Row>(
    `INSERT INTO billing_profiles (id, organization_id, company, street, postal_code, city, country, vat_id, invoice_email)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *`,
    [
      randomUUID(),
      organizationId,
      input.company,
      input.street,
      input.postalCode,
      input.city,
      input.country,
      input.vatId ?? null,
      input.invoiceEmail,
    ],
  );
  return toProfile(rows[0]!);
}

export async function findBillingProfile(
  db: Queryable,
  organizationId: string,
  id: string,
): Promise<BillingProfile | undefined> {
  const { rows } = await db.query<Row>(
    'SELECT * FROM billing_profiles WHERE organization_id = $1 AND id = $2',
    [organizationId, id],
  );
  return rows[0] && toProfile(rows[0]);
}

export async function listBillingProfiles(
  db: Queryable,
  organizationId: string,
  page: PageQuery,
): Promise<Page<BillingProfile>> {
  const after = page.cursor;
  const { rows } = await db.query<Row>(
    `SELECT * FROM billing_profiles
      WHERE organization_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3::uuid))
      ORDER BY created_at, id LIMIT $4`,
    [organizationId, after?.createdAt ?? null, after?.id ?? null, page.limit + 1],
  );
  return toPage(rows.map(toProfile), page.limit);
}
