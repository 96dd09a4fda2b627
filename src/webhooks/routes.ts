import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { userIdOf } from '../http/auth-plugin.js';
import { problemResponses } from '../http/problem.js';
import { IdParams, Nullable, Page, PageQuery } from '../http/schemas.js';
import { WEBHOOK_EVENTS, type WebhookService } from './service.js';

const tags = ['webhooks'];

const EventName = Type.Union(
  WEBHOOK_EVENTS.map((e) => Type.Literal(e)),
  { description: 'An event a webhook can subscribe to' },
);

const Webhook = Type.Object({
  id: Type.String({ format: 'uuid' }),
  url: Type.String(),
  events: Type.Array(Type.String()),
  created_at: Type.String({ format: 'date-time' }),
  disabled_at: Nullable(Type.String({ format: 'date-time' })),
});

const CreatedWebhook = Type.Object({
  ...Webhook.properties,
  secret: Type.String({
    description: 'The signing secret (whsec_…, Standard Webhooks). Shown only in this response: store it now.',
  }),
});

const Delivery = Type.Object({
  id: Type.String({ format: 'uuid' }),
  webhook_id: Type.String({ format: 'uuid' }),
  event: Type.String(),
  message_id: Type.String({ description: 'The webhook-id header; the same on every retry' }),
  status: Type.Union([Type.Literal('pending'), Type.Literal('delivered'), Type.Literal('failed')]),
  attempts: Type.Integer(),
  last_status_code: Nullable(Type.Integer()),
  last_error: Nullable(Type.String()),
  next_attempt_at: Type.String({ format: 'date-time' }),
  created_at: Type.String({ format: 'date-time' }),
  delivered_at: Nullable(Type.String({ format: 'date-time' })),
});

/** Mounted under /api/v1/webhooks inside an authenticated scope. */
export const webhookRoutes: FastifyPluginAsyncTypebox<{ webhooks: WebhookService }> = async (app, { webhooks }) => {
  app.post(
    '/',
    {
      schema: {
        tags,
        summary: 'Register a webhook',
        description:
          'Events are POSTed as JSON `{type, timestamp, data}` and signed per Standard Webhooks ' +
          '(webhook-id, webhook-timestamp, webhook-signature headers). The URL must be public http(s).',
        body: Type.Object({
          url: Type.String({ minLength: 1, maxLength: 2048 }),
          events: Type.Array(EventName, { minItems: 1, maxItems: WEBHOOK_EVENTS.length, uniqueItems: true }),
        }),
        response: { 201: CreatedWebhook, ...problemResponses(400, 401, 409, 422) },
      },
    },
    async (request, reply) => {
      const created = await webhooks.create(userIdOf(request), request.body);
      return reply.code(201).send(created);
    },
  );

  app.get(
    '/',
    {
      schema: {
        tags,
        summary: 'List your webhooks (without their secrets)',
        response: { 200: Type.Object({ items: Type.Array(Webhook) }), ...problemResponses(401) },
      },
    },
    async (request) => ({ items: await webhooks.list(userIdOf(request)) }),
  );

  app.delete(
    '/:id',
    {
      schema: {
        tags,
        summary: 'Delete a webhook and its delivery log',
        params: IdParams,
        response: { 204: Type.Null(), ...problemResponses(401, 404, 422) },
      },
    },
    async (request, reply) => {
      await webhooks.delete(userIdOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/:id/deliveries',
    {
      schema: {
        tags,
        summary: "A webhook's deliveries, newest first",
        params: IdParams,
        querystring: PageQuery,
        response: { 200: Page(Delivery), ...problemResponses(401, 404, 422) },
      },
    },
    async (request) =>
      webhooks.deliveries(userIdOf(request), request.params.id, {
        limit: request.query.limit,
        cursor: request.query.cursor,
      }),
  );
};
