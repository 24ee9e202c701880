import type { OpenAPIHonoOptions } from '@hono/zod-openapi';
import type { Env } from 'hono';
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
