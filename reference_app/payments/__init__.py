"""The payments service: idempotent authorise/capture/void/refund."""
