{#- Current state per Stripe subscription, chosen by Stripe's own clock: the
    snapshot of the newest event `created`, never the newest arrival. Stripe's
    `created` has one-second resolution, so within a second a deletion beats an
    update beats a creation, then landing order (landing_id: the later delivery is the
    newer state; event ids are random, not ordered), then the event id. -#}
{{ config(contract={'enforced': target.type != 'spark'}) }}
with

subscription_snapshots as (
    select * from {{ ref('stg_stripe__subscriptions') }}
),

identity_link as (
    select
        identity_key,
        person_id
    from {{ ref('identity_link') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by subscription_id
            order by
                event_created_at desc nulls last,
                case stripe_event_type
                    when 'customer.subscription.deleted' then 3
                    when 'customer.subscription.created' then 1
                    when 'customer.subscription.trial_will_end' then 0
                    else 2
                end desc,
                landing_id desc,
                stripe_event_id desc
        ) as recency_rank,
        min(event_created_at) over (partition by subscription_id) as first_event_at
    from subscription_snapshots
    where subscription_id is not null
),

newest as (
    select * from ranked
    where recency_rank = 1
),

final as (
    select
        newest.subscription_id,
        coalesce(by_customer.person_id, by_metadata.person_id) as person_id,
        newest.customer_id,
        newest.status,
        newest.status in ('active', 'past_due', 'trialing') as is_active,
        newest.status in ('active', 'past_due') as is_paying,
        newest.price_id,
        newest.product_id,
        coalesce(newest.plan_name, newest.price_id) as plan,
        newest.plan_interval,
        newest.quantity,
        newest.unit_amount_cents,
        newest.currency,
        case when newest.status in ('active', 'past_due') then newest.list_mrr_cents else 0 end as mrr_cents,
        newest.current_period_start_at,
        newest.current_period_end_at,
        newest.cancel_at_period_end,
        newest.canceled_at,
        newest.ended_at,
        coalesce(newest.subscription_created_at, newest.first_event_at) as started_at,
        newest.event_created_at as updated_at,
        newest.stripe_event_id as last_stripe_event_id
    from newest
    left join identity_link as by_customer
        on by_customer.identity_key = {{ identity_key('stripe_customer', 'newest.customer_id') }}
    left join identity_link as by_metadata
        on by_metadata.identity_key = {{ identity_key('person_id', 'newest.metadata_person_id') }}
)

select * from final
