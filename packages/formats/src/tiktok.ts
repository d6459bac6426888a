import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import { nativeEnvelope, setCountry, setRevenue, type NativeEvent } from './native-event.js'
import { rejected, type MapContext, type Mapped } from './mapped.js'
import { Id, IsoTime, MoneyString, Name, Nullable, publisherEvent } from './publisher-schema.js'
import { schemaErrors } from './schema-errors.js'

/**
 * The publisher's TikTok events (formats.md §1), validated strictly like Facebook's.
 * TikTok carries a country only on top-funnel engagement, and no campaign.
 */

export const TIKTOK_TOP_TYPES = ['video.view', 'like', 'share', 'comment'] as const
export const TIKTOK_BOTTOM_TYPES = ['profile.visit', 'purchase', 'follow'] as const

const TiktokUser = Type.Object({
  userId: Id,
  username: Name,
  followers: Type.Number({ minimum: 0 }),
})

const TopEngagement = Type.Object({
  watchTime: Type.Number({ minimum: 0 }),
  percentageWatched: Type.Number({ minimum: 0, maximum: 100 }),
  device: Type.Enum(['Android', 'iOS', 'Desktop']),
  country: Type.String({ maxLength: 256 }),
  videoId: Id,
})

const BottomEngagement = Type.Object({
  actionTime: IsoTime,
  profileId: Nullable(Id),
  purchasedItem: Nullable(Type.String({ maxLength: 256 })),
  purchaseAmount: Nullable(MoneyString),
})

export const TiktokTopEvent = publisherEvent('tiktok', Type.Literal('top'), TIKTOK_TOP_TYPES, Type.Object({ user: TiktokUser, engagement: TopEngagement }), 'TiktokTopEvent')
export const TiktokBottomEvent = publisherEvent('tiktok', Type.Literal('bottom'), TIKTOK_BOTTOM_TYPES, Type.Object({ user: TiktokUser, engagement: BottomEngagement }), 'TiktokBottomEvent')
const TiktokAnyStage = publisherEvent('tiktok', Type.Enum(['top', 'bottom']), [...TIKTOK_TOP_TYPES, ...TIKTOK_BOTTOM_TYPES], Type.Object({ user: TiktokUser, engagement: Type.Object({}) }), 'TiktokEvent')

export type TiktokTopEvent = Static<typeof TiktokTopEvent>
export type TiktokBottomEvent = Static<typeof TiktokBottomEvent>

const top = Compile(TiktokTopEvent)
const bottom = Compile(TiktokBottomEvent)
const anyStage = Compile(TiktokAnyStage)

export const tiktokExamples = {
  top: {
    eventId: 'tt-51be07',
    timestamp: '2026-11-21T10:00:00.000Z',
    source: 'tiktok',
    funnelStage: 'top',
    eventType: 'video.view',
    data: {
      user: { userId: 'ttu-9', username: 'dance_fan', followers: 1200 },
      engagement: { watchTime: 14.5, percentageWatched: 72, device: 'iOS', country: 'Brazil', videoId: 'vid-77' },
    },
  },
  bottom: {
    eventId: 'tt-a0c3f1',
    timestamp: '2026-11-21T10:02:00.000Z',
    source: 'tiktok',
    funnelStage: 'bottom',
    eventType: 'purchase',
    data: {
      user: { userId: 'ttu-9', username: 'dance_fan', followers: 1200 },
      engagement: { actionTime: '2026-11-21T10:01:59.000Z', profileId: 'prof-3', purchasedItem: 'ring light', purchaseAmount: '24.90' },
    },
  },
}

export function mapTiktokEvent(item: unknown, ctx: MapContext): Mapped {
  const stage = (item as { funnelStage?: unknown }).funnelStage
  const validator = stage === 'top' ? top : stage === 'bottom' ? bottom : undefined
  if (!validator || !validator.Check(item)) return rejected(schemaErrors(validator ?? anyStage, item))
  const e = item
  const mapped = nativeEnvelope(e as NativeEvent, ctx)
  if (!mapped.ok) return mapped
  const envelope = mapped.envelope
  const { user, engagement } = e.data
  envelope.user_id = user.userId
  if ('country' in engagement) setCountry(envelope, engagement.country)
  else if (e.eventType === 'purchase' && engagement.purchaseAmount !== null) setRevenue(envelope, engagement.purchaseAmount)
  return mapped
}
