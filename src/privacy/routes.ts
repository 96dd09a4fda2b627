import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { userIdOf } from '../http/auth-plugin.js';
import { problemResponses } from '../http/problem.js';
import { MAX_TERMS, TERM_MAX_LENGTH, TERM_MIN_LENGTH, type PrivacyTermsService } from './terms.js';

const tags = ['privacy'];

const TermList = Type.Object({
  terms: Type.Array(Type.String({ minLength: TERM_MIN_LENGTH, maxLength: TERM_MAX_LENGTH }), {
    maxItems: MAX_TERMS,
    description:
      'Names and other words to redact as `<NAME_n>` before a provider sees them: whole words, any case. ' +
      `At most ${MAX_TERMS}, each ${TERM_MIN_LENGTH}–${TERM_MAX_LENGTH} characters once trimmed; repeats are kept once.`,
  }),
});

/** Mounted under /api/v1/privacy inside an authenticated scope. */
export const privacyRoutes: FastifyPluginAsyncTypebox<{ terms: PrivacyTermsService }> = async (app, { terms }) => {
  app.get(
    '/terms',
    {
      schema: {
        tags,
        summary: 'Your sensitive terms, redacted like e-mails and card numbers',
        response: { 200: TermList, ...problemResponses(401) },
      },
    },
    async (request) => ({ terms: await terms.list(userIdOf(request)) }),
  );

  app.put(
    '/terms',
    {
      schema: {
        tags,
        summary: 'Replace your list of sensitive terms',
        body: TermList,
        response: { 200: TermList, ...problemResponses(401, 422) },
      },
    },
    async (request) => ({ terms: await terms.replace(userIdOf(request), request.body.terms) }),
  );
};
