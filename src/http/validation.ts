import type { OpenAPIHonoOptions } from '@hono/zod-openapi';
import type { Env } from 'hono';
import type { ZodType } from 'zod';
import { AppError } from '../errors.js';
import { errorResponse } from './errors.js';

/**
 * Our 400 for a request that fails its schema: `details` names each field and what was wrong with
 * it (the default hook would answer zod's raw result).
 */
export const validationHook: NonNullable<OpenAPIHonoOptions<Env>['defaultHook']> = (result, c) => {
  if (result.success) return;
  const details = result.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
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
