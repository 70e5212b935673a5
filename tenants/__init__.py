"""tenants: who the customers are and who may do what where.

Firms (the subscribers), their regions (片区), their sites (one hospital or care home each, one
PostgreSQL schema each) and the domains sites are served on; people (one login across the
platform) and the roles they hold on a firm, a region or a site. All of it lives in the public
schema. The middleware that picks a site from the request's host is here too.
"""
