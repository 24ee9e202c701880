import { describe, expect, it } from 'vitest';
import { validateArguments } from '../../src/tools/validate-arguments.js';

describe('validateArguments: the JSON Schema of a tool, issues named by field', () => {
  it('nested fields, missing and unknown ones, and names holding "/" or "~"', async () => {
    const schema = {
      type: 'object',
      properties: {
        edits: {
          type: 'array',
          items: {
            type: 'object',
            properties: { oldText: { type: 'string' }, newText: { type: 'string' } },
            required: ['oldText', 'newText'],
          },
        },
        'a/b~c': { type: 'integer', minimum: 1 },
      },
      required: ['edits'],
      additionalProperties: false,
    };
    expect(await validateArguments(schema, { edits: [{ oldText: 'a', newText: 'b' }], 'a/b~c': 2 })).toEqual([]);
    expect(await validateArguments(schema, { edits: [{ oldText: 'a' }], 'a/b~c': 0, extra: true })).toEqual([
      { path: 'extra', message: 'is not an argument the tool takes' },
      { path: 'edits.0.newText', message: 'is required' },
      { path: 'a/b~c', message: 'must be >= 1' },
    ]);
  });

  it("reads draft-07 and 2020-12 schemas (MCP's default), formats included", async () => {
    const tuple = { type: 'object', properties: { pair: { prefixItems: [{ type: 'string' }], items: false } } };
    expect(await validateArguments(tuple, { pair: ['a', 'b'] })).toEqual([
      { path: 'pair', message: 'must NOT have more than 1 items' },
    ]);
    const draft7 = {
      $schema: 'http://json-schema.org/draft-07/schema#',
      type: 'object',
      properties: {
        pair: { items: [{ type: 'string' }], additionalItems: false },
        site: { type: 'string', format: 'uri' },
      },
    };
    expect(await validateArguments(draft7, { pair: ['a', 'b'], site: 'not a uri' })).toEqual([
      { path: 'pair', message: 'must NOT have more than 1 items' },
      { path: 'site', message: 'must match format "uri"' },
    ]);
  });

  it('a schema that cannot be compiled takes no arguments', async () => {
    const broken = { type: 'object', properties: { a: { $ref: '#/$defs/missing' } } };
    const issues = await validateArguments(broken, { a: 1 });
    expect(issues).toEqual([
      { path: '', message: expect.stringContaining("could not be checked against the tool's input schema") },
    ]);
  });
});
