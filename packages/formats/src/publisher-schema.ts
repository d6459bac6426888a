import Type, { type TSchema } from 'typebox'

/** Building blocks of the publisher's Facebook and TikTok events (formats.md §1). */

export const IsoTime = Type.String({ format: 'date-time', description: 'ISO-8601' })
export const Id = Type.String({ minLength: 1, maxLength: 256 })
export const Name = Type.String({ minLength: 1, maxLength: 256 })
export const MoneyString = Type.String({
  pattern: '^\\s*\\d{1,15}(\\.\\d{1,6})?\\s*$',
  description: 'A non-negative amount as a string, e.g. "129.99"',
})

export function Nullable<T extends TSchema>(schema: T) {
  return Type.Union([schema, Type.Null()])
}

export const EventId = Type.String({ minLength: 1, maxLength: 128, description: 'The dedupe key together with source' })

/** The frame every publisher event shares; data is given per source and stage. */
export function publisherEvent<D extends TSchema>(source: string, stage: TSchema, eventTypes: readonly string[], data: D, id: string) {
  return Type.Object(
    {
      eventId: EventId,
      timestamp: IsoTime,
      source: Type.Literal(source),
      funnelStage: stage,
      eventType: Type.Enum([...eventTypes]),
      data,
    },
    { $id: id },
  )
}
