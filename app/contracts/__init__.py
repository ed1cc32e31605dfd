"""Family-doctor signing (家庭医生签约): service packages, contracts, entitlements and delivery (履约)."""
