import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { userIdOf } from '../http/auth-plugin.js';
import { abortOnDisconnect } from '../http/sse.js';
import { problemResponses } from '../http/problem.js';
import { IdParams, Page } from '../http/schemas.js';
import type { CompletionService } from './completion.js';
import { LIMITS_DOC } from './completion-schemas.js';
import { ChatSession, ChatSessionWithMessages, CreateMessageBody, CreateSessionBody, MessageWithReply, SessionListQuery } from './schemas.js';
import type { ChatService } from './service.js';

const tags = ['chat'];

/** Mounted under /api/v1/chat inside an authenticated scope. */
export const chatRoutes: FastifyPluginAsyncTypebox<{ chat: ChatService; completion: CompletionService }> = async (
  app,
  { chat, completion },
) => {
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
        querystring: SessionListQuery,
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
        summary: 'Add a message to a session; a user message is answered by the assistant',
        description:
          'A `user` message gets an answer grounded in the session\'s transcript and history (returned as `reply` and ' +
          'stored after it) unless `reply` is false or no LLM provider is configured. `system` messages are refused: ' +
          'the instructions are the server\'s.' +
          LIMITS_DOC,
        params: IdParams,
        body: CreateMessageBody,
        response: { 201: MessageWithReply, ...problemResponses(401, 404, 409, 413, 422, 429, 502, 503, 504) },
      },
    },
    async (request, reply) => {
      const userId = userIdOf(request);
      const body = request.body;
      const answer = body.role === 'user' && (body.reply ?? completion.configured());
      if (!answer) {
        return reply.code(201).send({ ...(await chat.addMessage(userId, request.params.id, body)), reply: null });
      }
      const prepared = await completion.prepare(userId, {
        message: body.content,
        session_id: request.params.id,
        provider: body.provider,
        model: body.model,
        redact: body.redact,
      });
      const outcome = await completion.complete(prepared, abortOnDisconnect(reply));
      const [question, answerMessage] = await chat.messagesById(userId, [prepared.userMessageId, outcome.message_id]);
      return reply.code(201).send({ ...question!, reply: answerMessage ?? null });
    },
  );
};
