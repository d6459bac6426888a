import { liftDataColumns, nativeEnvelope, nativeEventValidator } from './native-event.js'
import { mapFacebookEvent } from './facebook.js'
import { mapTiktokEvent } from './tiktok.js'
import { isMarketplaceEventType, mapMarketplaceEvent } from './marketplace.js'
import { rejected, type MapContext, type Mapped } from './mapped.js'
import { schemaErrors } from './schema-errors.js'

/**
 * One item of a `POST /v1/events` body to the envelope. The publisher's Facebook and
 * TikTok events and the marketplace's event types meet their strict schemas; any other
 * event meets the native frame and keeps free-form data.
 */
export function mapNativeEvent(item: unknown, ctx: MapContext): Mapped {
  if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
    const source = (item as { source?: unknown }).source
    if (source === 'facebook') return mapFacebookEvent(item, ctx)
    if (source === 'tiktok') return mapTiktokEvent(item, ctx)
  }
  if (!nativeEventValidator.Check(item)) return rejected(schemaErrors(nativeEventValidator, item))
  if (isMarketplaceEventType(item.eventType)) return mapMarketplaceEvent(item, item.eventType, ctx)
  const mapped = nativeEnvelope(item, ctx)
  if (mapped.ok) liftDataColumns(mapped.envelope, mapped.envelope.data)
  return mapped
}

/** The eventId of a rejected item, when it had a usable one (for the response). */
export function nativeEventId(item: unknown): string | null {
  const id = item !== null && typeof item === 'object' ? (item as { eventId?: unknown }).eventId : undefined
  return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : null
}
