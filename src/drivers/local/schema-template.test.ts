import { describe, expect, it } from 'vitest';
import { BUILD_OPTIONS_TAG } from './keycloak-distribution.js';
import { databaseUrl, schemaTemplateOf } from './schema-template.js';

describe('schema template names', () => {
  it('name version and build, and leave room for the build and owner names within 63 characters', () => {
    expect(schemaTemplateOf('26.5.6')).toEqual({
      database: `keyhouse_schema_26_5_6_${BUILD_OPTIONS_TAG}`,
      owner: `keyhouse_schema_26_5_6_${BUILD_OPTIONS_TAG}_owner`,
    });
    const long = schemaTemplateOf(`26.7.3-${'x'.repeat(80)}`);
    expect(`${long.database}_build`.length).toBeLessThanOrEqual(63);
    expect(long.owner.length).toBeLessThanOrEqual(63);
    expect(long.database.endsWith(BUILD_OPTIONS_TAG)).toBe(true);
  });

  it('point a server URL at another database, keeping user and options', () => {
    expect(databaseUrl('postgres://u:p@127.0.0.1:5432/keyhouse?sslmode=disable', 'kc_1')).toBe(
      'postgres://u:p@127.0.0.1:5432/kc_1?sslmode=disable',
    );
  });
});
