import Type from 'typebox'

export const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Union([schema, Type.Null()])

/** The range an answer covers, echoed back. */
export const RangeEcho = {
  from: Type.String({ format: 'date-time', description: 'Start of the range (inclusive)' }),
  to: Type.String({ format: 'date-time', description: 'End of the range (exclusive)' }),
  source: Nullable(Type.String({ description: 'The source filter, null for all sources' })),
}

export const Limit = (fallback: number, max: number) =>
  Type.Optional(Type.Integer({ minimum: 1, maximum: max, default: fallback, description: `How many rows (default ${fallback}, at most ${max})` }))
