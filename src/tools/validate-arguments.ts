import type { ErrorObject } from 'ajv';
import { lazy } from '../lazy.js';

/** What is wrong with arguments: `path` from their root, dot-separated (`edits.0.newText`; '' for the root). */
export interface ArgumentIssue {
  path: string;
  message: string;
}

// Ajv, as the MCP SDK uses it for tool results, loaded with the first edit. One instance per
// dialect: a schema that names draft-06 or draft-07 is read as such, any other as 2020-12 (MCP's default).
const loadValidators = lazy(async () => {
  // CommonJS modules whose `module.exports` is also their `default`: `.default.default` is the export
  // under every interop (Node, esbuild, vitest).
  const [ajv, ajv2020, formats] = await Promise.all([import('ajv'), import('ajv/dist/2020.js'), import('ajv-formats')]);
  const { default: Ajv } = ajv.default;
  const { default: Ajv2020 } = ajv2020.default;
  const { default: addFormats } = formats.default;
  const options = {
    strict: false,
    allErrors: true,
    validateSchema: false,
    validateFormats: true,
    logger: false as const,
  };
  const draft7 = new Ajv(options);
  const draft2020 = new Ajv2020(options);
  addFormats(draft7);
  addFormats(draft2020);
  return (schema: Record<string, unknown>) =>
    typeof schema.$schema === 'string' && /draft-0[67]/.test(schema.$schema) ? draft7 : draft2020;
});

const unescapePointer = (segment: string) => segment.replaceAll('~1', '/').replaceAll('~0', '~');

function issueOf(error: ErrorObject): ArgumentIssue {
  const path = error.instancePath.split('/').slice(1).map(unescapePointer);
  if (error.keyword === 'required')
    return { path: [...path, error.params.missingProperty].join('.'), message: 'is required' };
  if (error.keyword === 'additionalProperties') {
    return { path: [...path, error.params.additionalProperty].join('.'), message: 'is not an argument the tool takes' };
  }
  return { path: path.join('.'), message: error.message ?? `fails "${error.keyword}"` };
}

/**
 * What is wrong with `args` by the tool's input schema (JSON Schema): nothing when they fit. A
 * schema that cannot be compiled (or a runtime that forbids compiling, as Workers do) gives one
 * issue at the root: arguments that could not be checked are never taken.
 */
export async function validateArguments(
  schema: Record<string, unknown>,
  args: Record<string, unknown>,
): Promise<ArgumentIssue[]> {
  const ajv = (await loadValidators())(schema);
  try {
    const validate = ajv.compile(schema);
    if (validate(args)) return [];
    const issues: ArgumentIssue[] = (validate.errors ?? []).map(issueOf);
    const unique = new Map(issues.map((issue) => [`${issue.path}\u0000${issue.message}`, issue]));
    return [...unique.values()].slice(0, 20);
  } catch (error) {
    return [{ path: '', message: `could not be checked against the tool's input schema (${String(error)})` }];
  } finally {
    // Compiled schemas are cached by object, and every listing makes new ones.
    try {
      ajv.removeSchema(schema);
    } catch {}
  }
}
