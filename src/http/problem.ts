import { Type, type Static } from 'typebox';

/** RFC 9457 problem details, plus our stable `code` and the request id. */
export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String({ description: 'A stable code from the error list (README, "Error codes")' }),
    request_id: Type.String(),
    errors: Type.Optional(
      Type.Array(Type.Object({ field: Type.String(), message: Type.String() })),
    ),
  },
  { description: 'An error, as application/problem+json' },
);
export type Problem = Static<typeof Problem>;

const ProblemResponse = {
  description: 'An error',
  content: { 'application/problem+json': { schema: Problem } },
};

/** Response schemas for the error statuses a route can answer with. */
export function problemResponses(...statuses: number[]): Record<number, typeof ProblemResponse> {
  const out: Record<number, typeof ProblemResponse> = {};
  for (const status of statuses) out[status] = ProblemResponse;
  return out;
}
