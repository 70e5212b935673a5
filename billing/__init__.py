"""billing: firms' subscriptions, billed through Stripe (public schema).

Plans, the firm's Stripe customer and subscription, invoices, and the signed webhooks that keep
them current. Billing never stops a site's public intake.
"""
