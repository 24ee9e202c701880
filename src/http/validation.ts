import type { OpenAPIHonoOptions } from '@hono/zod-openapi';
import type { Env } from 'hono';
import type { core, ZodType } from 'zod';
import { AppError } from '../errors.js';
import { errorResponse } from './errors.js';

/**
 * An issue as reported. A value that fits none of a union's options is reported by the one option
 * it has the shape of (the only one not refusing its type or value outright), so `{"for": "soon"}`
 * is told `remember.for: …` rather than `remember: Invalid input`.
 */
function reported(issue: core.$ZodIssue, prefix: PropertyKey[] = []): Array<{ path: string; message: string }> {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'invalid_union') {
    const typed = issue.errors.filter(
      (option) =>
        !option.some(
          (inner) => (inner.code === 'invalid_type' || inner.code === 'invalid_value') && inner.path.length === 0,
        ),
    );
    if (typed.length === 1) return typed[0].flatMap((inner) => reported(inner, path));
  }
  return [{ path: path.map(String).join('.'), message: issue.message }];
}

/**
 * Our 400 for a request that fails its schema: `details` names each field and what was wrong with
 * it (the default hook would answer zod's raw result).
 */
export const validationHook: NonNullable<OpenAPIHonoOptions<Env>['defaultHook']> = (result, c) => {
  if (result.success) return;
  const details = result.error.issues.flatMap((issue) => reported(issue));
  const summary = details
    .map((detail) => (detail.path ? `${detail.path}: ${detail.message}` : detail.message))
    .join('; ');
  return errorResponse(c, new AppError('invalid_request', `Invalid request: ${summary}`, details));
};

/**
 * The hook of a route whose JSON body is one of several shapes: `shapeOf` names the shape a body
 * means, and the details are that shape's issues, as for any other body (a union alone reports one
 * "Invalid input" at the root, naming no field).
 */
export function oneOfShapesHook(shapeOf: (body: unknown) => ZodType): typeof validationHook {
  return (result, c) => {
    if (result.success || result.target !== 'json') return validationHook(result, c);
    // The validator hands the hook the body it checked; the type of the hook's argument omits it.
    const { data } = result as { data?: unknown };
    const chosen = shapeOf(data).safeParse(data);
    return validationHook(chosen.success ? result : { ...result, error: chosen.error }, c);
  };
}
