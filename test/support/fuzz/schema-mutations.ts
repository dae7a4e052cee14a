import fc from 'fast-check';

/**
 * Bad values for a field, derived from its JSON schema (as the OpenAPI document and z.toJSONSchema write them).
 * `certain` says that the schema itself rules the value out: the API must refuse it, and a validation error must
 * name the field. Values that only the API's own rules refuse (a NUL byte, a lone surrogate) are not certain: they
 * must merely never cause a 5xx or a write.
 */
export type JsonSchema = {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number | boolean;
  exclusiveMaximum?: number | boolean;
  multipleOf?: number;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  default?: unknown;
};

export type BadValue = { value: unknown; certain: boolean; kind: string };

/** The JSON types a schema admits; empty when it says nothing (any value). */
export function typesOf(schema: JsonSchema): Set<string> {
  const variants = [...(schema.oneOf ?? []), ...(schema.anyOf ?? [])];
  if (variants.length) return new Set(variants.flatMap((variant) => [...typesOf(variant)]));
  const types = new Set<string>();
  for (const type of [schema.type ?? []].flat()) types.add(type);
  for (const value of [...(schema.enum ?? []), ...('const' in schema ? [schema.const] : [])]) {
    types.add(value === null ? 'null' : typeof value === 'number' ? 'number' : typeof value);
  }
  if (types.has('integer')) types.add('number');
  return types;
}

const jsonTypeOf = (value: unknown) =>
  value === null
    ? 'null'
    : Array.isArray(value)
      ? 'array'
      : typeof value === 'number'
        ? 'number'
        : typeof value;

/** Text that is valid UTF-16 and JSON but hostile: control characters, lone surrogates, bidi and zero-width marks. */
export const hostileText = fc.constantFrom(
  '\u0000',
  'a\u0000b',
  '\u0007bell',
  'line\nbreak',
  'tab\there',
  '\u001b[31mred',
  '\u007f',
  '\u0085next-line',
  '\ud800',
  'x\udfffy',
  '\u202eevil\u202c',
  'zero\u200bwidth',
  '\ufeffbom',
  'e\u0301\u0301\u0301',
  '👩‍👩‍👧‍👦',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  'ﷺ',
  '   ',
  '',
  "'; DROP TABLE orders; --",
  '${7*7}{{7*7}}',
  '../../../../etc/passwd',
  '%00%2e%2e',
  '<script>alert(1)</script>',
);

const otherTypeSamples: unknown[] = [
  0,
  -1,
  1.5,
  1e308,
  true,
  false,
  null,
  [],
  [1, 'a'],
  {},
  { a: 1 },
  '',
  'text',
];

/** Bad values for one field. */
export function badValueOf(schema: JsonSchema, valid: unknown): fc.Arbitrary<BadValue> {
  const types = typesOf(schema);
  const options: fc.Arbitrary<BadValue>[] = [];
  const certain = (kind: string, value: unknown): BadValue => ({ value, certain: true, kind });

  if (types.size) {
    const others = otherTypeSamples.filter(
      (sample) =>
        !types.has(jsonTypeOf(sample)) &&
        !(types.has('integer') && !types.has('number') && typeof sample === 'number'),
    );
    if (others.length) options.push(fc.constantFrom(...others).map((value) => certain('wrong type', value)));
  }
  if (types.has('string')) {
    const text = typeof valid === 'string' && valid.length > 0 ? valid : 'k';
    if (schema.maxLength !== undefined) {
      options.push(fc.constant(certain('too long', 'k'.repeat(schema.maxLength + 1))));
    }
    if (schema.minLength && schema.minLength > 1) {
      options.push(fc.constant(certain('too short', 'k'.repeat(schema.minLength - 1))));
    }
    if (schema.enum) {
      const allowed = schema.enum;
      options.push(
        fc
          .string({ maxLength: 12 })
          .filter((s) => !allowed.includes(s))
          .map((value) => certain('not in enum', value)),
      );
    }
    if (schema.format === 'uuid') options.push(fc.constant(certain('not a uuid', 'not-a-uuid')));
    if (schema.format === 'email') options.push(fc.constant(certain('not an e-mail', 'nobody-at-example')));
    if (schema.format === 'date-time') options.push(fc.constant(certain('not a date', 'yesterday')));
    if (schema.pattern) {
      const pattern = new RegExp(schema.pattern);
      options.push(
        fc
          .string({ maxLength: 24 })
          .filter((s) => !pattern.test(s))
          .map((value) => certain('not the pattern', value)),
      );
    }
    options.push(
      fc.tuple(hostileText, fc.nat({ max: text.length })).map(([hostile, at]) => ({
        value: text.slice(0, at) + hostile + text.slice(at),
        certain: false,
        kind: 'hostile text',
      })),
      fc.constant({
        value: 'ä'.repeat(Math.min(schema.maxLength ?? 300, 300)),
        certain: false,
        kind: 'umlauts',
      }),
      fc.constant({ value: 'x'.repeat(70 * 1024), certain: false, kind: 'huge text' }),
    );
  }
  if (types.has('number')) {
    const integer = types.has('integer') && !types.has('number') ? true : schema.type === 'integer';
    if (schema.minimum !== undefined) options.push(fc.constant(certain('below minimum', schema.minimum - 1)));
    if (schema.maximum !== undefined) options.push(fc.constant(certain('above maximum', schema.maximum + 1)));
    if (integer) {
      options.push(
        fc.constantFrom(0.5, 2 ** 53 + 2, 1e300, -1e300).map((value) => certain('not an integer', value)),
      );
    }
    options.push(
      fc
        .constantFrom(-0, 4.9e-324, -2147483649)
        .map((value) => ({ value, certain: false, kind: 'odd number' })),
    );
  }
  if (types.has('array')) {
    const items = Array.isArray(valid) ? valid : [];
    if (schema.maxItems !== undefined) {
      options.push(
        fc.constant(
          certain(
            'too many items',
            Array.from({ length: schema.maxItems + 1 }, (_, i) => items[0] ?? i),
          ),
        ),
      );
    }
    if (schema.minItems)
      options.push(fc.constant(certain('too few items', items.slice(0, schema.minItems - 1))));
    options.push(fc.constant({ value: nested(2000), certain: false, kind: 'deep nesting' }));
  }
  if (types.has('object')) {
    const object = valid && typeof valid === 'object' && !Array.isArray(valid) ? valid : {};
    if (schema.additionalProperties === false) {
      options.push(
        fc
          .constantFrom('unknownField', 'constructor', 'prototype', 'toString', 'hasOwnProperty')
          .map((key) => certain('unknown key', { ...object, [key]: 1 })),
      );
    }
    for (const key of schema.required ?? []) {
      const { [key]: _dropped, ...rest } = object as Record<string, unknown>;
      options.push(fc.constant(certain(`missing ${key}`, rest)));
    }
  }
  if (!types.size) {
    options.push(
      fc.constantFrom<unknown>(nested(2000), 'x'.repeat(70 * 1024), { '\u0000': 1 }).map((value) => ({
        value,
        certain: false,
        kind: 'anything',
      })),
    );
  }
  return fc.oneof(...options);
}

