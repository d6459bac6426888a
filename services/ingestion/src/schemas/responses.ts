import Type from 'typebox'

/** Response shapes shared by the write routes (OpenAPI and serialisation). */

export const FieldError = Type.Object({ path: Type.String(), message: Type.String() })

export const Rejection = Type.Object({
  index: Type.Integer({ description: 'Position of the event in the request' }),
  eventId: Type.Union([Type.String(), Type.Null()], { description: 'Its id, when it had a usable one' }),
  errors: Type.Array(FieldError),
})

export const Accepted = Type.Object(
  {
    accepted: Type.Integer({ description: 'Events newly stored in JetStream' }),
    duplicates: Type.Integer({ description: 'Events already stored (same source and id), including repeats inside this request' }),
    rejected: Type.Array(Rejection),
  },
  { $id: 'Accepted' },
)

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    requestId: Type.String(),
    errors: Type.Optional(Type.Array(FieldError)),
    rejected: Type.Optional(Type.Array(Rejection)),
    limit: Type.Optional(Type.Number({ description: 'The limit that was exceeded' })),
  },
  { description: 'RFC 9457 problem details' },
)

/** The error responses every write route may give, besides its own. */
export const writeErrors = {
  400: Problem,
  401: Problem,
  413: Problem,
  415: Problem,
  429: Problem,
  503: Problem,
}

/** A rejection as the client sees it (the reason and source stay in metrics). */
export function publicRejection(r: { index: number; eventId: string | null; errors: { path: string; message: string }[] }) {
  return { index: r.index, eventId: r.eventId, errors: r.errors }
}
