"""The storefront service: catalog, carts (OCC), checkout, orders and admin endpoints."""
