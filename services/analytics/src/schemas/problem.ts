import Type from 'typebox'

/** RFC 9457 body of every error (packages/kit/src/problem.ts). */
export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    requestId: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String({ description: 'e.g. /querystring/from' }), message: Type.String() }))),
  },
  { $id: 'Problem', description: 'application/problem+json' },
)

/** Error responses every read endpoint declares. */
export const errorResponses = {
  400: Type.Ref('Problem', { description: 'A parameter is invalid; `errors[].path` names it' }),
  401: Type.Ref('Problem', { description: 'READ_TOKENS is set and the request has no valid Bearer token' }),
}
