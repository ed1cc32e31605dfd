"""Maternal health management (孕产妇健康管理): a pregnancy from registration (建册) through the
antenatal visits, the delivery and the postpartum visits; its schedule; the babies' archives."""
