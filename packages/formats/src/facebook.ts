import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import { nativeEnvelope, setCountry, setRevenue, type NativeEvent } from './native-event.js'
import { rejected, type MapContext, type Mapped } from './mapped.js'
import { Id, IsoTime, MoneyString, Name, Nullable, publisherEvent } from './publisher-schema.js'
import { schemaErrors } from './schema-errors.js'

/**
 * The publisher's Facebook events (formats.md §1), validated strictly: every enum, the
 * event types of each funnel stage and that stage's engagement shape. Keys the format
 * does not name are tolerated and kept in data.
 */

export const FACEBOOK_TOP_TYPES = ['ad.view', 'page.like', 'comment', 'video.view'] as const
export const FACEBOOK_BOTTOM_TYPES = ['ad.click', 'form.submission', 'checkout.complete'] as const

const FacebookUser = Type.Object({
  userId: Id,
  name: Name,
  age: Type.Number({ minimum: 0, maximum: 150 }),
  gender: Type.Enum(['male', 'female', 'non-binary']),
  location: Type.Object({ country: Type.String({ maxLength: 256 }), city: Type.String({ maxLength: 256 }) }),
})

const TopEngagement = Type.Object({
  actionTime: IsoTime,
  referrer: Type.Enum(['newsfeed', 'marketplace', 'groups']),
  videoId: Nullable(Id),
})

const BottomEngagement = Type.Object({
  adId: Id,
  campaignId: Id,
  clickPosition: Type.Enum(['top_left', 'bottom_right', 'center']),
  device: Type.Enum(['mobile', 'desktop']),
  browser: Type.Enum(['Chrome', 'Firefox', 'Safari']),
  purchaseAmount: Nullable(MoneyString),
})

export const FacebookTopEvent = publisherEvent('facebook', Type.Literal('top'), FACEBOOK_TOP_TYPES, Type.Object({ user: FacebookUser, engagement: TopEngagement }), 'FacebookTopEvent')
export const FacebookBottomEvent = publisherEvent('facebook', Type.Literal('bottom'), FACEBOOK_BOTTOM_TYPES, Type.Object({ user: FacebookUser, engagement: BottomEngagement }), 'FacebookBottomEvent')
/** What an event with an unknown stage is checked against, to report every problem at once. */
const FacebookAnyStage = publisherEvent('facebook', Type.Enum(['top', 'bottom']), [...FACEBOOK_TOP_TYPES, ...FACEBOOK_BOTTOM_TYPES], Type.Object({ user: FacebookUser, engagement: Type.Object({}) }), 'FacebookEvent')

export type FacebookTopEvent = Static<typeof FacebookTopEvent>
export type FacebookBottomEvent = Static<typeof FacebookBottomEvent>

const top = Compile(FacebookTopEvent)
const bottom = Compile(FacebookBottomEvent)
const anyStage = Compile(FacebookAnyStage)

export const facebookExamples = {
  top: {
    eventId: 'fb-7f3a2c',
    timestamp: '2026-11-21T10:00:00.000Z',
    source: 'facebook',
    funnelStage: 'top',
    eventType: 'ad.view',
    data: {
      user: { userId: 'fbu-1', name: 'Ada Lovelace', age: 36, gender: 'female', location: { country: 'United Kingdom', city: 'London' } },
      engagement: { actionTime: '2026-11-21T09:59:58.000Z', referrer: 'newsfeed', videoId: null },
    },
  },
  bottom: {
    eventId: 'fb-9c1d44',
    timestamp: '2026-11-21T10:00:05.000Z',
    source: 'facebook',
    funnelStage: 'bottom',
    eventType: 'checkout.complete',
    data: {
      user: { userId: 'fbu-1', name: 'Ada Lovelace', age: 36, gender: 'female', location: { country: 'United Kingdom', city: 'London' } },
      engagement: { adId: 'ad-12', campaignId: 'cmp-3', clickPosition: 'center', device: 'desktop', browser: 'Firefox', purchaseAmount: '129.99' },
    },
  },
}

export function mapFacebookEvent(item: unknown, ctx: MapContext): Mapped {
  const stage = (item as { funnelStage?: unknown }).funnelStage
  const validator = stage === 'top' ? top : stage === 'bottom' ? bottom : undefined
  if (!validator || !validator.Check(item)) return rejected(schemaErrors(validator ?? anyStage, item))
  const e = item
  const mapped = nativeEnvelope(e as NativeEvent, ctx)
  if (!mapped.ok) return mapped
  const envelope = mapped.envelope
  const { user, engagement } = e.data
  envelope.user_id = user.userId
  setCountry(envelope, user.location.country)
  if (user.location.city.length > 0) envelope.city = user.location.city
  if ('campaignId' in engagement) {
    envelope.campaign_id = engagement.campaignId
    if (e.eventType === 'checkout.complete' && engagement.purchaseAmount !== null) setRevenue(envelope, engagement.purchaseAmount)
  }
  return mapped
}
