with

source as (
    select * from {{ source('tracking', 'click') }}
),

final as (
    select
        click_id,
        landing_id,
        received_at,
        clicked_at,
        nullif(btrim(person_id), '') as person_id,
        nullif(btrim(campaign_id), '') as campaign_id,
        nullif(btrim(funnel), '') as funnel,
        nullif(btrim(email_id), '') as email_id,
        destination_url,
        lower({{ regexp_extract_group('destination_url', '^[a-z]+://[^/?#]+([^?#]*)') }}) as destination_path,
        ip,
        user_agent,
        referrer,
        fbclid,
        utm,
        {{ json_get_text('utm', 'utm_campaign') }} as utm_campaign,
        is_bot,
        bot_reason
    from source
)

select * from final
