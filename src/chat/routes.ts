import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { userIdOf } from '../http/auth-plugin.js';
import { problemResponses } from '../http/problem.js';
import { IdParams, Page, PageQuery } from '../http/schemas.js';
import { ChatMessage, ChatSession, ChatSessionWithMessages, CreateMessageBody, CreateSessionBody } from './schemas.js';
import type { ChatService } from './service.js';

const tags = ['chat'];

/** Mounted under /api/v1/chat inside an authenticated scope. */
export const chatRoutes: FastifyPluginAsyncTypebox<{ chat: ChatService }> = async (app, { chat }) => {
  app.post(
    '/sessions',
    {
      schema: {
        tags,
        summary: 'Start a chat session, optionally about a transcription',
        body: CreateSessionBody,
        response: { 201: ChatSession, ...problemResponses(401, 404, 422) },
      },
    },
    async (request, reply) => reply.code(201).send(await chat.createSession(userIdOf(request), request.body)),
  );

  app.get(
    '/sessions',
    {
      schema: {
        tags,
        summary: 'Your chat sessions, newest first',
        querystring: PageQuery,
        response: { 200: Page(ChatSession), ...problemResponses(401, 422) },
      },
    },
    async (request) => chat.listSessions(userIdOf(request), request.query),
  );

  app.get(
    '/sessions/:id',
    {
      schema: {
        tags,
        summary: 'A chat session with its messages, oldest first',
        params: IdParams,
        response: { 200: ChatSessionWithMessages, ...problemResponses(401, 404, 422) },
      },
    },
    async (request) => chat.getSession(userIdOf(request), request.params.id),
  );

  app.delete(
    '/sessions/:id',
    {
      schema: {
        tags,
        summary: 'Delete a chat session and its messages',
        params: IdParams,
        response: { 204: Type.Null(), ...problemResponses(401, 404, 422) },
      },
    },
    async (request, reply) => {
      await chat.deleteSession(userIdOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/sessions/:id/messages',
    {
      schema: {
        tags,
        summary: 'Add a message to a session',
        params: IdParams,
        body: CreateMessageBody,
        response: { 201: ChatMessage, ...problemResponses(401, 404, 422) },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await chat.addMessage(userIdOf(request), request.params.id, request.body)),
  );
};
