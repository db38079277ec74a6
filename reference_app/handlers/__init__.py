"""Lambda-style DynamoDB Streams handlers of the checkout saga and the read views.

One module per Lambda function, each exposing `handler(event, context)`:

| function | module | stream |
|---|---|---|
| shop-inventory | `inventory` | shop-orders |
| shop-payment | `payment` | shop-orders |
| shop-order-completion | `order_completion` | shop-orders |
| shop-second-look | `second_look` | shop-payments |
| shop-weekly-view | `weekly_view` | shop-reviews |

See `common` for batch semantics (partial batch responses) and docs/shop.md, "Stream handlers".
"""

# Lambda function name -> Lambda `Handler` setting (module path + "." + function).
HANDLERS = {
    "shop-inventory": "reference_app.handlers.inventory.handler",
    "shop-payment": "reference_app.handlers.payment.handler",
    "shop-order-completion": "reference_app.handlers.order_completion.handler",
    "shop-second-look": "reference_app.handlers.second_look.handler",
    "shop-weekly-view": "reference_app.handlers.weekly_view.handler",
}