/** `[[[…]]]`, `depth` levels deep. */
function nested(depth: number): unknown {
  let value: unknown = [];
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

export type FieldPath = (string | number)[];

/**
 * Every field a request body has or may have by its schema, with the schema of each: properties of objects
 * (present or not), items of arrays, the chosen variant of a oneOf/anyOf (the one the valid value matches).
 */
export function fieldsOf(
  schema: JsonSchema,
  value: unknown,
  path: FieldPath = [],
  extra: (path: FieldPath) => JsonSchema | undefined = () => undefined,
): { path: FieldPath; schema: JsonSchema; valid: unknown }[] {
  const resolved = extra(path) ?? variantFor(schema, value);
  // The field's bad values come from the chosen variant, but no variant's type counts as a wrong type (null is
  // right for a nullable field whose valid value happens to be a list).
  const variants = extra(path) ? undefined : (schema.oneOf ?? schema.anyOf);
  const fields = [{ path, schema: variants ? { ...resolved, anyOf: variants } : resolved, valid: value }];
  if (resolved.properties) {
    const object = (value && typeof value === 'object' ? value : {}) as Record<string, unknown>;
    for (const [key, property] of Object.entries(resolved.properties)) {
      fields.push(...fieldsOf(property, object[key], [...path, key], extra));
    }
  }
  if (resolved.items && Array.isArray(value)) {
    value.forEach((item, index) => fields.push(...fieldsOf(resolved.items!, item, [...path, index], extra)));
  }
  return fields;
}

function variantFor(schema: JsonSchema, value: unknown): JsonSchema {
  const variants = schema.oneOf ?? schema.anyOf;
  if (!variants) return schema;
  // A discriminated union: the variant whose `const`/single-value enum properties match the value.
  const matching = variants.find((variant) =>
    Object.entries(variant.properties ?? {}).every(([key, property]) => {
      const fixed = property.const ?? (property.enum?.length === 1 ? property.enum[0] : undefined);
      return fixed === undefined || (value as Record<string, unknown> | undefined)?.[key] === fixed;
    }),
  );
  return matching ?? variants[0]!;
}

/** `value` with the field at `path` replaced (or removed, for `undefined`). */
export function withField(value: unknown, path: FieldPath, replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path;
  if (Array.isArray(value)) {
    const copy = [...value];
    copy[head as number] = withField(copy[head as number], rest, replacement);
    return copy;
  }
  const object = { ...((value && typeof value === 'object' ? value : {}) as Record<string, unknown>) };
  const next = withField(object[head as string], rest, replacement);
  if (next === undefined) delete object[head as string];
  else object[head as string] = next;
  return object;
}
