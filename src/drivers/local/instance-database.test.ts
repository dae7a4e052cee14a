import { describe, expect, it } from 'vitest';
import { instanceDatabaseName } from './instance-database.js';

describe('instance databases', () => {
  it('derives PostgreSQL names from instance names', () => {
    expect(instanceDatabaseName('kc-1a2b3c4d')).toBe('kc_1a2b3c4d');
    expect(instanceDatabaseName('other-name')).toBe('kc_other_name');
    expect(instanceDatabaseName(`kc-${'a'.repeat(70)}`)).toHaveLength(63);
  });
});
