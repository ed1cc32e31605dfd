"""Performance indicators (绩效评价): one definition per indicator, targets, reports, drill-down."""
