// JSON schemas written the way real APIs and JSONSchemaBench write them (OpenAI strict tools, pydantic, GitHub
// configs): nested objects, $defs and recursive $refs, combinators, mixed enums, formats, bounds, tuples. Each is named;
// `refused` marks those the engine must refuse with a 400 naming the keyword (they cannot be enforced).
// Used by scripts/guided-corpus.ts (--corpus audit); tests pick single entries by name.
type Schema = Record<string, unknown> | boolean

export interface AuditSchema {
  name: string
  schema: Schema
  /** The word the 400 must contain, for schemas the grammar cannot enforce. */
  refused?: string
}

const obj = (properties: Record<string, Schema>, required = Object.keys(properties), extra: Record<string, unknown> = {}) => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
  ...extra,
})
const nullable = (type: string, extra: Record<string, unknown> = {}) => ({type: [type, 'null'], ...extra})

export const JSON_SCHEMA_AUDIT_CORPUS: AuditSchema[] = [
  // Empty and boolean schemas.
  {name: 'empty', schema: {}},
  {name: 'true', schema: true},
  {name: 'false', schema: false, refused: 'no value matches'},
  {name: 'any-object', schema: {type: 'object'}},
  {name: 'any-array', schema: {type: 'array'}},
  {name: 'string-unbounded', schema: {type: 'string'}},
  {name: 'type-list', schema: {type: ['string', 'integer', 'boolean']}},
  // Nullable-style types.
  {name: 'nullable-string', schema: nullable('string', {maxLength: 8})},
  {name: 'nullable-integer-range', schema: nullable('integer', {minimum: 1, maximum: 5})},
  {name: 'nullable-object-fields', schema: obj({note: nullable('string', {maxLength: 5}), count: nullable('integer')})},
  {name: 'openapi-nullable', schema: {type: 'string', maxLength: 4, nullable: true}},
  {name: 'openapi-nullable-object', schema: obj({a: {type: 'integer', minimum: 0, maximum: 9, nullable: true}})},
  // OpenAI strict-mode tool parameters: every property required, optional ones nullable.
  {
    name: 'openai-strict-weather',
    schema: obj({
      location: {type: 'string', description: 'City and country e.g. Bogota, Colombia', maxLength: 12},
      units: {type: ['string', 'null'], enum: ['celsius', 'fahrenheit', null], description: 'Units the temperature will be returned in.'},
    }),
  },
  {
    name: 'openai-strict-nested',
    schema: obj({
      query: {type: 'string', maxLength: 10},
      filters: obj({from: nullable('string', {format: 'date'}), tags: {type: 'array', items: {type: 'string', maxLength: 4}, maxItems: 3}}),
      limit: {type: 'integer', minimum: 1, maximum: 50},
    }),
  },
  {name: 'openai-strict-no-params', schema: obj({})},
  {
    name: 'openai-strict-defs',
    schema: {
      ...obj({steps: {type: 'array', items: {$ref: '#/$defs/step'}, maxItems: 2}, final_answer: {type: 'string', maxLength: 8}}),
      $defs: {step: obj({explanation: {type: 'string', maxLength: 8}, output: {type: 'string', maxLength: 8}})},
    },
  },
  // pydantic v2 style: titles, $defs enums, Optional as anyOf with null and a default.
  {
    name: 'pydantic-user',
    schema: {
      $defs: {Role: {enum: ['admin', 'user', 'guest'], title: 'Role', type: 'string'}},
      properties: {
        name: {title: 'Name', type: 'string', maxLength: 10},
        age: {anyOf: [{type: 'integer', minimum: 0, maximum: 130}, {type: 'null'}], default: null, title: 'Age'},
        role: {$ref: '#/$defs/Role', default: 'user'},
      },
      required: ['name'],
      title: 'User',
      type: 'object',
    },
  },
  {
    name: 'pydantic-v1-allof-ref',
    schema: {
      definitions: {Color: {title: 'Color', enum: ['red', 'blue'], type: 'string'}},
      properties: {color: {allOf: [{$ref: '#/definitions/Color'}], description: 'the color'}},
      required: ['color'],
      type: 'object',
    },
  },
  {
    name: 'allof-merge',
    schema: {allOf: [{type: 'object', properties: {a: {type: 'integer'}}, required: ['a']}, {type: 'object', properties: {b: {type: 'boolean'}}, required: ['b']}]},
  },
  {name: 'allof-recursive-ref', schema: {definitions: {Node: {type: 'object', properties: {next: {allOf: [{$ref: '#/definitions/Node'}], description: 'next'}, v: {type: 'integer'}}, required: ['v']}}, $ref: '#/definitions/Node'}},
  {name: 'allof-conflict', schema: {allOf: [{type: 'object', properties: {a: {type: 'integer'}}}, {type: 'object', properties: {a: {type: 'string'}}}]}, refused: 'allOf'},
  {name: 'allof-closed-member', schema: {allOf: [{type: 'object', properties: {a: {type: 'integer'}}, additionalProperties: false}, {properties: {b: {type: 'integer'}}}]}, refused: 'additionalProperties'},
  {name: 'anyof-false-branch', schema: {anyOf: [false, {type: 'boolean'}]}},
  // Nested objects and arrays of objects.
  {name: 'nested-3', schema: obj({a: obj({b: obj({c: {type: 'integer', minimum: 0, maximum: 9}})})})},
  {name: 'array-of-objects', schema: {type: 'array', items: obj({id: {type: 'integer', minimum: 1, maximum: 99}, ok: {type: 'boolean'}}), minItems: 1, maxItems: 3}},
  {
    name: 'order',
    schema: obj({
      order_id: {type: 'string', format: 'uuid'},
      items: {type: 'array', items: obj({sku: {type: 'string', pattern: '^[A-Z]{3}-[0-9]{3}$'}, qty: {type: 'integer', minimum: 1, maximum: 9}}), minItems: 1, maxItems: 2},
      total: {type: 'number', minimum: 0, maximum: 1000},
    }),
  },
  // $defs / $ref, including recursive trees.
  {
    name: 'recursive-tree',
    schema: {
      $defs: {node: {type: 'object', properties: {value: {type: 'integer', minimum: 0, maximum: 9}, children: {type: 'array', items: {$ref: '#/$defs/node'}, maxItems: 2}}, required: ['value'], additionalProperties: false}},
      $ref: '#/$defs/node',
    },
  },
  {
    name: 'recursive-root-ref',
    schema: {type: 'object', properties: {name: {type: 'string', maxLength: 4}, sub: {anyOf: [{$ref: '#'}, {type: 'null'}]}}, required: ['name', 'sub'], additionalProperties: false},
  },
  {
    name: 'linked-list-definitions',
    schema: {definitions: {cell: {type: 'object', properties: {v: {type: 'boolean'}, next: {oneOf: [{$ref: '#/definitions/cell'}, {type: 'null'}]}}, required: ['v', 'next'], additionalProperties: false}}, $ref: '#/definitions/cell'},
  },
  {
    name: 'ref-chain',
    schema: {$defs: {a: {$ref: '#/$defs/b'}, b: {type: 'integer', minimum: 0, maximum: 3}}, ...obj({x: {$ref: '#/$defs/a'}})},
  },
  {name: 'recursive-required', schema: {$defs: {a: obj({x: {$ref: '#/$defs/a'}})}, $ref: '#/$defs/a'}, refused: 'no output that ends'},
  {name: 'recursive-array-min1', schema: {type: 'array', items: {$ref: '#'}, minItems: 1}, refused: 'no output that ends'},
  {name: 'ref-with-siblings', schema: {$defs: {s: {type: 'string'}}, ...obj({b: {$ref: '#/$defs/s', maxLength: 3, description: 'short'}})}},
  {name: 'ref-into-properties', schema: {type: 'object', properties: {a: {type: 'integer', minimum: 0, maximum: 5}, b: {$ref: '#/properties/a'}}, required: ['a', 'b'], additionalProperties: false}},
  {name: 'enum-with-type', schema: {type: 'integer', enum: [1, 'a', 2.5, 7]}},
  {name: 'enum-with-length', schema: {type: 'string', enum: ['abc', 'x', 'yz'], maxLength: 2}},
  {name: 'ref-self-only', schema: {$defs: {a: {$ref: '#/$defs/a'}}, $ref: '#/$defs/a'}, refused: 'admits no output'},
  {name: 'ref-dangling', schema: obj({x: {$ref: '#/$defs/missing'}}), refused: '$ref'},
  {name: 'ref-remote', schema: {$ref: 'https://example.com/schema.json'}, refused: '$ref'},
  // anyOf / oneOf / allOf.
  {name: 'anyof-scalars', schema: {anyOf: [{type: 'string', maxLength: 3}, {type: 'number'}, {type: 'null'}]}},
  {
    name: 'oneof-discriminated',
    schema: {
      oneOf: [
        obj({type: {const: 'cat'}, meows: {type: 'boolean'}}),
        obj({type: {const: 'dog'}, barks: {type: 'integer', minimum: 0, maximum: 5}}),
      ],
    },
  },
  {name: 'anyof-objects-arrays', schema: {anyOf: [{type: 'array', items: {type: 'integer'}, maxItems: 2}, obj({k: {type: 'string', maxLength: 3}})]}},
  // enum / const of mixed types.
  {name: 'enum-mixed', schema: {enum: ['a', 1, 2.5, -0, true, false, null, '', {x: 1}, [1, 'b']]}},
  {name: 'enum-escapes', schema: {enum: ['quote"d', 'back\\slash', 'new\nline', 'tab\t', 'é ü', '😀']}},
  {name: 'const-null', schema: {const: null}},
  {name: 'const-number', schema: obj({version: {const: 2}, pi: {const: 3.14}})},
  {name: 'const-array', schema: {const: [1, 'a', {b: null}]}},
  // required subsets and additionalProperties.
  {name: 'required-none', schema: {type: 'object', properties: {a: {type: 'integer'}, b: {type: 'string', maxLength: 3}}, additionalProperties: false}},
  {name: 'required-subset', schema: {type: 'object', properties: {a: {type: 'integer'}, b: {type: 'boolean'}, c: {type: 'null'}, d: {type: 'string', maxLength: 2}}, required: ['b', 'd'], additionalProperties: false}},
  {name: 'additional-true', schema: {type: 'object', properties: {a: {type: 'boolean'}}, required: ['a'], additionalProperties: true}},
  {name: 'additional-schema', schema: {type: 'object', properties: {a: {type: 'boolean'}}, required: ['a'], additionalProperties: {type: 'integer', minimum: 0, maximum: 9}}},
  {name: 'additional-only-map', schema: {type: 'object', additionalProperties: {type: 'string', maxLength: 3}}},
  {name: 'property-false', schema: {type: 'object', properties: {a: {type: 'integer'}, secret: false}, required: ['a']}},
  {name: 'pattern-properties', schema: {type: 'object', patternProperties: {'^x_': {type: 'integer'}}}, refused: 'patternProperties'},
  {name: 'min-properties', schema: {type: 'object', properties: {a: {type: 'integer'}}, minProperties: 1}, refused: 'minProperties'},
  // Arrays: counts, uniqueness, tuples.
  {name: 'array-min-max', schema: {type: 'array', items: {type: 'string', maxLength: 2}, minItems: 2, maxItems: 4}},
  {name: 'array-exact', schema: {type: 'array', items: {type: 'boolean'}, minItems: 3, maxItems: 3}},
  {name: 'array-unique', schema: {type: 'array', items: {type: 'integer'}, uniqueItems: true}, refused: 'uniqueItems'},
  {name: 'array-unique-false', schema: {type: 'array', items: {type: 'integer', minimum: 0, maximum: 9}, uniqueItems: false, maxItems: 3}},
  {name: 'prefix-items-open', schema: {type: 'array', prefixItems: [{type: 'string', format: 'date'}, {type: 'number'}]}},
  {name: 'prefix-items-closed', schema: {type: 'array', prefixItems: [{const: 'point'}, {type: 'integer'}, {type: 'integer'}], items: false}},
  {name: 'prefix-items-rest', schema: {type: 'array', prefixItems: [{type: 'boolean'}], items: {type: 'null'}, maxItems: 3}},
  {name: 'draft4-tuple-items', schema: {type: 'array', items: [{type: 'integer'}, {type: 'string'}]}, refused: 'items'},
  {name: 'contains', schema: {type: 'array', contains: {const: 1}}, refused: 'contains'},
  // Strings: lengths, patterns, formats.
  {name: 'string-min-max', schema: {type: 'string', minLength: 3, maxLength: 5}},
  {name: 'string-min-only', schema: {type: 'string', minLength: 2}},
  {name: 'string-long-max', schema: {type: 'string', maxLength: 40}},
  {name: 'pattern-unanchored', schema: {type: 'string', pattern: '[a-z]+'}},
  {name: 'pattern-classes', schema: {type: 'string', pattern: '^\\d{3}-\\w{2}\\s?[A-F0-9]{2}$'}},
  {name: 'pattern-alternation', schema: {type: 'string', pattern: '^(foo|ba[rz])(-[0-9]+)?$'}},
  {name: 'pattern-phone', schema: obj({phone: {type: 'string', pattern: '^\\+?[1-9]\\d{1,14}$'}})},
  {name: 'pattern-dot', schema: obj({s: {type: 'string', pattern: '^a.{1,4}z$'}})},
  {name: 'pattern-negated-class', schema: {type: 'string', pattern: '^[^@]{1,8}@[^@]{1,8}$'}},
  {name: 'pattern-any-char', schema: {type: 'string', pattern: '^[\\s\\S]{2,6}$'}},
  {name: 'pattern-quote-literal', schema: {type: 'string', pattern: '^say "[a-z]{1,5}"$'}},
  {name: 'pattern-printable', schema: {type: 'string', pattern: '^[ -~]{1,10}$'}},
  {name: 'pattern-lookahead', schema: {type: 'string', pattern: '^(?=.*[A-Z]).{8,}$'}, refused: 'Lookahead'},
  {name: 'pattern-unicode-property', schema: {type: 'string', pattern: '^\\p{L}+$'}, refused: 'Unicode property'},
  {name: 'pattern-unicode', schema: {type: 'string', pattern: '^[\\u00C0-\\u00FF]{1,3}$'}},
  {name: 'format-date', schema: obj({d: {type: 'string', format: 'date'}})},
  {name: 'format-date-time', schema: obj({at: {type: 'string', format: 'date-time'}})},
  {name: 'format-time', schema: {type: 'string', format: 'time'}},
  {name: 'format-email', schema: obj({email: {type: 'string', format: 'email'}})},
  {name: 'format-uuid', schema: {type: 'string', format: 'uuid'}},
  {name: 'format-uri', schema: obj({url: {type: 'string', format: 'uri'}})},
  {name: 'format-ipv4', schema: obj({ip: {type: 'string', format: 'ipv4'}})},
  {name: 'format-ipv6', schema: {type: 'string', format: 'ipv6'}},
  {name: 'format-hostname', schema: {type: 'string', format: 'hostname'}},
  {name: 'format-unknown', schema: {type: 'string', format: 'credit-card'}, refused: 'credit-card'},
  // Numbers: ranges, exclusive bounds, multipleOf.
  {name: 'integer-exclusive', schema: {type: 'integer', exclusiveMinimum: 0, exclusiveMaximum: 10}},
  {name: 'integer-min-only', schema: {type: 'integer', minimum: 100}},
  {name: 'integer-max-negative', schema: {type: 'integer', maximum: -100}},
  {name: 'number-exclusive', schema: {type: 'number', exclusiveMinimum: -1, exclusiveMaximum: 1}},
  {name: 'number-fraction-bounds', schema: {type: 'number', minimum: 0.001, maximum: 0.002}},
  {name: 'number-large-range', schema: {type: 'number', minimum: -1e6, maximum: 1e6}},
  {name: 'draft4-exclusive', schema: {type: 'number', minimum: 0, exclusiveMinimum: true, maximum: 5, exclusiveMaximum: true}},
  {name: 'number-no-bounds-object', schema: obj({lat: {type: 'number', minimum: -90, maximum: 90}, lon: {type: 'number', minimum: -180, maximum: 180}})},
  {name: 'integer-multiple-of', schema: {type: 'integer', multipleOf: 5}, refused: 'multipleOf'},
  {name: 'number-multiple-of', schema: {type: 'number', multipleOf: 0.5}, refused: 'multipleOf'},
  {name: 'bounds-empty', schema: {type: 'integer', minimum: 5, maximum: 4}, refused: 'bounds'},
  // Conditionals and other keywords that no grammar here enforces.
  {name: 'if-then', schema: {type: 'object', if: {properties: {a: {const: 1}}}, then: {required: ['b']}}, refused: 'if'},
  {name: 'not', schema: {not: {type: 'string'}}, refused: 'not'},
  {name: 'dependent-required', schema: {type: 'object', properties: {a: {type: 'integer'}, b: {type: 'integer'}}, dependentRequired: {a: ['b']}}, refused: 'dependentRequired'},
  {name: 'property-names', schema: {type: 'object', propertyNames: {pattern: '^[a-z]+$'}}, refused: 'propertyNames'},
  // Draft-07 document style (JSONSchemaBench's GitHub configs).
  {
    name: 'github-config',
    schema: {
      $schema: 'http://json-schema.org/draft-07/schema#',
      $id: 'https://example.com/config.schema.json',
      title: 'Config',
      type: 'object',
      definitions: {level: {type: 'string', enum: ['debug', 'info', 'warn', 'error']}},
      properties: {
        name: {type: 'string', maxLength: 8},
        version: {type: 'string', pattern: '^[0-9]+\\.[0-9]+\\.[0-9]+$'},
        log: {$ref: '#/definitions/level'},
        plugins: {type: 'array', items: {type: 'string', maxLength: 5}, maxItems: 2},
        strict: {type: 'boolean', default: false},
      },
      required: ['name', 'version'],
      additionalProperties: false,
    },
  },
]
